/** BigInt-free ROL/ROR against a BigInt model, every size and count, with flags. */
import t from 'tap';
import { LazyFlags } from '../src/tcg-fallback/lazy-flags';
import { rotateFast } from '../src/tcg-fallback/rotate';

function model(ror: boolean, size: number, v: bigint, count: number): { r: bigint; cf: number; of: number } {
  const bits = BigInt(size * 8);
  const mask = (1n << bits) - 1n;
  const n = BigInt(count) % bits;
  const r = ror ? ((v >> n) | (v << (bits - n))) & mask : ((v << n) | (v >> (bits - n))) & mask;
  const msb = Number((r >> (bits - 1n)) & 1n);
  if (ror) return { r, cf: msb, of: msb ^ Number((r >> (bits - 2n)) & 1n) };
  const cf = Number(r & 1n);
  return { r, cf, of: msb ^ cf };
}

t.test('matches the model', async (t) => {
  const f = new LazyFlags();
  const samples = [0n, 1n, 0x80n, 0x8001n, 0x80000001n, 0x123456789abcdef0n, 0xffffffffffffffffn, 0x8000000000000000n, 0x7fn];
  let bad = 0;
  for (const size of [1, 2, 4, 8]) {
    const mask = (1n << BigInt(size * 8)) - 1n;
    for (const s of samples) {
      const v = s & mask;
      for (let count = 1; count < (size === 8 ? 64 : 32); count++) {
        for (const ror of [false, true]) {
          f.setEager(0x8d4); // SF ZF AF PF set: must be kept
          const lo = rotateFast(f, ror, size, Number(v & 0xffffffffn), Number(v >> 32n), count);
          const got = (BigInt(f.hi >>> 0) << 32n) | BigInt(lo >>> 0);
          const m = model(ror, size, v, count);
          const flags = f.arith();
          if (got !== m.r || (flags & 1) !== m.cf || ((flags >> 11) & 1) !== m.of || (flags & 0xd4) !== 0xd4) bad++;
        }
      }
    }
  }
  t.equal(bad, 0);
});

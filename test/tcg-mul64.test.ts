/** The BigInt-free 64-bit multiply against BigInt on edge and random operands. */
import t from 'tap';
import { multiplySigned64, multiplyUnsigned64, product } from '../src/tcg-fallback/mul64';

const MASK64 = (1n << 64n) - 1n;
const big = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const got = (): bigint => (BigInt(product[3]) << 96n) | (BigInt(product[2]) << 64n) | (BigInt(product[1]) << 32n) | BigInt(product[0]);

t.test('matches BigInt', async (t) => {
  const edge = [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x12345678];
  const pairs: [number, number][] = [];
  for (const lo of edge) for (const hi of edge) pairs.push([lo, hi]);
  let seed = 12345;
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  for (let k = 0; k < 300; k++) pairs.push([rnd(), rnd()]);
  let bad = 0;
  for (const [al, ah] of pairs) {
    for (let j = 0; j < 20; j++) {
      const [bl, bh] = pairs[(j * 37 + al) % pairs.length];
      const a = big(al, ah), b = big(bl, bh);
      multiplyUnsigned64(al, ah, bl, bh);
      if (got() !== a * b) bad++;
      const sa = BigInt.asIntN(64, a), sb = BigInt.asIntN(64, b);
      const sp = sa * sb;
      const overflow = multiplySigned64(al, ah, bl, bh);
      if (got() !== (sp & ((1n << 128n) - 1n)) || overflow !== (BigInt.asIntN(64, sp & MASK64) !== sp)) bad++;
    }
  }
  t.equal(bad, 0, 'no mismatches');
});

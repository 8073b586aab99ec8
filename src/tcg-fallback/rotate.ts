/**
 * ROL/ROR on 8/16/32/64-bit operands without BigInt (SHA-256/512 in the
 * kernel's certificate checks rotate constantly). Flags as the BigInt
 * reference in alu.ts: CF from the bit rotated in, OF from the top bits, the
 * other arithmetic flags kept; the high half of a 64-bit result in `f.hi`.
 */
import type { LazyFlags } from './lazy-flags';
import { FLAG_CF, FLAG_OF } from './cpu-constants';

/** `ror`: rotate right, else left. `count` is already masked to 5/6 bits and nonzero. */
export function rotateFast(f: LazyFlags, ror: boolean, size: number, a: number, ah: number, count: number): number {
  const bits = size * 8;
  const n = count % bits;
  let r: number, rh = 0;
  if (size === 8) {
    // Rotate right by n is rotate left by 64 - n.
    let left = ror ? (64 - n) % 64 : n;
    let lo = a >>> 0, hi = ah >>> 0;
    if (left >= 32) { const t = lo; lo = hi; hi = t; left -= 32; }
    if (left > 0) {
      const nhi = ((hi << left) | (lo >>> (32 - left))) >>> 0;
      lo = ((lo << left) | (hi >>> (32 - left))) >>> 0;
      hi = nhi;
    }
    r = lo; rh = hi;
  } else {
    const mask = size === 4 ? 0xffffffff : (1 << bits) - 1;
    const v = (a & mask) >>> 0;
    if (n === 0) r = v;
    else if (ror) r = (((v >>> n) | (v << (bits - n))) & mask) >>> 0;
    else r = (((v << n) | (v >>> (bits - n))) & mask) >>> 0;
  }
  const top = size === 8 ? rh : r;
  const topBit = size === 8 ? 31 : bits - 1;
  const msb = (top >>> topBit) & 1;
  let cf: number, of: number;
  if (ror) { cf = msb; of = msb ^ ((top >>> (topBit - 1)) & 1); }
  else { cf = r & 1; of = msb ^ cf; }
  const keep = f.arith() & ~(FLAG_CF | FLAG_OF);
  f.setEager(keep | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  f.hi = size === 8 ? rh : 0;
  return r;
}

/**
 * DIV/IDIV in doubles when the dividend is below 2^53 in magnitude: a double
 * holds it exactly, `%` on doubles is exact (it is fmod, and its sign follows
 * the dividend as IDIV's remainder does), and the quotient (n - r) / d is then
 * an exact integer. Linux divides such numbers nearly always (64-bit DIV with
 * RDX zero: timekeeping, do_div, sizes). Larger unsigned 64-bit dividends
 * take div-wide.ts, larger signed ones BigInt (Divider).
 */
import { SIZE_MASK } from './lazy-flags';
import { TWO_32 } from './cpu-constants';

const TWO_53 = 2 ** 53;
/** 2^(8 * size): the range of one operand half at each size. */
const HALF_RANGE = [0, 2 ** 8, 2 ** 16, 0, 2 ** 32];

/** Outcome of divideSmall: done (the result is in `out`), #DE, or not applicable (use BigInt). */
export const DIV_DONE = 1, DIV_FAULT = 0, DIV_LARGE = -1;

export interface DivResult { quot: number; quotHi: number; rem: number; remHi: number }

/** Sign-extends the `size`-byte value v (unsigned) to a signed number. */
function signed(v: number, size: number): number {
  return size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24;
}

/**
 * The dividend high:low as a double, or NaN when it may not be exact. Operands
 * are unsigned 32-bit halves, as Divider.divide takes them.
 */
function dividend(isSigned: boolean, size: number, lo: number, loHi: number, hi: number, hiHi: number): number {
  if (size === 8) {
    // 128-bit high:low: exact only when the high 64 bits just extend the low 64.
    const low = isSigned ? (loHi | 0) * TWO_32 + lo : loHi * TWO_32 + lo;
    const extension = isSigned && low < 0 ? 0xffffffff : 0;
    return hi === extension && hiHi === extension && Math.abs(low) < TWO_53 ? low : NaN;
  }
  const n = (isSigned ? signed(hi, size) : hi) * HALF_RANGE[size] + lo;
  return Math.abs(n) < TWO_53 ? n : NaN;
}

/** DIV/IDIV of high:low by d (see Divider.divide); DIV_LARGE when the dividend needs BigInt. */
export function divideSmall(isSigned: boolean, size: number, lo: number, loHi: number, hi: number, hiHi: number,
  d: number, dHi: number, out: DivResult): number {
  const n = dividend(isSigned, size, lo, loHi, hi, hiHi);
  if (Number.isNaN(n)) return DIV_LARGE;
  // A divisor past 2^53 may round, but it is then larger than |n| either way: quotient 0.
  const dv = size === 8 ? (isSigned ? (dHi | 0) : dHi) * TWO_32 + d : isSigned ? signed(d, size) : d;
  if (dv === 0) return DIV_FAULT;
  let q: number, r: number;
  if (Math.abs(dv) > Math.abs(n)) { q = 0; r = n; } else { r = n % dv; q = (n - r) / dv; }
  if (size === 8) {
    // |q| <= |n| < 2^53: no 64-bit quotient overflows.
    out.quot = q >>> 0; out.quotHi = Math.floor(q / TWO_32) >>> 0;
    out.rem = r >>> 0; out.remHi = Math.floor(r / TWO_32) >>> 0;
  } else {
    const range = HALF_RANGE[size];
    if (isSigned ? q < -range / 2 || q >= range / 2 : q >= range) return DIV_FAULT;
    out.quot = (q & SIZE_MASK[size]) >>> 0; out.quotHi = 0;
    out.rem = (r & SIZE_MASK[size]) >>> 0; out.remHi = 0;
  }
  return DIV_DONE;
}

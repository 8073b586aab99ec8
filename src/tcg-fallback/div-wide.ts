/**
 * Unsigned 128-by-64-bit DIV (RDX:RAX by a 64-bit operand) in 16-bit digits,
 * by long division (Knuth's algorithm D): every intermediate is an integer
 * below 2^34, exact in doubles and in 32-bit integer operations. Linux's
 * multi-precision division (mpihelp_divrem, RSA signature checks) divides
 * 128-bit numbers this way at every step, and through BigInt each took a
 * dozen allocations. Dividends below 2^53 take div-small.ts; signed ones past
 * it take BigInt.
 */
import type { DivResult } from './div-small';

const BASE = 65536;
/** Digits, least significant first: the dividend (one spare digit for normalising), the divisor, the quotient. */
const u = new Int32Array(9);
const v = new Int32Array(4);
const q = new Int32Array(8);

/** Leading zero bits of a nonzero 16-bit digit. */
function leadingZeros16(x: number): number {
  return Math.clz32(x) - 16;
}

/**
 * n3:n2:n1:n0 (32-bit digits, n3 most significant) divided by d1:d0, into
 * `out` (quotient and remainder halves). False when the divisor is zero or
 * the quotient does not fit in 64 bits (#DE).
 */
export function divideWide(n0: number, n1: number, n2: number, n3: number, d0: number, d1: number, out: DivResult): boolean {
  // #DE unless the dividend's high 64 bits are below the divisor (then the quotient fits in 64 bits).
  if ((d0 | d1) === 0 || n3 > d1 || (n3 === d1 && n2 >= d0)) return false;
  u[0] = n0 & 0xffff; u[1] = n0 >>> 16; u[2] = n1 & 0xffff; u[3] = n1 >>> 16;
  u[4] = n2 & 0xffff; u[5] = n2 >>> 16; u[6] = n3 & 0xffff; u[7] = n3 >>> 16; u[8] = 0;
  v[0] = d0 & 0xffff; v[1] = d0 >>> 16; v[2] = d1 & 0xffff; v[3] = d1 >>> 16;
  let n = 4;
  while (v[n - 1] === 0) n--;
  q.fill(0);
  if (n === 1) {
    // A one-digit divisor: short division, each step below 2^32.
    const d = v[0];
    let r = 0;
    for (let j = 7; j >= 0; j--) {
      const x = r * BASE + u[j];
      q[j] = Math.floor(x / d);
      r = x - q[j] * d;
    }
    return finish(out, r, 0);
  }
  // Normalise: shift both so the divisor's top digit has its high bit set (the estimates below are then off by at most 2).
  const s = leadingZeros16(v[n - 1]);
  for (let i = n - 1; i > 0; i--) v[i] = ((v[i] << s) | (v[i - 1] >>> (16 - s))) & 0xffff;
  v[0] = (v[0] << s) & 0xffff;
  u[8] = u[7] >>> (16 - s);
  for (let i = 7; i > 0; i--) u[i] = ((u[i] << s) | (u[i - 1] >>> (16 - s))) & 0xffff;
  u[0] = (u[0] << s) & 0xffff;
  const top = v[n - 1], second = v[n - 2];
  for (let j = 8 - n; j >= 0; j--) {
    // Estimate this quotient digit from the top two digits, then correct it with the third.
    const num = u[j + n] * BASE + u[j + n - 1];
    let qhat = Math.floor(num / top);
    let rhat = num - qhat * top;
    while (qhat >= BASE || qhat * second > rhat * BASE + u[j + n - 2]) {
      qhat--;
      rhat += top;
      if (rhat >= BASE) break;
    }
    // Subtract qhat times the divisor from the current window.
    let borrow = 0;
    for (let i = 0; i < n; i++) {
      const p = qhat * v[i];
      const t = u[i + j] - borrow - (p & 0xffff);
      u[i + j] = t & 0xffff;
      borrow = Math.floor(p / BASE) - (t >> 16);
    }
    const t = u[j + n] - borrow;
    u[j + n] = t;
    if (t < 0) {
      // qhat was one too large: add the divisor back.
      qhat--;
      let carry = 0;
      for (let i = 0; i < n; i++) {
        const sum = u[i + j] + v[i] + carry;
        u[i + j] = sum & 0xffff;
        carry = sum >>> 16;
      }
      u[j + n] = (u[j + n] + carry) & 0xffff;
    }
    q[j] = qhat;
  }
  // The remainder is the low n digits, shifted back.
  const r0 = remainderDigit(0, n, s), r1 = remainderDigit(1, n, s), r2 = remainderDigit(2, n, s), r3 = remainderDigit(3, n, s);
  return finish(out, (r0 | (r1 << 16)) >>> 0, (r2 | (r3 << 16)) >>> 0);
}

/** Digit i of the remainder: u's low n digits after the division, shifted back by the normalising shift s. */
function remainderDigit(i: number, n: number, s: number): number {
  return i < n ? ((u[i] >>> s) | (u[i + 1] << (16 - s))) & 0xffff : 0;
}

function finish(out: DivResult, rem: number, remHi: number): boolean {
  out.quot = (q[0] | (q[1] << 16)) >>> 0;
  out.quotHi = (q[2] | (q[3] << 16)) >>> 0;
  out.rem = rem;
  out.remHi = remHi;
  return true;
}

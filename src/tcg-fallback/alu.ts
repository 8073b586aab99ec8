/**
 * Integer arithmetic on 8/16/32/64-bit operands. Values are unsigned 32-bit
 * numbers; 64-bit operands are (lo, hi) pairs and the high half of a 64-bit
 * result comes back in `flags.hi`. Flags are recorded lazily where possible.
 */
import {
  LazyFlags, LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, SIZE_MASK, SIGN_BIT, resultFlags,
} from './lazy-flags';
import { FLAG_CF, FLAG_OF, TWO_32 } from './cpu-constants';
import { multiplySigned64, multiplyUnsigned64, product } from './mul64';
import { rotateFast } from './rotate';
import { DIV_DONE, DIV_LARGE, divideSmall } from './div-small';
import { divideWide } from './div-wide';

/** The BigInt 64-bit multiply below stays as the reference; this switch selects the fast one. */
const MUL64_FAST = true;

/** Group-1 operations in ModRM.reg / opcode-row order. */
export const ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7;

export function aluBinary(f: LazyFlags, op: number, size: number, a: number, ah: number, b: number, bh: number): number {
  const mask = SIZE_MASK[size];
  // High halves are meaningless below 64 bits (callers may pass stale values); the lazy flags compare them.
  if (size !== 8) { ah = 0; bh = 0; }
  let r: number;
  let rh = 0;
  switch (op) {
    case ALU_ADD: case ALU_ADC: {
      const cin = op === ALU_ADC && f.cf() ? 1 : 0;
      if (size === 8) {
        const lo = (a >>> 0) + (b >>> 0) + cin;
        r = lo >>> 0;
        rh = ((ah >>> 0) + (bh >>> 0) + (lo >= TWO_32 ? 1 : 0)) >>> 0;
      } else {
        r = ((a + b + cin) & mask) >>> 0;
      }
      f.record(op === ALU_ADD ? LAZY_ADD : LAZY_ADC, size, r, rh, a >>> 0, ah >>> 0, b >>> 0, bh >>> 0, cin);
      break;
    }
    case ALU_SUB: case ALU_SBB: case ALU_CMP: {
      const cin = op === ALU_SBB && f.cf() ? 1 : 0;
      if (size === 8) {
        const lo = (a >>> 0) - (b >>> 0) - cin;
        r = lo >>> 0;
        rh = ((ah >>> 0) - (bh >>> 0) - (lo < 0 ? 1 : 0)) >>> 0;
      } else {
        r = ((a - b - cin) & mask) >>> 0;
      }
      f.record(op === ALU_SBB ? LAZY_SBB : LAZY_SUB, size, r, rh, a >>> 0, ah >>> 0, b >>> 0, bh >>> 0, cin);
      break;
    }
    case ALU_AND: r = ((a & b) & mask) >>> 0; rh = (ah & bh) >>> 0; f.record(LAZY_LOGIC, size, r, rh, 0, 0, 0, 0, 0); break;
    case ALU_OR: r = ((a | b) & mask) >>> 0; rh = (ah | bh) >>> 0; f.record(LAZY_LOGIC, size, r, rh, 0, 0, 0, 0, 0); break;
    default: r = ((a ^ b) & mask) >>> 0; rh = (ah ^ bh) >>> 0; f.record(LAZY_LOGIC, size, r, rh, 0, 0, 0, 0, 0); break;
  }
  f.hi = size === 8 ? rh : 0;
  return r;
}

export function aluIncDec(f: LazyFlags, dec: boolean, size: number, a: number, ah: number): number {
  const cf = f.cf() ? 1 : 0;
  if (size !== 8) ah = 0;
  let r: number;
  let rh = 0;
  if (size === 8) {
    const lo = (a >>> 0) + (dec ? -1 : 1);
    r = lo >>> 0;
    rh = ((ah >>> 0) + (lo >= TWO_32 ? 1 : lo < 0 ? -1 : 0)) >>> 0;
  } else {
    r = ((a + (dec ? -1 : 1)) & SIZE_MASK[size]) >>> 0;
  }
  f.record(dec ? LAZY_DEC : LAZY_INC, size, r, rh, a >>> 0, ah >>> 0, 1, 0, cf);
  f.hi = rh;
  return r;
}

export function aluNeg(f: LazyFlags, size: number, a: number, ah: number): number {
  return aluBinary(f, ALU_SUB, size, 0, 0, a, ah);
}

// ---- 64-bit helpers on (lo, hi) pairs through BigInt, for rare operations ----

export function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function toBigSigned(lo: number, hi: number, size: number): bigint {
  return BigInt.asIntN(size * 8, size === 8 ? toBig(lo, hi) : BigInt(lo >>> 0));
}

/** Splits a BigInt into lo (returned) and hi (in f.hi). */
export function fromBig(f: LazyFlags, v: bigint): number {
  f.hi = Number(BigInt.asUintN(32, v >> 32n));
  return Number(BigInt.asUintN(32, v));
}

// ---- Shifts and rotates (group 2, ModRM.reg order) ----

export const SH_ROL = 0, SH_ROR = 1, SH_RCL = 2, SH_RCR = 3, SH_SHL = 4, SH_SHR = 5, SH_SAL = 6, SH_SAR = 7;

/** Shift or rotate; `count` is the raw count (masked here). Flags are untouched when the masked count is 0. */
export function aluShift(f: LazyFlags, op: number, size: number, a: number, ah: number, rawCount: number): number {
  const bits = size * 8;
  const count = rawCount & (size === 8 ? 63 : 31);
  if (count === 0) { f.hi = ah; return a; }
  if (op >= SH_SHL && (size === 8 || count < bits)) return shiftFast(f, op, size, a >>> 0, ah >>> 0, count);
  if (op === SH_ROL || op === SH_ROR) return rotateFast(f, op === SH_ROR, size, a >>> 0, ah >>> 0, count);
  const big = toBig(a, size === 8 ? ah : 0);
  const mask = (1n << BigInt(bits)) - 1n;
  const top = BigInt(bits - 1);
  let r: bigint;
  let cf: bigint;
  let of: bigint;
  const bc = BigInt(count);
  switch (op) {
    case SH_ROL: {
      const n = BigInt(count % bits);
      r = ((big << n) | (big >> (BigInt(bits) - n))) & mask;
      cf = r & 1n;
      of = ((r >> top) & 1n) ^ cf;
      return finishRotate(f, size, r, cf, of);
    }
    case SH_ROR: {
      const n = BigInt(count % bits);
      r = ((big >> n) | (big << (BigInt(bits) - n))) & mask;
      cf = (r >> top) & 1n;
      of = cf ^ ((r >> (top - 1n)) & 1n);
      return finishRotate(f, size, r, cf, of);
    }
    case SH_RCL: case SH_RCR: {
      const n = BigInt(count % (bits + 1));
      const cin = f.cf() ? 1n : 0n;
      const wide = (cin << BigInt(bits)) | big;
      const wmask = (1n << BigInt(bits + 1)) - 1n;
      const span = BigInt(bits + 1);
      const rot = op === SH_RCL ? ((wide << n) | (wide >> (span - n))) & wmask : ((wide >> n) | (wide << (span - n))) & wmask;
      r = rot & mask;
      cf = rot >> BigInt(bits);
      of = op === SH_RCL ? ((r >> top) & 1n) ^ cf : ((r >> top) ^ (r >> (top - 1n))) & 1n;
      return finishRotate(f, size, r, cf, of);
    }
    case SH_SHL: case SH_SAL:
      r = (big << bc) & mask;
      cf = count <= bits ? (big >> BigInt(bits - count)) & 1n : 0n;
      of = ((r >> top) & 1n) ^ cf;
      break;
    case SH_SHR:
      r = big >> bc;
      cf = (big >> (bc - 1n)) & 1n;
      of = (big >> top) & 1n;
      break;
    default: {
      const s = BigInt.asIntN(bits, big);
      r = BigInt.asUintN(bits, s >> bc);
      cf = (s >> (bc - 1n)) & 1n;
      of = 0n;
      break;
    }
  }
  const lo = Number(r & 0xffffffffn);
  const hi = Number(r >> 32n);
  f.setEager(resultFlags(size, lo, hi) | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  f.hi = hi;
  return lo;
}

/** SHL/SHR/SAR without BigInt (the common case: decompressors and address arithmetic shift constantly). */
function shiftFast(f: LazyFlags, op: number, size: number, a: number, ah: number, c: number): number {
  let lo: number, hi = 0, cf: number, of: number;
  if (size !== 8) {
    const bits = size * 8;
    const mask = SIZE_MASK[size];
    a &= mask;
    if (op === SH_SHR) {
      lo = a >>> c;
      cf = (a >>> (c - 1)) & 1;
      of = (a >>> (bits - 1)) & 1;
    } else if (op === SH_SAR) {
      const sa = size === 1 ? (a << 24) >> 24 : size === 2 ? (a << 16) >> 16 : a | 0;
      lo = (sa >> c) & mask;
      cf = (sa >> (c - 1)) & 1;
      of = 0;
    } else {
      lo = (a << c) & mask;
      cf = (a >>> (bits - c)) & 1;
      of = ((lo >>> (bits - 1)) & 1) ^ cf;
    }
    lo >>>= 0;
  } else if (op === SH_SHR || op === SH_SAR) {
    const sar = op === SH_SAR;
    if (c < 32) {
      lo = ((a >>> c) | (ah << (32 - c))) >>> 0;
      hi = (sar ? (ah | 0) >> c : ah >>> c) >>> 0;
      cf = (a >>> (c - 1)) & 1;
    } else {
      lo = (sar ? (ah | 0) >> (c - 32) : ah >>> (c - 32)) >>> 0;
      hi = sar ? ((ah | 0) >> 31) >>> 0 : 0;
      cf = c === 32 ? a >>> 31 : (sar ? (ah | 0) >> (c - 33) : ah >>> (c - 33)) & 1;
    }
    of = sar ? 0 : ah >>> 31;
  } else {
    if (c < 32) {
      hi = ((ah << c) | (a >>> (32 - c))) >>> 0;
      lo = (a << c) >>> 0;
      cf = (ah >>> (32 - c)) & 1;
    } else {
      hi = (a << (c - 32)) >>> 0;
      lo = 0;
      cf = c === 32 ? ah & 1 : (a >>> (64 - c)) & 1;
    }
    of = (hi >>> 31) ^ cf;
  }
  f.setEager(resultFlags(size, lo, hi) | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  f.hi = hi;
  return lo;
}

function finishRotate(f: LazyFlags, size: number, r: bigint, cf: bigint, of: bigint): number {
  const keep = f.arith() & ~(FLAG_CF | FLAG_OF);
  f.setEager(keep | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  f.hi = size === 8 ? Number(r >> 32n) : 0;
  return Number(r & 0xffffffffn);
}

/** SHLD/SHRD: shifts `a` by count, filling from `b`. */
export function aluDoubleShift(f: LazyFlags, right: boolean, size: number, a: number, ah: number, b: number, bh: number, rawCount: number): number {
  const bits = size * 8;
  const count = rawCount & (size === 8 ? 63 : 31);
  if (count === 0) { f.hi = ah; return a; }
  const mask = (1n << BigInt(bits)) - 1n;
  const x = toBig(a, size === 8 ? ah : 0);
  const y = toBig(b, size === 8 ? bh : 0);
  const bc = BigInt(count);
  let r: bigint;
  let cf: bigint;
  if (right) {
    // 16-bit counts above 16 are undefined; use the 32-bit concatenation like most hardware.
    const wide = (y << BigInt(bits)) | x;
    r = (wide >> bc) & mask;
    cf = (wide >> (bc - 1n)) & 1n;
  } else {
    const wide = (x << BigInt(bits)) | y;
    r = ((wide << bc) >> BigInt(bits)) & mask;
    cf = ((wide << bc) >> BigInt(2 * bits)) & 1n;
  }
  const top = BigInt(bits - 1);
  const of = ((r >> top) ^ (x >> top)) & 1n;
  const lo = Number(r & 0xffffffffn);
  const hi = Number(r >> 32n);
  f.setEager(resultFlags(size, lo, hi) | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  f.hi = hi;
  return lo;
}

/** Full-width product for MUL/IMUL: returns the low `size` part, `mulHigh` holds the high part. */
export class Multiplier {
  lo = 0; loHi = 0; high = 0; highHi = 0;

  /** Multiplies and sets CF=OF when the high part is significant. */
  multiply(f: LazyFlags, signed: boolean, size: number, a: number, ah: number, b: number, bh: number): void {
    if (size !== 8) { multiplyNarrow(this, f, signed, size, a >>> 0, b >>> 0); return; }
    if (MUL64_FAST) {
      // BigInt-free 64-bit product (mul64.ts): same results, no allocation.
      let overflow: boolean;
      if (signed) overflow = multiplySigned64(a, ah, b, bh);
      else { multiplyUnsigned64(a, ah, b, bh); overflow = product[2] !== 0 || product[3] !== 0; }
      this.lo = product[0]; this.loHi = product[1]; this.high = product[2]; this.highHi = product[3];
      f.setEager(resultFlags(size, this.lo, this.loHi) | (overflow ? FLAG_CF | FLAG_OF : 0));
      return;
    }
    const bits = BigInt(size * 8);
    const x = signed ? toBigSigned(a, ah, size) : toBig(a, size === 8 ? ah : 0);
    const y = signed ? toBigSigned(b, bh, size) : toBig(b, size === 8 ? bh : 0);
    const p = x * y;
    const low = BigInt.asUintN(size * 8, p);
    const high = BigInt.asUintN(size * 8, p >> bits);
    const overflow = signed ? BigInt.asIntN(size * 8, low) !== p : high !== 0n;
    this.lo = Number(low & 0xffffffffn);
    this.loHi = Number(low >> 32n);
    this.high = Number(high & 0xffffffffn);
    this.highHi = Number(high >> 32n);
    // SF/ZF/PF are undefined after MUL; hardware derives them from the low result, as here.
    f.setEager(resultFlags(size, this.lo, this.loHi) | (overflow ? FLAG_CF | FLAG_OF : 0));
  }
}

/** MUL/IMUL below 64 bits without BigInt. */
function multiplyNarrow(m: Multiplier, f: LazyFlags, signed: boolean, size: number, a: number, b: number): void {
  const bits = size * 8;
  const mask = SIZE_MASK[size];
  a &= mask; b &= mask;
  let low: number, high: number, overflow: boolean;
  if (size < 4) {
    const x = signed ? (a << (32 - bits)) >> (32 - bits) : a;
    const y = signed ? (b << (32 - bits)) >> (32 - bits) : b;
    const p = x * y;
    low = (p & mask) >>> 0;
    high = ((p >> bits) & mask) >>> 0;
    overflow = signed ? ((low << (32 - bits)) >> (32 - bits)) !== p : high !== 0;
  } else {
    // 32x32 -> 64 from 16-bit limbs, exact in doubles.
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    low = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
    high = (p11 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + Math.floor(mid / 65536)) >>> 0;
    if (signed) {
      // Signed high half: subtract the other operand for each negative one (mod 2^32).
      if ((a | 0) < 0) high = (high - b) >>> 0;
      if ((b | 0) < 0) high = (high - a) >>> 0;
      overflow = high !== ((low | 0) < 0 ? 0xffffffff : 0);
    } else overflow = high !== 0;
  }
  m.lo = low; m.loHi = 0; m.high = high; m.highHi = 0;
  f.setEager(resultFlags(size, low, 0) | (overflow ? FLAG_CF | FLAG_OF : 0));
}

/** DIV/IDIV of high:low by a divisor; returns false on #DE (zero or quotient overflow). */
export class Divider {
  quot = 0; quotHi = 0; rem = 0; remHi = 0;

  divide(signed: boolean, size: number, lo: number, loHi: number, hi: number, hiHi: number, d: number, dHi: number): boolean {
    const small = divideSmall(signed, size, lo, loHi, hi, hiHi, d, dHi, this);
    if (small !== DIV_LARGE) return small === DIV_DONE;
    if (!signed && size === 8) return divideWide(lo, loHi, hi, hiHi, d, dHi, this);
    const bits = BigInt(size * 8);
    const dividendU = (toBig(hi, size === 8 ? hiHi : 0) << bits) | toBig(lo, size === 8 ? loHi : 0);
    const divisor = signed ? toBigSigned(d, dHi, size) : toBig(d, size === 8 ? dHi : 0);
    if (divisor === 0n) return false;
    const dividend = signed ? BigInt.asIntN(size * 16, dividendU) : dividendU;
    const q = dividend / divisor;
    const r = dividend % divisor;
    if (signed ? BigInt.asIntN(size * 8, q) !== q : q >> bits !== 0n) return false;
    const qu = BigInt.asUintN(size * 8, q);
    const ru = BigInt.asUintN(size * 8, r);
    this.quot = Number(qu & 0xffffffffn);
    this.quotHi = Number(qu >> 32n);
    this.rem = Number(ru & 0xffffffffn);
    this.remHi = Number(ru >> 32n);
    return true;
  }
}

export { SIGN_BIT, SIZE_MASK };

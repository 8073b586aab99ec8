/**
 * Lazy arithmetic flags. ADD/SUB/logic/INC/DEC (the bulk of all flag
 * writers) record their operands and result; CF/ZF/SF/OF/PF/AF are computed
 * only when something reads them (Jcc, SETcc, PUSHF, ...). Other writers store
 * the six flags eagerly.
 *
 * 64-bit values are pairs of unsigned 32-bit halves; `size` is in bytes.
 */
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF } from './cpu-constants';
import { multiplySigned64 } from './mul64';

export const LAZY_EAGER = 0;
export const LAZY_ADD = 1;
export const LAZY_ADC = 2;
export const LAZY_SUB = 3;
export const LAZY_SBB = 4;
export const LAZY_LOGIC = 5;
export const LAZY_INC = 6;
export const LAZY_DEC = 7;
/**
 * Truncating IMUL (two/three-operand forms): res/resHi is the low product,
 * a/aHi and b/bHi the operands. ZF/SF/PF come from the result and AF is
 * clear (as Multiplier's eager flags); CF = OF = "the signed product does not
 * fit", which needs the high half, so it is computed only when read (rare:
 * compilers never test it).
 */
export const LAZY_IMUL = 8;
/**
 * ZF/SF/PF from the result, AF clear, CF and OF recorded: cin is CF, b is OF
 * (0 or 1). Shifts and the one-operand MUL/IMUL, whose CF/OF are as cheap to
 * compute as to record.
 */
export const LAZY_CFOF = 9;

/** PF: 1 when the low byte has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let v = i; v; v >>= 1) bits += v & 1;
  PARITY[i] = bits & 1 ? 0 : FLAG_PF;
}

export const SIZE_MASK = [0, 0xff, 0xffff, 0, 0xffffffff, 0, 0, 0, 0xffffffff];
const SIGN_BIT = [0, 0x80, 0x8000, 0, 0x80000000, 0, 0, 0, 0x80000000];

export class LazyFlags {
  op = LAZY_EAGER;
  size = 4;
  res = 0; resHi = 0;
  a = 0; aHi = 0;
  b = 0; bHi = 0;
  /** Carry in (ADC/SBB), or the preserved CF (INC/DEC). */
  cin = 0;
  /** The six arithmetic flags when op is LAZY_EAGER. */
  eager = 0;
  /** High half of the last 64-bit ALU result (out-parameter of the ALU helpers). */
  hi = 0;

  record(op: number, size: number, res: number, resHi: number, a: number, aHi: number, b: number, bHi: number, cin: number): void {
    this.op = op; this.size = size;
    this.res = res; this.resHi = resHi;
    this.a = a; this.aHi = aHi;
    this.b = b; this.bHi = bHi;
    this.cin = cin;
  }

  setEager(arith: number): void {
    this.op = LAZY_EAGER;
    this.eager = arith;
  }

  cf(): boolean {
    switch (this.op) {
      case LAZY_EAGER: return (this.eager & FLAG_CF) !== 0;
      case LAZY_ADD: return this.below(this.res, this.resHi, this.a, this.aHi);
      case LAZY_ADC: return this.below(this.res, this.resHi, this.a, this.aHi) || (this.cin !== 0 && this.res === this.a && (this.size !== 8 || this.resHi === this.aHi));
      case LAZY_SUB: return this.below(this.a, this.aHi, this.b, this.bHi);
      case LAZY_SBB: return this.below(this.a, this.aHi, this.b, this.bHi) || (this.cin !== 0 && this.a === this.b && (this.size !== 8 || this.aHi === this.bHi));
      case LAZY_LOGIC: return false;
      case LAZY_IMUL: return this.imulOverflow();
      default: return this.cin !== 0;
    }
  }

  zf(): boolean {
    if (this.op === LAZY_EAGER) return (this.eager & FLAG_ZF) !== 0;
    return this.res === 0 && (this.size !== 8 || this.resHi === 0);
  }

  sf(): boolean {
    if (this.op === LAZY_EAGER) return (this.eager & FLAG_SF) !== 0;
    return this.signOf(this.res, this.resHi) !== 0;
  }

  of(): boolean {
    const s = this.size;
    const top = (v: number, vh: number): number => (s === 8 ? vh : v);
    const sign = SIGN_BIT[s];
    switch (this.op) {
      case LAZY_EAGER: return (this.eager & FLAG_OF) !== 0;
      case LAZY_ADD: case LAZY_ADC: {
        const a = top(this.a, this.aHi), b = top(this.b, this.bHi), r = top(this.res, this.resHi);
        return (((a ^ r) & (b ^ r)) & sign) !== 0;
      }
      case LAZY_SUB: case LAZY_SBB: {
        const a = top(this.a, this.aHi), b = top(this.b, this.bHi), r = top(this.res, this.resHi);
        return (((a ^ b) & (a ^ r)) & sign) !== 0;
      }
      case LAZY_LOGIC: return false;
      case LAZY_IMUL: return this.imulOverflow();
      case LAZY_CFOF: return this.b !== 0;
      case LAZY_INC: return top(this.res, this.resHi) >>> 0 === sign >>> 0 && (s !== 8 || this.res === 0);
      default: return (top(this.res, this.resHi) >>> 0) === ((sign - 1) >>> 0) && (s !== 8 || this.res >>> 0 === 0xffffffff);
    }
  }

  pf(): boolean {
    if (this.op === LAZY_EAGER) return (this.eager & FLAG_PF) !== 0;
    return PARITY[this.res & 0xff] !== 0;
  }

  af(): boolean {
    switch (this.op) {
      case LAZY_EAGER: return (this.eager & FLAG_AF) !== 0;
      case LAZY_LOGIC: case LAZY_IMUL: case LAZY_CFOF: return false;
      default: return ((this.a ^ this.b ^ this.res) & 0x10) !== 0;
    }
  }

  /** The six arithmetic flags as RFLAGS bits. */
  arith(): number {
    if (this.op === LAZY_EAGER) return this.eager;
    return (this.cf() ? FLAG_CF : 0) | (this.pf() ? FLAG_PF : 0) | (this.af() ? FLAG_AF : 0) |
      (this.zf() ? FLAG_ZF : 0) | (this.sf() ? FLAG_SF : 0) | (this.of() ? FLAG_OF : 0);
  }

  /** Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc). */
  condition(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = this.of(); break;
      case 1: r = this.cf(); break;
      case 2: r = this.zf(); break;
      case 3: r = this.cf() || this.zf(); break;
      case 4: r = this.sf(); break;
      case 5: r = this.pf(); break;
      case 6: r = this.sf() !== this.of(); break;
      default: r = this.zf() || this.sf() !== this.of(); break;
    }
    return (cc & 1) !== 0 ? !r : r;
  }

  /** LAZY_IMUL: true when the signed product of a and b does not fit in `size` bytes. */
  private imulOverflow(): boolean {
    const s = this.size;
    if (s === 8) return multiplySigned64(this.a, this.aHi, this.b, this.bHi);
    const shift = 32 - s * 8;
    // Signed operands of at most 32 bits: the double product is rounded above 2^53, but
    // rounding is monotone and the int32 bounds are exact, so the range test stays exact.
    const p = ((this.a << shift) >> shift) * ((this.b << shift) >> shift);
    const lim = 2 ** (s * 8 - 1);
    return p < -lim || p >= lim;
  }

  private below(x: number, xh: number, y: number, yh: number): boolean {
    if (this.size === 8 && xh !== yh) return xh >>> 0 < yh >>> 0;
    return x >>> 0 < y >>> 0;
  }

  private signOf(v: number, vh: number): number {
    return (this.size === 8 ? vh : v) & SIGN_BIT[this.size];
  }
}

/** Builds the eager ZF/SF/PF bits of a result. */
export function resultFlags(size: number, res: number, resHi: number): number {
  let f = PARITY[res & 0xff];
  if ((res & SIZE_MASK[size]) === 0 && (size !== 8 || resHi === 0)) f |= FLAG_ZF;
  if (((size === 8 ? resHi : res) & SIGN_BIT[size]) !== 0) f |= FLAG_SF;
  return f;
}

export { SIGN_BIT };

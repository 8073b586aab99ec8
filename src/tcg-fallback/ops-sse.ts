/**
 * SSE and SSE2 instructions (the x86-64 base ABI): moves, logic, packed
 * integer arithmetic, shuffles and unpacks, scalar and packed float
 * arithmetic, comparisons and conversions. The MMX (no-prefix 0F 6x/Dx-Fx)
 * forms are not implemented and raise #UD, as CPUID reports no MMX.
 *
 * Precision: float arithmetic is computed in doubles and rounded with
 * Math.fround, which is exact for + - * / and sqrt; MXCSR rounding control
 * is honoured for float->integer conversions only, and the MXCSR exception
 * status flags are only set for invalid operations and divide-by-zero.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import { CpuException } from './cpu-exception';
import { CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT, FLAG_CF, FLAG_PF, FLAG_ZF, VEC_GP, VEC_NM, VEC_UD, VEC_XM } from './cpu-constants';
import { loadSource, src, storeToMemory, tmp, xmmViews, XmmViews } from './sse-operand';
import { toInt32, toInt64, roundBy } from './sse-convert';
import {
  mxcsrArith, intToFloat, minMaxOperands, compareFlags, conversionInput, isSignalingNaN32Bits, isSignalingNaN64Bits,
  OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, MX_IE, MX_DE, MX_ZE, MX_PE,
} from './sse-float';

/** Collects MXCSR exception flags of one instruction. */
const fpState = { flags: 0 };

const ud = (): never => { throw new CpuException(VEC_UD, undefined); };

function sse(h: Handler): Handler {
  return (cpu, i) => {
    if ((cpu.cr0 & CR0_EM) !== 0 || (cpu.cr4 & CR4_OSFXSR) === 0) ud();
    if ((cpu.cr0 & CR0_TS) !== 0) throw new CpuException(VEC_NM, undefined);
    h(cpu, i);
  };
}

const P_NONE = 0, P_66 = 0x66, P_F3 = 0xf3, P_F2 = 0xf2;

/** Chooses a handler by mandatory prefix; missing entries are #UD. */
function byPrefix(table: Partial<Record<number, Handler>>): Handler {
  return sse((cpu, i) => {
    const h = table[i.simdPrefix];
    if (!h) ud();
    else h(cpu, i);
  });
}

// ---------------------------------------------------------------- moves

function movFull(aligned: boolean): Handler {
  return (cpu, i) => {
    if ((i.opcode & 0xff) === 0x11 || (i.opcode & 0xff) === 0x29 || (i.opcode & 0xff) === 0x7f || (i.opcode & 0xff) === 0x2b || (i.opcode & 0xff) === 0xe7) {
      // store form: r/m <- xmm reg
      if (i.mod === 3) cpu.xmm.copyWithin(i.rm * 16, i.reg * 16, i.reg * 16 + 16);
      else storeToMemory(cpu, i, i.reg, 16, aligned);
      return;
    }
    loadSource(cpu, i, 16, aligned);
    cpu.xmm.set(src.u8, i.reg * 16);
  };
}

/** MOVSS/MOVSD load and store. */
function movScalar(size: 4 | 8): Handler {
  return (cpu, i) => {
    const store = (i.opcode & 0xff) === 0x11;
    if (store) {
      if (i.mod === 3) cpu.xmm.copyWithin(i.rm * 16, i.reg * 16, i.reg * 16 + size);
      else storeToMemory(cpu, i, i.reg, size);
      return;
    }
    if (i.mod === 3) { cpu.xmm.copyWithin(i.reg * 16, i.rm * 16, i.rm * 16 + size); return; }
    loadSource(cpu, i, size);
    cpu.xmm.set(src.u8, i.reg * 16);
  };
}

/** MOVLPS/MOVLPD/MOVHPS/MOVHPD and MOVHLPS/MOVLHPS. */
function movHalf(high: boolean): Handler {
  return (cpu, i) => {
    const store = (i.opcode & 1) === 1;
    const half = high ? 8 : 0;
    if (store) {
      if (i.mod === 3) ud();
      storeToMemory(cpu, i, i.reg, 8, false, half);
      return;
    }
    if (i.mod === 3) {
      if (i.simdPrefix !== P_NONE) ud();
      // 0F 12 reg: MOVHLPS (high of src -> low of dst); 0F 16 reg: MOVLHPS (low of src -> high of dst).
      if (high) cpu.xmm.copyWithin(i.reg * 16 + 8, i.rm * 16, i.rm * 16 + 8);
      else cpu.xmm.copyWithin(i.reg * 16, i.rm * 16 + 8, i.rm * 16 + 16);
      return;
    }
    loadSource(cpu, i, 8);
    cpu.xmm.set(src.u8.subarray(0, 8), i.reg * 16 + half);
  };
}

/** 66 0F 6E: MOVD/MOVQ xmm, r/m. */
function movdToXmm(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize === 8 ? 8 : 4;
  const lo = cpu.readRm(i, size);
  const hi = size === 8 ? cpu.vhi : 0;
  const w = cpu.xmm32;
  w[i.reg * 4] = lo; w[i.reg * 4 + 1] = hi; w[i.reg * 4 + 2] = 0; w[i.reg * 4 + 3] = 0;
}

/** 66 0F 7E: MOVD/MOVQ r/m, xmm. */
function movdFromXmm(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize === 8 ? 8 : 4;
  const w = cpu.xmm32;
  cpu.writeRm(i, size, w[i.reg * 4], size === 8 ? w[i.reg * 4 + 1] : 0);
}

/** F3 0F 7E: MOVQ xmm, xmm/m64 (zero-extends). */
function movqLoad(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 8);
  cpu.xmm.set(src.u8, i.reg * 16);
}

/** 66 0F D6: MOVQ xmm/m64, xmm. */
function movqStore(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) {
    const w = cpu.xmm32;
    w[i.rm * 4] = w[i.reg * 4]; w[i.rm * 4 + 1] = w[i.reg * 4 + 1]; w[i.rm * 4 + 2] = 0; w[i.rm * 4 + 3] = 0;
  } else storeToMemory(cpu, i, i.reg, 8);
}

function movmsk(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod !== 3) ud();
  const w = cpu.xmm32;
  let m = 0;
  if (i.simdPrefix === P_66) m = (w[i.rm * 4 + 1] >>> 31) | ((w[i.rm * 4 + 3] >>> 31) << 1);
  else for (let k = 0; k < 4; k++) m |= (w[i.rm * 4 + k] >>> 31) << k;
  cpu.setReg(4, i.reg, m, 0);
}

function pmovmskb(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod !== 3) ud();
  let m = 0;
  for (let k = 0; k < 16; k++) m |= (cpu.xmm[i.rm * 16 + k] >> 7) << k;
  cpu.setReg(4, i.reg, m, 0);
}

// ---------------------------------------------------------------- integer lanes

type LaneFn = (x: XmmViews, d: number, k: number) => void;

/** Applies `f` to every lane: `d` is the destination register, `src` holds the source. */
function lanes(count: number, f: LaneFn): Handler {
  return (cpu, i) => {
    loadSource(cpu, i, 16, i.mod !== 3);
    const x = xmmViews(cpu);
    for (let k = 0; k < count; k++) f(x, i.reg, k);
  };
}

const sat8s = (v: number): number => (v > 127 ? 127 : v < -128 ? -128 : v);
const sat8u = (v: number): number => (v > 255 ? 255 : v < 0 ? 0 : v);
const sat16s = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
const sat16u = (v: number): number => (v > 65535 ? 65535 : v < 0 ? 0 : v);

function logic(op: (a: number, b: number) => number): Handler {
  return lanes(4, (x, d, k) => { x.u32[d * 4 + k] = op(x.u32[d * 4 + k], src.u32[k]); });
}

function paddq(sub: boolean): Handler {
  return (cpu, i) => {
    loadSource(cpu, i, 16, i.mod !== 3);
    const w = cpu.xmm32;
    for (let q = 0; q < 2; q++) {
      const at = i.reg * 4 + q * 2;
      const lo = sub ? w[at] - src.u32[q * 2] : w[at] + src.u32[q * 2];
      const carry = sub ? (lo < 0 ? -1 : 0) : lo > 0xffffffff ? 1 : 0;
      w[at + 1] = sub ? w[at + 1] - src.u32[q * 2 + 1] + carry : w[at + 1] + src.u32[q * 2 + 1] + carry;
      w[at] = lo;
    }
  };
}

function pmuludq(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 16, i.mod !== 3);
  const w = cpu.xmm32;
  for (let q = 0; q < 2; q++) {
    const p = BigInt(w[i.reg * 4 + q * 2]) * BigInt(src.u32[q * 2]);
    w[i.reg * 4 + q * 2] = Number(p & 0xffffffffn);
    w[i.reg * 4 + q * 2 + 1] = Number(p >> 32n);
  }
}

function pmaddwd(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 16, i.mod !== 3);
  const x = xmmViews(cpu);
  for (let k = 0; k < 4; k++) {
    const a0 = x.i16[i.reg * 8 + 2 * k], a1 = x.i16[i.reg * 8 + 2 * k + 1];
    x.i32[i.reg * 4 + k] = a0 * src.i16[2 * k] + a1 * src.i16[2 * k + 1];
  }
}

function psadbw(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 16, i.mod !== 3);
  const x = xmmViews(cpu);
  for (let q = 0; q < 2; q++) {
    let s = 0;
    for (let k = 0; k < 8; k++) s += Math.abs(x.u8[i.reg * 16 + q * 8 + k] - src.u8[q * 8 + k]);
    x.u32[i.reg * 4 + q * 2] = s; x.u32[i.reg * 4 + q * 2 + 1] = 0;
  }
}

/** PACKSSWB / PACKUSWB / PACKSSDW. */
function pack(kind: 'sswb' | 'uswb' | 'ssdw'): Handler {
  return (cpu, i) => {
    loadSource(cpu, i, 16, i.mod !== 3);
    const x = xmmViews(cpu);
    const d = i.reg;
    if (kind === 'ssdw') {
      for (let k = 0; k < 4; k++) tmp.i16[k] = sat16s(x.i32[d * 4 + k]);
      for (let k = 0; k < 4; k++) tmp.i16[4 + k] = sat16s(src.i32[k]);
    } else {
      const f = kind === 'sswb' ? sat8s : sat8u;
      for (let k = 0; k < 8; k++) tmp.u8[k] = f(x.i16[d * 8 + k]) & 0xff;
      for (let k = 0; k < 8; k++) tmp.u8[8 + k] = f(src.i16[k]) & 0xff;
    }
    cpu.xmm.set(tmp.u8, d * 16);
  };
}

/** PUNPCKL/H{BW,WD,DQ,QDQ} and UNPCKL/HPS/PD: interleave `width`-byte elements of the low or high halves. */
function unpack(width: number, high: boolean): Handler {
  return (cpu, i) => {
    loadSource(cpu, i, 16, i.mod !== 3 && !(i.simdPrefix === P_NONE || (i.opcode & 0xff) === 0x14 || (i.opcode & 0xff) === 0x15) ? true : i.mod !== 3);
    const d = i.reg * 16;
    const base = high ? 8 : 0;
    const n = 8 / width;
    for (let k = 0; k < n; k++) {
      for (let b = 0; b < width; b++) {
        tmp.u8[2 * k * width + b] = cpu.xmm[d + base + k * width + b];
        tmp.u8[(2 * k + 1) * width + b] = src.u8[base + k * width + b];
      }
    }
    cpu.xmm.set(tmp.u8, d);
  };
}

function pshufd(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 16, i.mod !== 3);
  const w = cpu.xmm32;
  for (let k = 0; k < 4; k++) w[i.reg * 4 + k] = src.u32[(i.imm >> (2 * k)) & 3];
}

function pshufw(high: boolean): Handler {
  return (cpu, i) => {
    loadSource(cpu, i, 16, i.mod !== 3);
    const h = cpu.xmm.subarray(i.reg * 16, i.reg * 16 + 16);
    const u16 = new Uint16Array(h.buffer, h.byteOffset, 8);
    const base = high ? 4 : 0;
    for (let k = 0; k < 8; k++) u16[k] = src.u16[k];
    for (let k = 0; k < 4; k++) u16[base + k] = src.u16[base + ((i.imm >> (2 * k)) & 3)];
  };
}

function shufps(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 16, i.mod !== 3);
  const w = cpu.xmm32;
  const d = i.reg * 4;
  if (i.simdPrefix === P_66) {
    const a = (i.imm & 1) * 2, b = ((i.imm >> 1) & 1) * 2;
    tmp.u32[0] = w[d + a]; tmp.u32[1] = w[d + a + 1]; tmp.u32[2] = src.u32[b]; tmp.u32[3] = src.u32[b + 1];
  } else {
    tmp.u32[0] = w[d + (i.imm & 3)]; tmp.u32[1] = w[d + ((i.imm >> 2) & 3)];
    tmp.u32[2] = src.u32[(i.imm >> 4) & 3]; tmp.u32[3] = src.u32[(i.imm >> 6) & 3];
  }
  for (let k = 0; k < 4; k++) w[d + k] = tmp.u32[k];
}

/** Shift of every `width`-byte lane by a count (from imm or the low quadword of the source). */
function shiftLanes(cpu: Cpu, reg: number, width: number, kind: 'l' | 'r' | 'a', count: number): void {
  const x = xmmViews(cpu);
  const bits = width * 8;
  if (width === 2) {
    for (let k = 0; k < 8; k++) {
      const at = reg * 8 + k;
      if (kind === 'a') x.i16[at] = x.i16[at] >> Math.min(count, 15);
      else if (count >= bits) x.u16[at] = 0;
      else x.u16[at] = kind === 'l' ? x.u16[at] << count : x.u16[at] >>> count;
    }
  } else if (width === 4) {
    for (let k = 0; k < 4; k++) {
      const at = reg * 4 + k;
      if (kind === 'a') x.i32[at] = x.i32[at] >> Math.min(count, 31);
      else if (count >= bits) x.u32[at] = 0;
      else x.u32[at] = kind === 'l' ? x.u32[at] << count : x.u32[at] >>> count;
    }
  } else {
    for (let q = 0; q < 2; q++) {
      const at = reg * 4 + q * 2;
      const v = (BigInt(x.u32[at + 1]) << 32n) | BigInt(x.u32[at]);
      const r = count >= 64 ? 0n : kind === 'l' ? BigInt.asUintN(64, v << BigInt(count)) : v >> BigInt(count);
      x.u32[at] = Number(r & 0xffffffffn); x.u32[at + 1] = Number(r >> 32n);
    }
  }
}

function shiftCountFromSource(): number {
  return src.u32[1] !== 0 || src.u32[0] > 255 ? 255 : src.u32[0];
}

function shiftByXmm(width: number, kind: 'l' | 'r' | 'a'): Handler {
  return (cpu, i) => {
    loadSource(cpu, i, 16, i.mod !== 3);
    shiftLanes(cpu, i.reg, width, kind, shiftCountFromSource());
  };
}

/** 66 0F 71/72/73 with imm8. */
function shiftImm(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod !== 3 || i.simdPrefix !== P_66) ud();
  const group = i.opcode & 0xff;
  const count = i.imm & 0xff;
  const r = i.rm;
  const op = i.regField;
  if (group === 0x73 && (op === 3 || op === 7)) {
    const n = Math.min(count, 16);
    const bytes = cpu.xmm.subarray(r * 16, r * 16 + 16);
    tmp.u8.fill(0);
    for (let k = 0; k < 16; k++) {
      const from = op === 3 ? k + n : k - n;
      if (from >= 0 && from < 16) tmp.u8[k] = bytes[from];
    }
    bytes.set(tmp.u8);
    return;
  }
  const width = group === 0x71 ? 2 : group === 0x72 ? 4 : 8;
  const kind = op === 2 ? 'r' : op === 4 ? 'a' : op === 6 ? 'l' : undefined;
  if (kind === undefined || (kind === 'a' && width === 8)) ud();
  else shiftLanes(cpu, r, width, kind, count);
}

function pinsrw(cpu: Cpu, i: DecodedInstruction): void {
  const v = i.mod === 3 ? cpu.getReg(2, i.rm) : cpu.readRm(i, 2);
  xmmViews(cpu).u16[i.reg * 8 + (i.imm & 7)] = v;
}

function pextrw(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod !== 3) ud();
  cpu.setReg(4, i.reg, xmmViews(cpu).u16[i.rm * 8 + (i.imm & 7)], 0);
}

/** MASKMOVDQU: stores the bytes of xmm(reg) whose mask byte in xmm(rm) has bit 7 set, to DS:rDI. */
function maskmovdqu(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod !== 3) ud();
  const seg = i.segOverride >= 0 ? i.segOverride : 3;
  const base = cpu.regAddress(7, i.addrSize);
  for (let k = 0; k < 16; k++) {
    if ((cpu.xmm[i.rm * 16 + k] & 0x80) === 0) continue;
    const off = base + k;
    cpu.write(seg, i.addrSize === 8 ? off : i.addrSize === 4 ? off >>> 0 : off & 0xffff, 1, cpu.xmm[i.reg * 16 + k], 0);
  }
}

// ---------------------------------------------------------------- floating point


type BinaryKind = number | 'min' | 'max';

/**
 * Records MXCSR exception flags; an unmasked one raises #XM (or #UD without
 * CR4.OSXMMEXCPT) before the instruction writes its destination.
 */
function commitFlags(cpu: Cpu, flags: number): void {
  if (flags === 0) return;
  // An unmasked pre-computation exception (IE, DE, ZE) in any lane stops the instruction before
  // the post-computation ones (OE, UE, PE) are detected in any lane (SDM 11.5.2).
  if ((flags & ~(cpu.mxcsr >> 7) & (MX_IE | MX_DE | MX_ZE)) !== 0) flags &= MX_IE | MX_DE | MX_ZE;
  cpu.mxcsr |= flags;
  if ((flags & ~(cpu.mxcsr >> 7) & 0x3f) !== 0) throw new CpuException((cpu.cr4 & CR4_OSXMMEXCPT) !== 0 ? VEC_XM : VEC_UD, undefined);
}

/** Binary float op on lanes (packed) or the low lane (scalar), with MXCSR rounding and flags. */
function fpBinary(kind: BinaryKind): (scalar: boolean, double: boolean) => Handler {
  return (scalar, double) => (cpu, i) => {
    loadSource(cpu, i, scalar ? (double ? 8 : 4) : 16, !scalar && i.mod !== 3);
    const x = xmmViews(cpu);
    fpState.flags = 0;
    const n = scalar ? 1 : double ? 2 : 4;
    for (let k = 0; k < n; k++) {
      const at = double ? i.reg * 2 + k : i.reg * 4 + k;
      let a = double ? x.f64[at] : x.f32[at];
      let b = double ? src.f64[k] : src.f32[k];
      if (kind === 'min' || kind === 'max') {
        [a, b] = minMaxOperands(a, b, !double, cpu.mxcsr, fpState);
        // MIN/MAX return the second operand (bit for bit) when either is NaN or both are zero (SDM MINPS).
        const first = kind === 'min' ? a < b : a > b;
        if (double) {
          tmp.u32[2 * k] = first ? x.u32[at * 2] : src.u32[2 * k];
          tmp.u32[2 * k + 1] = first ? x.u32[at * 2 + 1] : src.u32[2 * k + 1];
          if (first) tmp.f64[k] = a; else if (!Number.isNaN(b)) tmp.f64[k] = b;
        } else {
          tmp.u32[k] = first ? x.u32[at] : src.u32[k];
          if (first) tmp.f32[k] = a; else if (!Number.isNaN(b)) tmp.f32[k] = b;
        }
        continue;
      }
      const aSnan = double ? isSignalingNaN64Bits(x.u32[at * 2], x.u32[at * 2 + 1]) : isSignalingNaN32Bits(x.u32[at]);
      const bSnan = double ? isSignalingNaN64Bits(src.u32[2 * k], src.u32[2 * k + 1]) : isSignalingNaN32Bits(src.u32[k]);
      const r = mxcsrArith(kind, a, b, !double, cpu.mxcsr, fpState, aSnan, bSnan);
      if (Number.isNaN(a) || Number.isNaN(b)) {
        // NaN operands propagate bit for bit (quieted), the first source winning: JavaScript may canonicalise NaNs.
        const fromA = Number.isNaN(a);
        if (double) {
          tmp.u32[2 * k] = fromA ? x.u32[at * 2] : src.u32[2 * k];
          tmp.u32[2 * k + 1] = (fromA ? x.u32[at * 2 + 1] : src.u32[2 * k + 1]) | 0x80000;
        } else tmp.u32[k] = (fromA ? x.u32[at] : src.u32[k]) | 0x400000;
      } else if (double) tmp.f64[k] = r; else tmp.f32[k] = r;
    }
    commitFlags(cpu, fpState.flags);
    const words = scalar ? (double ? 2 : 1) : 4;
    for (let w = 0; w < words; w++) x.u32[i.reg * 4 + w] = tmp.u32[w];
  };
}


function arith(op: BinaryKind): Handler {
  const make = fpBinary(op);
  return byPrefix({ [P_NONE]: make(false, false), [P_66]: make(false, true), [P_F3]: make(true, false), [P_F2]: make(true, true) });
}

function sqrt(): Handler {
  const one = (scalar: boolean, double: boolean): Handler => (cpu, i) => {
    loadSource(cpu, i, scalar ? (double ? 8 : 4) : 16, !scalar && i.mod !== 3);
    const x = xmmViews(cpu);
    fpState.flags = 0;
    const n = scalar ? 1 : double ? 2 : 4;
    for (let k = 0; k < n; k++) {
      const snan = double ? isSignalingNaN64Bits(src.u32[2 * k], src.u32[2 * k + 1]) : isSignalingNaN32Bits(src.u32[k]);
      const v = double ? src.f64[k] : src.f32[k];
      const r = mxcsrArith(OP_SQRT, v, 0, !double, cpu.mxcsr, fpState, snan);
      if (Number.isNaN(v)) {
        if (double) { tmp.u32[2 * k] = src.u32[2 * k]; tmp.u32[2 * k + 1] = src.u32[2 * k + 1] | 0x80000; }
        else tmp.u32[k] = src.u32[k] | 0x400000;
      } else if (double) tmp.f64[k] = r; else tmp.f32[k] = r;
    }
    commitFlags(cpu, fpState.flags);
    const words = scalar ? (double ? 2 : 1) : 4;
    for (let w = 0; w < words; w++) x.u32[i.reg * 4 + w] = tmp.u32[w];
  };
  return byPrefix({ [P_NONE]: one(false, false), [P_66]: one(false, true), [P_F3]: one(true, false), [P_F2]: one(true, true) });
}

/** RCPPS/RSQRTPS: approximations; we return the exactly rounded value (within the 1.5*2^-12 bound). */
function reciprocal(root: boolean): Handler {
  const one = (scalar: boolean): Handler => (cpu, i) => {
    loadSource(cpu, i, scalar ? 4 : 16, !scalar && i.mod !== 3);
    const x = xmmViews(cpu);
    for (let k = 0; k < (scalar ? 1 : 4); k++) {
      const v = src.f32[k];
      x.f32[i.reg * 4 + k] = Math.fround(root ? 1 / Math.sqrt(v) : 1 / v);
    }
  };
  return byPrefix({ [P_NONE]: one(false), [P_F3]: one(true) });
}

function compare(pred: number, a: number, b: number): boolean {
  const unordered = Number.isNaN(a) || Number.isNaN(b);
  switch (pred & 7) {
    case 0: return a === b;
    case 1: return a < b;
    case 2: return a <= b;
    case 3: return unordered;
    case 4: return !(a === b);
    case 5: return !(a < b);
    case 6: return !(a <= b);
    default: return !unordered;
  }
}

function cmpps(cpu: Cpu, i: DecodedInstruction): void {
  const scalar = i.simdPrefix === P_F3 || i.simdPrefix === P_F2;
  const double = i.simdPrefix === P_66 || i.simdPrefix === P_F2;
  loadSource(cpu, i, scalar ? (double ? 8 : 4) : 16, !scalar && i.mod !== 3);
  const x = xmmViews(cpu);
  // LT, LE, NLT, NLE signal on QNaN; EQ, UNORD, NEQ, ORD only on SNaN.
  const signalling = [1, 2, 5, 6].includes(i.imm & 7);
  fpState.flags = 0;
  const n = scalar ? 1 : double ? 2 : 4;
  for (let k = 0; k < n; k++) {
    const at = double ? i.reg * 2 + k : i.reg * 4 + k;
    const aSnan = double ? isSignalingNaN64Bits(x.u32[at * 2], x.u32[at * 2 + 1]) : isSignalingNaN32Bits(x.u32[at]);
    const bSnan = double ? isSignalingNaN64Bits(src.u32[2 * k], src.u32[2 * k + 1]) : isSignalingNaN32Bits(src.u32[k]);
    const [a, b] = compareFlags(double ? x.f64[at] : x.f32[at], double ? src.f64[k] : src.f32[k], aSnan, bSnan, signalling, !double, cpu.mxcsr, fpState);
    const t = compare(i.imm, a, b) ? 0xffffffff : 0;
    if (double) { tmp.u32[2 * k] = t; tmp.u32[2 * k + 1] = t; } else tmp.u32[k] = t;
  }
  commitFlags(cpu, fpState.flags);
  const words = scalar ? (double ? 2 : 1) : 4;
  for (let w = 0; w < words; w++) x.u32[i.reg * 4 + w] = tmp.u32[w];
}

/** UCOMISS/COMISS/UCOMISD/COMISD. */
function comis(cpu: Cpu, i: DecodedInstruction): void {
  const double = i.simdPrefix === P_66;
  loadSource(cpu, i, double ? 8 : 4);
  const x = xmmViews(cpu);
  const r = i.reg;
  const aSnan = double ? isSignalingNaN64Bits(x.u32[r * 4], x.u32[r * 4 + 1]) : isSignalingNaN32Bits(x.u32[r * 4]);
  const bSnan = double ? isSignalingNaN64Bits(src.u32[0], src.u32[1]) : isSignalingNaN32Bits(src.u32[0]);
  fpState.flags = 0;
  const [a, b] = compareFlags(double ? x.f64[r * 2] : x.f32[r * 4], double ? src.f64[0] : src.f32[0], aSnan, bSnan,
    (i.opcode & 0xff) === 0x2f, !double, cpu.mxcsr, fpState);
  commitFlags(cpu, fpState.flags);
  let f: number;
  if (Number.isNaN(a) || Number.isNaN(b)) f = FLAG_ZF | FLAG_PF | FLAG_CF;
  else if (a < b) f = FLAG_CF;
  else if (a > b) f = 0;
  else f = FLAG_ZF;
  cpu.flags.setEager(f);
}

/** 0F 2A: CVTSI2SS / CVTSI2SD. */
function cvtsi2s(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize === 8 ? 8 : 4;
  const lo = cpu.readRm(i, size);
  const v = size === 8 ? BigInt.asIntN(64, (BigInt(cpu.vhi >>> 0) << 32n) | BigInt(lo >>> 0)) : BigInt(lo | 0);
  const x = xmmViews(cpu);
  fpState.flags = 0;
  const single = i.simdPrefix !== P_F2;
  const r = intToFloat(v, single, cpu.mxcsr, fpState);
  commitFlags(cpu, fpState.flags);
  if (single) x.f32[i.reg * 4] = r; else x.f64[i.reg * 2] = r;
}

/** Float -> int32/int64 with MXCSR flags: IE for NaN/out of range, PE when a fraction was dropped. */
function floatToInt(cpu: Cpu, v: number, single: boolean, mode: number, wide: boolean): [number, number] {
  fpState.flags = 0;
  v = integerConversionInput(cpu, v, single);
  let lo: number, hi = 0;
  const rounded = Number.isNaN(v) ? NaN : roundBy(mode, v);
  const invalid = Number.isNaN(rounded) || (wide
    ? rounded < -9223372036854775808 || rounded >= 9223372036854775808
    : rounded < -2147483648 || rounded > 2147483647);
  if (wide) [lo, hi] = toInt64(v, mode);
  else lo = toInt32(v, mode);
  if (invalid) fpState.flags |= MX_IE;
  else if (Math.trunc(v) !== v) fpState.flags |= MX_PE;
  commitFlags(cpu, fpState.flags);
  return [lo, hi];
}

/** Conversions to integers never report DE (SDM CVTSS2SI: Invalid, Precision); DAZ still zeroes denormals. */
function integerConversionInput(cpu: Cpu, v: number, single: boolean): number {
  const scratch = { flags: 0 };
  return conversionInput(v, single, cpu.mxcsr, scratch);
}

/** Float -> int32 lane of a packed conversion: flags accumulate in fpState, the caller commits them. */
function floatToIntQuiet(cpu: Cpu, v: number, single: boolean, mode: number): number {
  v = integerConversionInput(cpu, v, single);
  const rounded = Number.isNaN(v) ? NaN : roundBy(mode, v);
  if (Number.isNaN(rounded) || rounded < -2147483648 || rounded > 2147483647) fpState.flags |= MX_IE;
  else if (Math.trunc(v) !== v) fpState.flags |= MX_PE;
  return toInt32(v, mode);
}

/** 0F 2C/2D: CVT(T)SS2SI / CVT(T)SD2SI. */
function cvts2si(cpu: Cpu, i: DecodedInstruction): void {
  const double = i.simdPrefix === P_F2;
  loadSource(cpu, i, double ? 8 : 4);
  const v = double ? src.f64[0] : src.f32[0];
  const mode = (i.opcode & 0xff) === 0x2c ? 3 : (cpu.mxcsr >> 13) & 3;
  const wide = i.opSize === 8;
  const [lo, hi] = floatToInt(cpu, v, !double, mode, wide);
  cpu.setReg(wide ? 8 : 4, i.reg, lo, hi);
}

/** Double -> float with rounding and flags (via v + -0, which is v; zeros and NaNs are handled here). */
function narrow(cpu: Cpu, v: number, snan: boolean): number {
  // DAZ first: a zeroed denormal converts to that zero (keeping its sign), and must not meet the
  // -0 addend below, which would turn +0 into -0 when rounding down.
  if (!Number.isNaN(v)) v = conversionInput(v, false, cpu.mxcsr, fpState);
  if (v === 0) return v;
  if (Number.isNaN(v)) {
    if (snan) fpState.flags |= MX_IE;
    return v;
  }
  return mxcsrArith(OP_ADD, v, -0, true, cpu.mxcsr, fpState, snan, false, false);
}

/** Float bits of a double NaN: sign, quiet bit, top 22 payload bits (what CVTSD2SS keeps). */
function narrowNaNBits(lo: number, hi: number): number {
  return ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29)) >>> 0;
}

/** Float -> double: exact; DE for denormals, IE for SNaN. */
function widen(cpu: Cpu, v: number, bits: number): number {
  if (isSignalingNaN32Bits(bits)) fpState.flags |= MX_IE;
  return conversionInput(v, true, cpu.mxcsr, fpState);
}

/** 0F 5A: CVTPS2PD / CVTPD2PS / CVTSS2SD / CVTSD2SS. */
function cvtFloatWidth(cpu: Cpu, i: DecodedInstruction): void {
  const x = xmmViews(cpu);
  const d = i.reg;
  fpState.flags = 0;
  const snan64 = (k: number): boolean => isSignalingNaN64Bits(src.u32[2 * k], src.u32[2 * k + 1]);
  switch (i.simdPrefix) {
    case P_NONE: {
      loadSource(cpu, i, 8);
      const a = widen(cpu, src.f32[0], src.u32[0]), b = widen(cpu, src.f32[1], src.u32[1]);
      commitFlags(cpu, fpState.flags);
      x.f64[d * 2] = a; x.f64[d * 2 + 1] = b;
      break;
    }
    case P_66: {
      loadSource(cpu, i, 16, i.mod !== 3);
      const a = narrow(cpu, src.f64[0], snan64(0)), b = narrow(cpu, src.f64[1], snan64(1));
      commitFlags(cpu, fpState.flags);
      x.f32[d * 4] = a; x.f32[d * 4 + 1] = b; x.u32[d * 4 + 2] = 0; x.u32[d * 4 + 3] = 0;
      if (Number.isNaN(a)) x.u32[d * 4] = narrowNaNBits(src.u32[0], src.u32[1]);
      if (Number.isNaN(b)) x.u32[d * 4 + 1] = narrowNaNBits(src.u32[2], src.u32[3]);
      break;
    }
    case P_F3: { loadSource(cpu, i, 4); const v = widen(cpu, src.f32[0], src.u32[0]); commitFlags(cpu, fpState.flags); x.f64[d * 2] = v; break; }
    default: {
      loadSource(cpu, i, 8);
      const v = narrow(cpu, src.f64[0], snan64(0));
      commitFlags(cpu, fpState.flags);
      x.f32[d * 4] = v;
      if (Number.isNaN(v)) x.u32[d * 4] = narrowNaNBits(src.u32[0], src.u32[1]);
      break;
    }
  }
}

/** 0F 5B: CVTDQ2PS / CVTPS2DQ (66) / CVTTPS2DQ (F3). */
function cvtDq(cpu: Cpu, i: DecodedInstruction): void {
  loadSource(cpu, i, 16, i.mod !== 3);
  const x = xmmViews(cpu);
  const d = i.reg;
  let flags = 0;
  for (let k = 0; k < 4; k++) {
    fpState.flags = 0;
    if (i.simdPrefix === P_NONE) {
      tmp.f32[k] = intToFloat(BigInt(src.i32[k]), true, cpu.mxcsr, fpState);
    } else {
      tmp.u32[k] = floatToIntQuiet(cpu, src.f32[k], true, i.simdPrefix === P_F3 ? 3 : (cpu.mxcsr >> 13) & 3);
    }
    flags |= fpState.flags;
  }
  commitFlags(cpu, flags);
  for (let k = 0; k < 4; k++) x.u32[d * 4 + k] = tmp.u32[k];
}

/** 0F E6: CVTTPD2DQ (66) / CVTDQ2PD (F3) / CVTPD2DQ (F2). */
function cvtPdDq(cpu: Cpu, i: DecodedInstruction): void {
  const x = xmmViews(cpu);
  const d = i.reg;
  if (i.simdPrefix === P_F3) {
    loadSource(cpu, i, 8);
    x.f64[d * 2] = src.i32[0]; x.f64[d * 2 + 1] = src.i32[1];
    return;
  }
  loadSource(cpu, i, 16, i.mod !== 3);
  const mode = i.simdPrefix === P_66 ? 3 : (cpu.mxcsr >> 13) & 3;
  fpState.flags = 0;
  const a = floatToIntQuiet(cpu, src.f64[0], false, mode);
  const flagsA = fpState.flags;
  fpState.flags = 0;
  const b = floatToIntQuiet(cpu, src.f64[1], false, mode);
  commitFlags(cpu, flagsA | fpState.flags);
  x.u32[d * 4] = a; x.u32[d * 4 + 1] = b;
  x.u32[d * 4 + 2] = 0; x.u32[d * 4 + 3] = 0;
}

// ---------------------------------------------------------------- MXCSR

function ldmxcsr(cpu: Cpu, i: DecodedInstruction): void {
  const v = cpu.read(i.segment, cpu.effectiveAddress(i), 4);
  if ((v & ~0xffff) !== 0) throw new CpuException(VEC_GP, 0);
  cpu.mxcsr = v;
}

function stmxcsr(cpu: Cpu, i: DecodedInstruction): void {
  cpu.write(i.segment, cpu.effectiveAddress(i), 4, cpu.mxcsr, 0);
}

export const sseGroup15 = { ldmxcsr: sse(ldmxcsr), stmxcsr: sse(stmxcsr) };

// ---------------------------------------------------------------- table

export function registerSseOps(t: Handler[]): void {
  const only66 = (h: Handler): Handler => byPrefix({ [P_66]: h });
  t[0x110] = t[0x111] = byPrefix({ [P_NONE]: movFull(false), [P_66]: movFull(false), [P_F3]: movScalar(4), [P_F2]: movScalar(8) });
  t[0x112] = t[0x113] = byPrefix({ [P_NONE]: movHalf(false), [P_66]: movHalf(false) });
  t[0x116] = t[0x117] = byPrefix({ [P_NONE]: movHalf(true), [P_66]: movHalf(true) });
  t[0x114] = byPrefix({ [P_NONE]: unpack(4, false), [P_66]: unpack(8, false) });
  t[0x115] = byPrefix({ [P_NONE]: unpack(4, true), [P_66]: unpack(8, true) });
  t[0x128] = t[0x129] = byPrefix({ [P_NONE]: movFull(true), [P_66]: movFull(true) });
  t[0x12b] = byPrefix({ [P_NONE]: (c, i) => { if (i.mod === 3) ud(); movFull(true)(c, i); }, [P_66]: (c, i) => { if (i.mod === 3) ud(); movFull(true)(c, i); } });
  t[0x12a] = byPrefix({ [P_F3]: cvtsi2s, [P_F2]: cvtsi2s });
  t[0x12c] = t[0x12d] = byPrefix({ [P_F3]: cvts2si, [P_F2]: cvts2si });
  t[0x12e] = t[0x12f] = byPrefix({ [P_NONE]: comis, [P_66]: comis });
  t[0x150] = byPrefix({ [P_NONE]: movmsk, [P_66]: movmsk });
  t[0x151] = sqrt();
  t[0x152] = reciprocal(true);
  t[0x153] = reciprocal(false);
  const andps = logic((a, b) => a & b), andnps = logic((a, b) => ~a & b), orps = logic((a, b) => a | b), xorps = logic((a, b) => a ^ b);
  t[0x154] = byPrefix({ [P_NONE]: andps, [P_66]: andps });
  t[0x155] = byPrefix({ [P_NONE]: andnps, [P_66]: andnps });
  t[0x156] = byPrefix({ [P_NONE]: orps, [P_66]: orps });
  t[0x157] = byPrefix({ [P_NONE]: xorps, [P_66]: xorps });
  t[0x158] = arith(OP_ADD);
  t[0x159] = arith(OP_MUL);
  t[0x15a] = byPrefix({ [P_NONE]: cvtFloatWidth, [P_66]: cvtFloatWidth, [P_F3]: cvtFloatWidth, [P_F2]: cvtFloatWidth });
  t[0x15b] = byPrefix({ [P_NONE]: cvtDq, [P_66]: cvtDq, [P_F3]: cvtDq });
  t[0x15c] = arith(OP_SUB);
  t[0x15d] = arith('min');
  t[0x15e] = arith(OP_DIV);
  t[0x15f] = arith('max');

  t[0x160] = only66(unpack(1, false));
  t[0x161] = only66(unpack(2, false));
  t[0x162] = only66(unpack(4, false));
  t[0x163] = only66(pack('sswb'));
  t[0x164] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = x.i8[d * 16 + k] > src.i8[k] ? 0xff : 0; }));
  t[0x165] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = x.i16[d * 8 + k] > src.i16[k] ? 0xffff : 0; }));
  t[0x166] = only66(lanes(4, (x, d, k) => { x.u32[d * 4 + k] = x.i32[d * 4 + k] > src.i32[k] ? 0xffffffff : 0; }));
  t[0x167] = only66(pack('uswb'));
  t[0x168] = only66(unpack(1, true));
  t[0x169] = only66(unpack(2, true));
  t[0x16a] = only66(unpack(4, true));
  t[0x16b] = only66(pack('ssdw'));
  t[0x16c] = only66(unpack(8, false));
  t[0x16d] = only66(unpack(8, true));
  t[0x16e] = only66(movdToXmm);
  t[0x16f] = t[0x17f] = byPrefix({ [P_66]: movFull(true), [P_F3]: movFull(false) });
  t[0x170] = byPrefix({ [P_66]: pshufd, [P_F3]: pshufw(true), [P_F2]: pshufw(false) });
  t[0x171] = t[0x172] = t[0x173] = sse(shiftImm);
  t[0x174] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = x.u8[d * 16 + k] === src.u8[k] ? 0xff : 0; }));
  t[0x175] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = x.u16[d * 8 + k] === src.u16[k] ? 0xffff : 0; }));
  t[0x176] = only66(lanes(4, (x, d, k) => { x.u32[d * 4 + k] = x.u32[d * 4 + k] === src.u32[k] ? 0xffffffff : 0; }));
  t[0x177] = () => ud(); // EMMS: no MMX
  t[0x17e] = byPrefix({ [P_66]: movdFromXmm, [P_F3]: movqLoad });
  t[0x1c2] = byPrefix({ [P_NONE]: cmpps, [P_66]: cmpps, [P_F3]: cmpps, [P_F2]: cmpps });
  t[0x1c3] = (cpu, i) => { // MOVNTI
    if (i.mod === 3) ud();
    const size = i.opSize === 8 ? 8 : 4;
    const v = cpu.getReg(size, i.reg);
    cpu.writeRm(i, size, v, cpu.vhi);
  };
  t[0x1c4] = only66(pinsrw);
  t[0x1c5] = only66(pextrw);
  t[0x1c6] = byPrefix({ [P_NONE]: shufps, [P_66]: shufps });

  t[0x1d1] = only66(shiftByXmm(2, 'r'));
  t[0x1d2] = only66(shiftByXmm(4, 'r'));
  t[0x1d3] = only66(shiftByXmm(8, 'r'));
  t[0x1d4] = only66(paddq(false));
  t[0x1d5] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = Math.imul(x.i16[d * 8 + k], src.i16[k]); }));
  t[0x1d6] = only66(movqStore);
  t[0x1d7] = only66(pmovmskb);
  t[0x1d8] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = sat8u(x.u8[d * 16 + k] - src.u8[k]); }));
  t[0x1d9] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = sat16u(x.u16[d * 8 + k] - src.u16[k]); }));
  t[0x1da] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = Math.min(x.u8[d * 16 + k], src.u8[k]); }));
  t[0x1db] = only66(logic((a, b) => a & b));
  t[0x1dc] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = sat8u(x.u8[d * 16 + k] + src.u8[k]); }));
  t[0x1dd] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = sat16u(x.u16[d * 8 + k] + src.u16[k]); }));
  t[0x1de] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = Math.max(x.u8[d * 16 + k], src.u8[k]); }));
  t[0x1df] = only66(logic((a, b) => ~a & b));
  t[0x1e0] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = (x.u8[d * 16 + k] + src.u8[k] + 1) >> 1; }));
  t[0x1e1] = only66(shiftByXmm(2, 'a'));
  t[0x1e2] = only66(shiftByXmm(4, 'a'));
  t[0x1e3] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = (x.u16[d * 8 + k] + src.u16[k] + 1) >> 1; }));
  t[0x1e4] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = (x.u16[d * 8 + k] * src.u16[k]) >>> 16; }));
  t[0x1e5] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = (x.i16[d * 8 + k] * src.i16[k]) >> 16; }));
  t[0x1e6] = byPrefix({ [P_66]: cvtPdDq, [P_F3]: cvtPdDq, [P_F2]: cvtPdDq });
  t[0x1e7] = only66((c, i) => { if (i.mod === 3) ud(); movFull(true)(c, i); });
  t[0x1e8] = only66(lanes(16, (x, d, k) => { x.i8[d * 16 + k] = sat8s(x.i8[d * 16 + k] - src.i8[k]); }));
  t[0x1e9] = only66(lanes(8, (x, d, k) => { x.i16[d * 8 + k] = sat16s(x.i16[d * 8 + k] - src.i16[k]); }));
  t[0x1ea] = only66(lanes(8, (x, d, k) => { x.i16[d * 8 + k] = Math.min(x.i16[d * 8 + k], src.i16[k]); }));
  t[0x1eb] = only66(logic((a, b) => a | b));
  t[0x1ec] = only66(lanes(16, (x, d, k) => { x.i8[d * 16 + k] = sat8s(x.i8[d * 16 + k] + src.i8[k]); }));
  t[0x1ed] = only66(lanes(8, (x, d, k) => { x.i16[d * 8 + k] = sat16s(x.i16[d * 8 + k] + src.i16[k]); }));
  t[0x1ee] = only66(lanes(8, (x, d, k) => { x.i16[d * 8 + k] = Math.max(x.i16[d * 8 + k], src.i16[k]); }));
  t[0x1ef] = only66(logic((a, b) => a ^ b));
  t[0x1f1] = only66(shiftByXmm(2, 'l'));
  t[0x1f2] = only66(shiftByXmm(4, 'l'));
  t[0x1f3] = only66(shiftByXmm(8, 'l'));
  t[0x1f4] = only66(pmuludq);
  t[0x1f5] = only66(pmaddwd);
  t[0x1f6] = only66(psadbw);
  t[0x1f7] = only66(maskmovdqu);
  t[0x1f8] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = x.u8[d * 16 + k] - src.u8[k]; }));
  t[0x1f9] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = x.u16[d * 8 + k] - src.u16[k]; }));
  t[0x1fa] = only66(lanes(4, (x, d, k) => { x.u32[d * 4 + k] = x.u32[d * 4 + k] - src.u32[k]; }));
  t[0x1fb] = only66(paddq(true));
  t[0x1fc] = only66(lanes(16, (x, d, k) => { x.u8[d * 16 + k] = x.u8[d * 16 + k] + src.u8[k]; }));
  t[0x1fd] = only66(lanes(8, (x, d, k) => { x.u16[d * 8 + k] = x.u16[d * 8 + k] + src.u16[k]; }));
  t[0x1fe] = only66(lanes(4, (x, d, k) => { x.u32[d * 4 + k] = x.u32[d * 4 + k] + src.u32[k]; }));
}

/**
 * x87 floating point on JavaScript doubles (53-bit significands instead of
 * 64: results can differ from hardware in the last bits of extended
 * precision). Stack faults are not modelled, and of the unmasked x87
 * exceptions only divide-by-zero (#MF at the next waiting instruction);
 * invalid operations produce NaN like the masked response.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import { CpuException } from './cpu-exception';
import { CR0_EM, CR0_NE, CR0_TS, FLAG_CF, FLAG_PF, FLAG_ZF, VEC_MF, VEC_NM, VEC_UD } from './cpu-constants';
import { FpuState } from './fpu-state';
import { doubleToExtended, extendedToDouble } from './fpu-convert';
import { roundBy, int64ToNumber } from './sse-convert';
import { nextDown32, nextUp32, roundedArith, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT } from './sse-float';

const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
const ud = (): never => { throw new CpuException(VEC_UD, undefined); };

const f32 = new Float32Array(1);
const u32of32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u32of64 = new Uint32Array(f64.buffer);

function st(f: FpuState, k: number): number { return f.st[(f.top + k) & 7]; }
function setSt(f: FpuState, k: number, v: number): void { const p = (f.top + k) & 7; f.st[p] = v; f.valid[p] = 1; }
function push(f: FpuState, v: number): void {
  f.top = (f.top - 1) & 7;
  f.st[f.top] = v;
  f.valid[f.top] = 1;
}
function pop(f: FpuState): void { f.valid[f.top] = 0; f.top = (f.top + 1) & 7; }

function setCompare(f: FpuState, a: number, b: number): void {
  f.status &= ~(C0 | C1 | C2 | C3);
  if (Number.isNaN(a) || Number.isNaN(b)) f.status |= C0 | C2 | C3;
  else if (a < b) f.status |= C0;
  else if (a === b) f.status |= C3;
}

function setCompareFlags(cpu: Cpu, a: number, b: number): void {
  let fl: number;
  if (Number.isNaN(a) || Number.isNaN(b)) fl = FLAG_ZF | FLAG_PF | FLAG_CF;
  else if (a < b) fl = FLAG_CF;
  else if (a === b) fl = FLAG_ZF;
  else fl = 0;
  cpu.flags.setEager(fl);
}

const FSW_ZE = 0x4, FSW_ES = 0x80, FSW_B = 0x8000;
/** Set by arith when an unmasked exception leaves the destination (and the stack) unchanged. */
let suppressed = false;

/** FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV and FNSAVE do not check for a pending x87 exception. */
function nonWaiting(i: DecodedInstruction): boolean {
  const op = i.opcode & 7, r = i.regField;
  if (i.mod !== 3) return (op === 1 || op === 5) && (r === 6 || r === 7);
  return (op === 3 && r === 4 && ((i.rm & 7) === 2 || (i.rm & 7) === 3)) || (op === 7 && r === 4 && (i.rm & 7) === 0);
}

/** A pending unmasked exception (FSW.ES) raises #MF at a waiting instruction; with CR0.NE=0 the FERR# pin path is not modelled. */
function checkPending(cpu: Cpu): void {
  if ((cpu.fpu.status & FSW_ES) !== 0 && (cpu.cr0 & CR0_NE) !== 0) throw new CpuException(VEC_MF, undefined);
}

/**
 * The eight arithmetic forms in ModRM.reg order: FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR,
 * rounded by the control word's RC (FLDCW can select a directed mode).
 */
function arith(f: FpuState, op: number, a: number, b: number): number {
  const rc = (f.control >> 10) & 3;
  suppressed = false;
  // Divide-by-zero (a finite nonzero dividend over zero) is the one x87 exception modelled: ZE is
  // recorded; unmasked, ES and B are set too, the destination is left alone, and #MF waits for the
  // next waiting instruction (SDM 8.6).
  if (op >= 6) {
    const [n, d] = op === 6 ? [a, b] : [b, a];
    if (d === 0 && n !== 0 && Number.isFinite(n)) {
      f.status |= FSW_ZE;
      if ((f.control & FSW_ZE) === 0) { f.status |= FSW_ES | FSW_B; suppressed = true; return NaN; }
    }
  }
  switch (op) {
    case 0: return roundedArith(OP_ADD, a, b, rc);
    case 1: return roundedArith(OP_MUL, a, b, rc);
    case 4: return roundedArith(OP_SUB, a, b, rc);
    case 5: return roundedArith(OP_SUB, b, a, rc);
    case 6: return roundedArith(OP_DIV, a, b, rc);
    default: return roundedArith(OP_DIV, b, a, rc);
  }
}

function readMemFloat(cpu: Cpu, i: DecodedInstruction, kind: 'f32' | 'f64' | 'i16' | 'i32' | 'i64' | 'f80'): number {
  const ea = cpu.effectiveAddress(i);
  switch (kind) {
    case 'f32': u32of32[0] = cpu.read(i.segment, ea, 4); return f32[0];
    case 'f64': u32of64[0] = cpu.read(i.segment, ea, 8); u32of64[1] = cpu.vhi; return f64[0];
    case 'i16': return (cpu.read(i.segment, ea, 2) << 16) >> 16;
    case 'i32': return cpu.read(i.segment, ea, 4) | 0;
    case 'i64': { const lo = cpu.read(i.segment, ea, 8); return int64ToNumber(lo, cpu.vhi); }
    default: {
      const b = new Uint8Array(10);
      for (let k = 0; k < 10; k++) b[k] = cpu.read(i.segment, cpu.stackAddLike(i, ea, k), 1);
      return extendedToDouble(b, 0);
    }
  }
}

/** Double -> single with the x87 rounding control (FST m32). */
function narrowByControl(v: number, rc: number): number {
  const f = Math.fround(v);
  if (rc === 0 || f === v || !Number.isFinite(v)) return f;
  const below = f > v; // f rounded up
  if (rc === 1) return below ? nextDown32(f) : f;
  if (rc === 2) return below ? f : nextUp32(f);
  return v > 0 ? (below ? nextDown32(f) : f) : (below ? f : nextUp32(f));
}

function writeMemFloat(cpu: Cpu, i: DecodedInstruction, kind: 'f32' | 'f64' | 'f80', v: number): void {
  const ea = cpu.effectiveAddress(i);
  if (kind === 'f32') { f32[0] = narrowByControl(v, (cpu.fpu.control >> 10) & 3); cpu.write(i.segment, ea, 4, u32of32[0], 0); return; }
  if (kind === 'f64') { f64[0] = v; cpu.write(i.segment, ea, 8, u32of64[0], u32of64[1]); return; }
  const b = new Uint8Array(10);
  doubleToExtended(v, b, 0);
  cpu.probeWrite(cpu.linear(i.segment, ea, 10, true), 10);
  for (let k = 0; k < 10; k++) cpu.write(i.segment, cpu.stackAddLike(i, ea, k), 1, b[k], 0);
}

/** FIST/FISTP/FISTTP: integer store with the x87 rounding mode (or truncation). */
function writeMemInt(cpu: Cpu, i: DecodedInstruction, size: number, v: number, truncate: boolean): void {
  const r = Number.isNaN(v) ? NaN : roundBy(truncate ? 3 : (cpu.fpu.control >> 10) & 3, v);
  const limit = 2 ** (size * 8 - 1);
  const indefinite = Number.isNaN(r) || r < -limit || r >= limit;
  const ea = cpu.effectiveAddress(i);
  if (size === 8) {
    const big = indefinite ? 0x8000000000000000n : BigInt.asUintN(64, BigInt(r));
    cpu.write(i.segment, ea, 8, Number(big & 0xffffffffn), Number(big >> 32n));
  } else {
    const val = indefinite ? (size === 2 ? 0x8000 : 0x80000000) : r;
    cpu.write(i.segment, ea, size, size === 2 ? val & 0xffff : val >>> 0, 0);
  }
}

function fxam(f: FpuState): void {
  const v = st(f, 0);
  f.status &= ~(C0 | C1 | C2 | C3);
  f64[0] = v;
  if (u32of64[1] >>> 31) f.status |= C1;
  if (!f.valid[f.top]) f.status |= C0 | C3;
  else if (Number.isNaN(v)) f.status |= C0;
  else if (!Number.isFinite(v)) f.status |= C0 | C2;
  else if (v === 0) f.status |= C3;
  else f.status |= C2;
}

function saveEnvironment(cpu: Cpu, i: DecodedInstruction, withRegisters: boolean): void {
  const f = cpu.fpu;
  const ea = cpu.effectiveAddress(i);
  const big = i.opSize !== 2;
  const w = big ? 4 : 2;
  const words = [f.control, f.statusWord(), f.tagWord(), 0, 0, 0, 0];
  words.forEach((v, k) => cpu.write(i.segment, cpu.stackAddLike(i, ea, k * w), w, v & 0xffff, 0));
  if (withRegisters) {
    const b = new Uint8Array(10);
    for (let k = 0; k < 8; k++) {
      doubleToExtended(st(f, k), b, 0);
      for (let n = 0; n < 10; n++) cpu.write(i.segment, cpu.stackAddLike(i, ea, 7 * w + k * 10 + n), 1, b[n], 0);
    }
    f.reset();
  }
  // FNSTENV masks all exceptions afterwards.
  if (!withRegisters) f.control |= 0x3f;
}

function loadEnvironment(cpu: Cpu, i: DecodedInstruction, withRegisters: boolean): void {
  const f = cpu.fpu;
  const ea = cpu.effectiveAddress(i);
  const w = i.opSize !== 2 ? 4 : 2;
  f.control = cpu.read(i.segment, ea, 2);
  const sw = cpu.read(i.segment, cpu.stackAddLike(i, ea, w), 2);
  const tag = cpu.read(i.segment, cpu.stackAddLike(i, ea, 2 * w), 2);
  f.top = (sw >> 11) & 7;
  f.status = sw & ~0x3800;
  for (let k = 0; k < 8; k++) f.valid[k] = ((tag >> (2 * k)) & 3) === 3 ? 0 : 1;
  if (withRegisters) {
    const b = new Uint8Array(10);
    for (let k = 0; k < 8; k++) {
      for (let n = 0; n < 10; n++) b[n] = cpu.read(i.segment, cpu.stackAddLike(i, ea, 7 * w + k * 10 + n), 1);
      f.st[(f.top + k) & 7] = extendedToDouble(b, 0);
    }
  }
}

const CONSTANTS = [1, Math.log2(10), Math.LOG2E, Math.PI, Math.log10(2), Math.LN2, 0];

function x87(cpu: Cpu, i: DecodedInstruction): void {
  if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0) throw new CpuException(VEC_NM, undefined);
  if (!nonWaiting(i)) checkPending(cpu);
  const f = cpu.fpu;
  const op = i.opcode & 7;
  const r = i.regField;
  const sti = i.rm & 7;
  if (i.mod !== 3) {
    switch (op) {
      case 0: case 2: case 4: case 6: {
        const kinds = ['f32', 'i32', 'f64', 'i16'] as const;
        const v = readMemFloat(cpu, i, kinds[op >> 1]);
        if (r === 2 || r === 3) { setCompare(f, st(f, 0), v); if (r === 3) pop(f); }
        else { const res = arith(f, r, st(f, 0), v); if (!suppressed) setSt(f, 0, res); }
        return;
      }
      case 1:
        switch (r) {
          case 0: push(f, readMemFloat(cpu, i, 'f32')); return;
          case 2: writeMemFloat(cpu, i, 'f32', st(f, 0)); return;
          case 3: writeMemFloat(cpu, i, 'f32', st(f, 0)); pop(f); return;
          case 4: loadEnvironment(cpu, i, false); return;
          case 5: f.control = cpu.read(i.segment, cpu.effectiveAddress(i), 2); return;
          case 6: saveEnvironment(cpu, i, false); return;
          case 7: cpu.write(i.segment, cpu.effectiveAddress(i), 2, f.control, 0); return;
          default: ud();
        }
        return;
      case 3:
        switch (r) {
          case 0: push(f, readMemFloat(cpu, i, 'i32')); return;
          case 1: ud(); return; // FISTTP m32: SSE3, not reported by CPUID
          case 2: writeMemInt(cpu, i, 4, st(f, 0), false); return;
          case 3: writeMemInt(cpu, i, 4, st(f, 0), false); pop(f); return;
          case 5: push(f, readMemFloat(cpu, i, 'f80')); return;
          case 7: writeMemFloat(cpu, i, 'f80', st(f, 0)); pop(f); return;
          default: ud();
        }
        return;
      case 5:
        switch (r) {
          case 0: push(f, readMemFloat(cpu, i, 'f64')); return;
          case 1: ud(); return; // FISTTP m64: SSE3, not reported by CPUID
          case 2: writeMemFloat(cpu, i, 'f64', st(f, 0)); return;
          case 3: writeMemFloat(cpu, i, 'f64', st(f, 0)); pop(f); return;
          case 4: loadEnvironment(cpu, i, true); return;
          case 6: saveEnvironment(cpu, i, true); return;
          case 7: cpu.write(i.segment, cpu.effectiveAddress(i), 2, f.statusWord(), 0); return;
          default: ud();
        }
        return;
      default: // DF
        switch (r) {
          case 0: push(f, readMemFloat(cpu, i, 'i16')); return;
          case 1: ud(); return; // FISTTP m16: SSE3, not reported by CPUID
          case 2: writeMemInt(cpu, i, 2, st(f, 0), false); return;
          case 3: writeMemInt(cpu, i, 2, st(f, 0), false); pop(f); return;
          case 5: push(f, readMemFloat(cpu, i, 'i64')); return;
          case 7: writeMemInt(cpu, i, 8, st(f, 0), false); pop(f); return;
          default: cpu.unimplemented(`x87 packed BCD (df /${r})`);
        }
    }
  }
  // Register forms.
  switch (op) {
    case 0:
      if (r === 2 || r === 3) { setCompare(f, st(f, 0), st(f, sti)); if (r === 3) pop(f); }
      else { const res = arith(f, r, st(f, 0), st(f, sti)); if (!suppressed) setSt(f, 0, res); }
      return;
    case 1:
      if (r === 0) { push(f, st(f, sti)); return; }
      if (r === 1) { const a = st(f, 0); setSt(f, 0, st(f, sti)); setSt(f, sti, a); return; }
      if (r === 2 && sti === 0) return; // FNOP
      if (r === 4) {
        switch (sti) {
          case 0: setSt(f, 0, -st(f, 0)); return;
          case 1: setSt(f, 0, Math.abs(st(f, 0))); return;
          case 4: setCompare(f, st(f, 0), 0); return;
          case 5: fxam(f); return;
          default: ud();
        }
      }
      if (r === 5 && sti < 7) { push(f, CONSTANTS[sti]); return; }
      if (r === 6 || r === 7) { transcendental(f, (r - 6) * 8 + sti); return; }
      ud();
      return;
    case 2:
      if (r < 4) { if (fcmov(cpu, r)) setSt(f, 0, st(f, sti)); return; }
      if (r === 5 && sti === 1) { setCompare(f, st(f, 0), st(f, 1)); pop(f); pop(f); return; }
      ud();
      return;
    case 3:
      if (r < 4) { if (!fcmov(cpu, r)) setSt(f, 0, st(f, sti)); return; }
      if (r === 4) {
        if (sti === 2) { f.status &= ~0x80ff; return; } // FNCLEX
        if (sti === 3) { f.reset(); return; } // FNINIT
        if (sti === 0 || sti === 1 || sti === 4) return; // FENI/FDISI/FSETPM: no-ops
        ud();
      }
      if (r === 5 || r === 6) { setCompareFlags(cpu, st(f, 0), st(f, sti)); return; }
      ud();
      return;
    case 4:
      if (r === 2 || r === 3) { setCompare(f, st(f, 0), st(f, sti)); if (r === 3) pop(f); return; }
      // DC/DE: ST(i) = ST(i) op ST(0) where the SUB/SUBR and DIV/DIVR encodings are swapped (r ^ 1).
      { const res = arith(f, r ^ (r >= 4 ? 1 : 0), st(f, sti), st(f, 0)); if (!suppressed) setSt(f, sti, res); }
      return;
    case 5:
      switch (r) {
        case 0: f.valid[(f.top + sti) & 7] = 0; return;
        case 2: setSt(f, sti, st(f, 0)); return;
        case 3: setSt(f, sti, st(f, 0)); pop(f); return;
        case 4: setCompare(f, st(f, 0), st(f, sti)); return;
        case 5: setCompare(f, st(f, 0), st(f, sti)); pop(f); return;
        default: ud();
      }
      return;
    case 6:
      if (r === 3 && sti === 1) { setCompare(f, st(f, 0), st(f, 1)); pop(f); pop(f); return; }
      if (r === 2 || r === 3) ud();
      { const res = arith(f, r ^ (r >= 4 ? 1 : 0), st(f, sti), st(f, 0)); if (!suppressed) { setSt(f, sti, res); pop(f); } }
      return;
    default:
      if (r === 4 && sti === 0) { cpu.setReg(2, 0, f.statusWord(), 0); return; }
      if (r === 5 || r === 6) { setCompareFlags(cpu, st(f, 0), st(f, sti)); pop(f); return; }
      if (r === 0) { f.valid[(f.top + sti) & 7] = 0; pop(f); return; } // FFREEP
      ud();
  }
}

function fcmov(cpu: Cpu, r: number): boolean {
  switch (r) {
    case 0: return cpu.flags.cf();
    case 1: return cpu.flags.zf();
    case 2: return cpu.flags.cf() || cpu.flags.zf();
    default: return cpu.flags.pf();
  }
}

/** D9 F0-FF. */
function transcendental(f: FpuState, n: number): void {
  const a = st(f, 0);
  const b = st(f, 1);
  // C2 reports an incomplete reduction (FPREM/FPREM1) or an out-of-range operand (FPTAN, FSIN, FCOS,
  // FSINCOS); the others leave C0-C3 as they were on the hardware the harness compares with.
  if (n === 2 || n === 5 || n === 8 || n === 11 || n === 14 || n === 15) f.status &= ~C2;
  switch (n) {
    case 0: setSt(f, 0, Math.pow(2, a) - 1); return; // F2XM1
    case 1: setSt(f, 1, b * Math.log2(a)); pop(f); return; // FYL2X
    case 2: setSt(f, 0, Math.tan(a)); push(f, 1); return; // FPTAN
    case 3: setSt(f, 1, Math.atan2(b, a)); pop(f); return; // FPATAN
    case 4: { // FXTRACT
      if (a === 0 || !Number.isFinite(a)) { push(f, a); return; }
      const e = Math.floor(Math.log2(Math.abs(a)));
      let m = a / Math.pow(2, e);
      let ex = e;
      if (Math.abs(m) >= 2) { m /= 2; ex++; } else if (Math.abs(m) < 1) { m *= 2; ex--; }
      setSt(f, 0, ex); push(f, m); return;
    }
    case 5: case 8: { // FPREM1 / FPREM
      const q = n === 8 ? Math.trunc(a / b) : roundBy(0, a / b);
      const rem = a - q * b;
      setSt(f, 0, n === 8 ? a % b : rem);
      const qi = Math.abs(q);
      f.status &= ~(C0 | C1 | C3);
      if (qi & 1) f.status |= C1;
      if (qi & 2) f.status |= C3;
      if (qi & 4) f.status |= C0;
      return;
    }
    case 6: f.top = (f.top - 1) & 7; return; // FDECSTP
    case 7: f.top = (f.top + 1) & 7; return; // FINCSTP
    case 9: setSt(f, 1, b * Math.log2(a + 1)); pop(f); return; // FYL2XP1
    case 10: setSt(f, 0, roundedArith(OP_SQRT, a, 0, (f.control >> 10) & 3)); return;
    case 11: setSt(f, 0, Math.sin(a)); push(f, Math.cos(a)); return; // FSINCOS
    case 12: { // FRNDINT by the control word's RC; a zero result keeps the operand's sign (-0.3 -> -0)
      const v = Number.isFinite(a) ? roundBy((f.control >> 10) & 3, a) : a;
      setSt(f, 0, v === 0 ? (a < 0 || Object.is(a, -0) ? -0 : 0) : v);
      return;
    }
    case 13: setSt(f, 0, a * Math.pow(2, Math.trunc(b))); return; // FSCALE
    case 14: setSt(f, 0, Math.sin(a)); return;
    default: setSt(f, 0, Math.cos(a)); return;
  }
}

export function registerX87Ops(t: Handler[]): void {
  for (let op = 0xd8; op <= 0xdf; op++) t[op] = x87;
  t[0x9b] = (cpu) => {
    if ((cpu.cr0 & (CR0_TS | 0x2)) === (CR0_TS | 0x2)) throw new CpuException(VEC_NM, undefined);
    checkPending(cpu);
  };
}

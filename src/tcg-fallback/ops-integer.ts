/**
 * General-purpose integer instructions: ALU, moves, stack, near control flow,
 * shifts, multiply/divide, bit operations and the one-byte miscellany.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import { CpuException } from './cpu-exception';
import {
  aluBinary, aluIncDec, aluNeg, aluShift, aluDoubleShift, ALU_CMP, ALU_AND, fromBig, toBig, SIZE_MASK,
} from './alu';
import { resultFlags, LAZY_IMUL, LAZY_LOGIC, PARITY } from './lazy-flags';
import { multiplyLow64, product } from './mul64';
import { rdrand } from './ops-random';
import {
  FLAG_AF, FLAG_CF, FLAG_DF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, SEG_DS, TWO_32, VEC_DE, VEC_UD,
} from './cpu-constants';

const ud = (): never => { throw new CpuException(VEC_UD, undefined); };

/** Sign-extends an immediate (signed 32-bit number) to the operand size: returns lo, hi. */
function immLo(i: DecodedInstruction, size: number): number {
  return (i.imm & SIZE_MASK[size]) >>> 0;
}
function immHi(i: DecodedInstruction, size: number): number {
  return size === 8 ? (i.imm < 0 ? 0xffffffff : 0) : 0;
}

function byteSize(i: DecodedInstruction): number {
  return (i.opcode & 1) === 0 ? 1 : i.opSize;
}

/** ALU op on the ModRM forms 00-3B: bit 1 = direction (reg is destination), bit 0 = word/dword. */
function aluModrm(cpu: Cpu, i: DecodedInstruction): void {
  const op = (i.opcode >> 3) & 7;
  const size = byteSize(i);
  if ((i.opcode & 2) === 0) {
    const a = op === ALU_CMP ? cpu.readRm(i, size) : cpu.readRmForWrite(i, size);
    const ah = cpu.vhi;
    const b = cpu.getReg(size, i.reg, i);
    const bh = cpu.vhi;
    const r = aluBinary(cpu.flags, op, size, a, ah, b, bh);
    if (op !== ALU_CMP) cpu.writeBackRm(i, size, r, cpu.flags.hi);
  } else {
    const b = cpu.readRm(i, size);
    const bh = cpu.vhi;
    const a = cpu.getReg(size, i.reg, i);
    const ah = cpu.vhi;
    const r = aluBinary(cpu.flags, op, size, a, ah, b, bh);
    if (op !== ALU_CMP) cpu.setReg(size, i.reg, r, cpu.flags.hi, i);
  }
}

/** ALU op AL/eAX, imm (04/05, 0C/0D, ...). */
function aluAccImm(cpu: Cpu, i: DecodedInstruction): void {
  const op = (i.opcode >> 3) & 7;
  const size = byteSize(i);
  const a = cpu.getReg(size, 0);
  const ah = cpu.vhi;
  const r = aluBinary(cpu.flags, op, size, a, ah, immLo(i, size), immHi(i, size));
  if (op !== ALU_CMP) cpu.setReg(size, 0, r, cpu.flags.hi);
}

/** Group 1: 80, 81, 82, 83. */
function group1(cpu: Cpu, i: DecodedInstruction): void {
  const op = i.regField;
  const size = i.opcode === 0x80 || i.opcode === 0x82 ? 1 : i.opSize;
  if (i.opcode === 0x82 && cpu.is64) ud();
  const a = op === ALU_CMP ? cpu.readRm(i, size) : cpu.readRmForWrite(i, size);
  const ah = cpu.vhi;
  const r = aluBinary(cpu.flags, op, size, a, ah, immLo(i, size), immHi(i, size));
  if (op !== ALU_CMP) cpu.writeBackRm(i, size, r, cpu.flags.hi);
}

function test(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const a = cpu.readRm(i, size);
  const ah = cpu.vhi;
  const b = cpu.getReg(size, i.reg, i);
  aluBinary(cpu.flags, ALU_AND, size, a, ah, b, cpu.vhi);
}

function testAccImm(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const a = cpu.getReg(size, 0);
  aluBinary(cpu.flags, ALU_AND, size, a, cpu.vhi, immLo(i, size), immHi(i, size));
}

function incDecReg(cpu: Cpu, i: DecodedInstruction): void {
  if (cpu.is64) ud();
  const r = i.opcode & 7;
  const v = aluIncDec(cpu.flags, (i.opcode & 8) !== 0, i.opSize, cpu.getReg(i.opSize, r), 0);
  cpu.setReg(i.opSize, r, v, 0);
}

function pushReg(cpu: Cpu, i: DecodedInstruction): void {
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  const v = cpu.getReg(i.opSize, r);
  cpu.push(i.opSize, v, cpu.vhi);
}

function popReg(cpu: Cpu, i: DecodedInstruction): void {
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  const v = cpu.pop(i.opSize);
  cpu.setReg(i.opSize, r, v, cpu.vhi);
}

function pushImm(cpu: Cpu, i: DecodedInstruction): void {
  cpu.push(i.opSize, immLo(i, i.opSize), immHi(i, i.opSize));
}

function popRm(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  // The memory destination is computed with RSP already incremented (SDM POP).
  const sp = cpu.stackPointer();
  const v = cpu.peek(size);
  const vh = cpu.vhi;
  if (i.mod === 3) {
    cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(sp, size));
    cpu.setReg(size, i.rm, v, vh, i);
    return;
  }
  cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(sp, size));
  try {
    cpu.writeRm(i, size, v, vh);
  } catch (e) {
    cpu.setRegAddress(4, cpu.stackSize, sp);
    throw e;
  }
}

function pusha(cpu: Cpu, i: DecodedInstruction): void {
  if (cpu.is64) ud();
  const size = i.opSize;
  const sp = cpu.stackPointer();
  const values = [0, 1, 2, 3, 4, 5, 6, 7].map((r) => (r === 4 ? sp : cpu.getReg(size, r)));
  let p = sp;
  for (const v of values) { p = cpu.stackAdd(p, -size); cpu.write(2, p, size, v); }
  cpu.setRegAddress(4, cpu.stackSize, p);
}

function popa(cpu: Cpu, i: DecodedInstruction): void {
  if (cpu.is64) ud();
  const size = i.opSize;
  let p = cpu.stackPointer();
  const values: number[] = [];
  for (let k = 0; k < 8; k++) { values.push(cpu.read(2, p, size)); p = cpu.stackAdd(p, size); }
  for (let k = 0; k < 8; k++) { const r = 7 - k; if (r !== 4) cpu.setReg(size, r, values[k], 0); }
  cpu.setRegAddress(4, cpu.stackSize, p);
}

function imulImm(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  const a = cpu.readRm(i, size);
  imulTruncating(cpu, i, size, a, cpu.vhi, immLo(i, size), immHi(i, size));
}

function imulRegRm(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  const a = cpu.readRm(i, size);
  const ah = cpu.vhi;
  const b = cpu.getReg(size, i.reg);
  imulTruncating(cpu, i, size, a, ah, b, cpu.vhi);
}

/**
 * IMUL r, r/m [, imm]: only the low product is kept, so 32/64-bit operands
 * skip the full product and record LAZY_IMUL (CF/OF computed only if read,
 * the same flags as Multiplier's eager ones; the translator records the same).
 */
function imulTruncating(cpu: Cpu, i: DecodedInstruction, size: number, a: number, ah: number, b: number, bh: number): void {
  if (size === 2) {
    cpu.mul.multiply(cpu.flags, true, size, a, ah, b, bh);
    cpu.setReg(size, i.reg, cpu.mul.lo, cpu.mul.loHi);
    return;
  }
  let lo: number, hi = 0;
  if (size === 8) { lo = multiplyLow64(a >>> 0, ah >>> 0, b >>> 0, bh >>> 0); hi = product[1]; } else { lo = Math.imul(a, b) >>> 0; ah = 0; bh = 0; }
  cpu.flags.record(LAZY_IMUL, size, lo, hi, a >>> 0, ah >>> 0, b >>> 0, bh >>> 0, 0);
  cpu.setReg(size, i.reg, lo, hi);
}

function jccShort(cpu: Cpu, i: DecodedInstruction): void {
  if (cpu.flags.condition(i.opcode & 0xf)) cpu.branchTo(cpu.nextRip + i.imm, i.opSize);
}

function xchg(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const a = cpu.readRmForWrite(i, size);
  const ah = cpu.vhi;
  const b = cpu.getReg(size, i.reg, i);
  cpu.writeBackRm(i, size, b, cpu.vhi);
  cpu.setReg(size, i.reg, a, ah, i);
}

function movRmReg(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const v = cpu.getReg(size, i.reg, i);
  cpu.writeRm(i, size, v, cpu.vhi);
}

function movRegRm(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const v = cpu.readRm(i, size);
  cpu.setReg(size, i.reg, v, cpu.vhi, i);
}

function lea(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) ud();
  cpu.effectiveAddress(i);
  cpu.setReg(i.opSize, i.reg, cpu.eaLo, cpu.eaHi);
}

/** Guest time PAUSE takes beyond its own instruction, in instructions (see Cpu.pauseTime). */
export const PAUSE_EXTRA_INSTRUCTIONS = 99;

/**
 * PAUSE: spends PAUSE_EXTRA_INSTRUCTIONS of guest time (at most what is left
 * of the chunk's) and tells the run loop (yieldSlice), which cuts the chunk's
 * remaining instruction budget by that time (Cpu.budgetAfterPause), since the
 * instructions after it would otherwise run the chunk's whole budget on top and
 * carry guest time past the timer deadline the chunk was cut at. With more vCPUs
 * the vCPU gives up its slice instead, so the others can release what it spins on.
 */
function pause(cpu: Cpu): void {
  const room = cpu.chunkTimeEnd - cpu.instructionCount - 1 - cpu.pauseTime;
  if (room > 0) cpu.pauseTime += Math.min(PAUSE_EXTRA_INSTRUCTIONS, room);
  // Without a chunk (chunkTimeEnd infinite: a caller of Cpu.execute other than the vCPU) there is no deadline to keep.
  if (cpu.chunkTimeEnd !== Infinity || cpu.cpuCount > 1) cpu.yieldSlice = true;
}

function xchgAcc(cpu: Cpu, i: DecodedInstruction): void {
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  if (r === 0) {
    // NOP, or PAUSE (F3 90): a spin-wait hint. 90 with REX.B is XCHG r8, rax.
    if (i.rep === 0xf3) pause(cpu);
    return;
  }
  const size = i.opSize;
  const a = cpu.getReg(size, 0);
  const ah = cpu.vhi;
  const b = cpu.getReg(size, r);
  cpu.setReg(size, 0, b, cpu.vhi);
  cpu.setReg(size, r, a, ah);
}

function convertA(cpu: Cpu, i: DecodedInstruction): void {
  // CBW / CWDE / CDQE
  switch (i.opSize) {
    case 2: cpu.setReg(2, 0, ((cpu.lo[0] << 24) >> 24) & 0xffff, 0); break;
    case 4: cpu.setReg(4, 0, ((cpu.lo[0] << 16) >> 16) >>> 0, 0); break;
    default: cpu.setReg(8, 0, cpu.lo[0], (cpu.lo[0] | 0) < 0 ? 0xffffffff : 0);
  }
}

function convertD(cpu: Cpu, i: DecodedInstruction): void {
  // CWD / CDQ / CQO
  switch (i.opSize) {
    case 2: cpu.setReg(2, 2, (cpu.lo[0] & 0x8000) !== 0 ? 0xffff : 0, 0); break;
    case 4: cpu.setReg(4, 2, (cpu.lo[0] | 0) < 0 ? 0xffffffff : 0, 0); break;
    default: { const s = (cpu.hi[0] | 0) < 0 ? 0xffffffff : 0; cpu.setReg(8, 2, s, s); }
  }
}

function sahf(cpu: Cpu): void {
  const ah = (cpu.lo[0] >>> 8) & 0xff;
  const keep = cpu.flags.arith() & FLAG_OF;
  cpu.flags.setEager(keep | (ah & (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF)));
}

function lahf(cpu: Cpu): void {
  const f = cpu.getEflags() & 0xff;
  cpu.lo[0] = (cpu.lo[0] & 0xffff00ff) | (f << 8);
}

function movAccMoffs(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const offset = i.addrSize === 8 ? (i.immHi | 0) * TWO_32 + (i.imm >>> 0) : i.imm >>> 0;
  const seg = i.segOverride >= 0 ? i.segOverride : SEG_DS;
  if ((i.opcode & 2) === 0) {
    const v = cpu.read(seg, offset, size);
    cpu.setReg(size, 0, v, cpu.vhi);
  } else {
    const v = cpu.getReg(size, 0);
    cpu.write(seg, offset, size, v, cpu.vhi);
  }
}

function movRegImm8(cpu: Cpu, i: DecodedInstruction): void {
  cpu.setReg(1, (i.opcode & 7) | ((i.rex & 1) << 3), i.imm & 0xff, 0, i);
}

function movRegImm(cpu: Cpu, i: DecodedInstruction): void {
  cpu.setReg(i.opSize, (i.opcode & 7) | ((i.rex & 1) << 3), i.imm >>> 0, i.immHi >>> 0);
}

function movRmImm(cpu: Cpu, i: DecodedInstruction): void {
  if (i.regField !== 0) ud();
  const size = byteSize(i);
  cpu.writeRm(i, size, immLo(i, size), immHi(i, size));
}

/** Group 2: C0/C1 (imm8), D0/D1 (1), D2/D3 (CL). */
function group2(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  const count = i.opcode <= 0xc1 ? i.imm & 0xff : i.opcode <= 0xd1 ? 1 : cpu.lo[1] & 0xff;
  const a = cpu.readRmForWrite(i, size);
  const r = aluShift(cpu.flags, i.regField, size, a, cpu.vhi, count);
  cpu.writeBackRm(i, size, r, cpu.flags.hi);
}

function retNear(cpu: Cpu, i: DecodedInstruction): void {
  const target = cpu.peek(i.opSize);
  const th = cpu.vhi;
  const t = i.opSize === 8 ? (th | 0) * TWO_32 + target : target;
  cpu.branchTo(t, i.opSize);
  const extra = i.opcode === 0xc2 ? i.imm : 0;
  cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(cpu.stackPointer(), i.opSize + extra));
}

function enter(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  const level = i.imm2 & 31;
  const ss = cpu.stackSize;
  let sp = cpu.stackPointer();
  const bp = cpu.getReg(size, 5);
  const bph = cpu.vhi;
  sp = cpu.stackAdd(sp, -size);
  cpu.write(2, sp, size, bp, bph);
  const frame = sp;
  let bpAddr = cpu.regAddress(5, ss);
  for (let k = 1; k < level; k++) {
    bpAddr = cpu.stackAdd(bpAddr, -size);
    const v = cpu.read(2, bpAddr, size);
    const vh = cpu.vhi;
    sp = cpu.stackAdd(sp, -size);
    cpu.write(2, sp, size, v, vh);
  }
  if (level > 0) { sp = cpu.stackAdd(sp, -size); cpu.write(2, sp, size, frame >>> 0, Math.floor(frame / TWO_32)); }
  const newSp = cpu.stackAdd(sp, -i.imm);
  // Touch the lowest byte so a stack fault happens before any register changes.
  if (i.imm > 0) cpu.read(2, newSp, 1);
  cpu.setRegAddress(5, size === 2 ? 2 : ss, frame);
  cpu.setRegAddress(4, ss, newSp);
}

function leave(cpu: Cpu, i: DecodedInstruction): void {
  const ss = cpu.stackSize;
  const bp = cpu.regAddress(5, ss);
  const v = cpu.read(2, bp, i.opSize);
  const vh = cpu.vhi;
  cpu.setRegAddress(4, ss, cpu.stackAdd(bp, i.opSize));
  cpu.setReg(i.opSize, 5, v, vh);
}

function loop(cpu: Cpu, i: DecodedInstruction): void {
  const as = i.addrSize;
  if (i.opcode === 0xe3) {
    if (cpu.regAddress(1, as) === 0) cpu.branchTo(cpu.nextRip + i.imm, i.opSize);
    return;
  }
  const c = cpu.regAddress(1, as) - 1;
  cpu.setRegAddress(1, as, as === 8 ? c : as === 4 ? c >>> 0 : c & 0xffff);
  const nonzero = as === 8 ? c !== 0 : as === 4 ? (c >>> 0) !== 0 : (c & 0xffff) !== 0;
  let take = nonzero;
  if (i.opcode === 0xe0) take = nonzero && !cpu.flags.zf();
  else if (i.opcode === 0xe1) take = nonzero && cpu.flags.zf();
  if (take) cpu.branchTo(cpu.nextRip + i.imm, i.opSize);
}

function callRel(cpu: Cpu, i: DecodedInstruction): void {
  const ret = cpu.nextRip;
  const target = ret + i.imm;
  const size = i.opSize;
  cpu.branchTo(target, size);
  cpu.push(size, ret >>> 0, Math.floor(ret / TWO_32) >>> 0);
}

function jmpRel(cpu: Cpu, i: DecodedInstruction): void {
  cpu.branchTo(cpu.nextRip + i.imm, i.opSize);
}

function cmc(cpu: Cpu): void { cpu.flags.setEager(cpu.flags.arith() ^ FLAG_CF); }
function clc(cpu: Cpu): void { cpu.flags.setEager(cpu.flags.arith() & ~FLAG_CF); }
function stc(cpu: Cpu): void { cpu.flags.setEager(cpu.flags.arith() | FLAG_CF); }
function cld(cpu: Cpu): void { cpu.eflagsSys &= ~FLAG_DF; }
function std(cpu: Cpu): void { cpu.eflagsSys |= FLAG_DF; }

/** Group 3: F6/F7 — TEST, NOT, NEG, MUL, IMUL, DIV, IDIV. */
function group3(cpu: Cpu, i: DecodedInstruction): void {
  const size = byteSize(i);
  switch (i.regField) {
    case 0: case 1: {
      const a = cpu.readRm(i, size);
      aluBinary(cpu.flags, ALU_AND, size, a, cpu.vhi, immLo(i, size), immHi(i, size));
      return;
    }
    case 2: {
      const a = cpu.readRmForWrite(i, size);
      cpu.writeBackRm(i, size, (~a & SIZE_MASK[size]) >>> 0, ~cpu.vhi >>> 0);
      return;
    }
    case 3: {
      const a = cpu.readRmForWrite(i, size);
      const r = aluNeg(cpu.flags, size, a, cpu.vhi);
      cpu.writeBackRm(i, size, r, cpu.flags.hi);
      return;
    }
    case 4: case 5: {
      const b = cpu.readRm(i, size);
      const bh = cpu.vhi;
      const a = cpu.getReg(size, 0);
      cpu.mul.multiply(cpu.flags, i.regField === 5, size, a, cpu.vhi, b, bh);
      const m = cpu.mul;
      if (size === 1) cpu.setReg(2, 0, (m.lo & 0xff) | ((m.high & 0xff) << 8), 0);
      else { cpu.setReg(size, 0, m.lo, m.loHi); cpu.setReg(size, 2, m.high, m.highHi); }
      return;
    }
    default: {
      const d = cpu.readRm(i, size);
      const dh = cpu.vhi;
      const signed = i.regField === 7;
      let ok: boolean;
      if (size === 1) ok = cpu.div.divide(signed, 1, cpu.lo[0] & 0xff, 0, (cpu.lo[0] >>> 8) & 0xff, 0, d, 0);
      else {
        const lo = cpu.getReg(size, 0); const loh = cpu.vhi;
        const hi = cpu.getReg(size, 2); const hih = cpu.vhi;
        ok = cpu.div.divide(signed, size, lo, loh, hi, hih, d, dh);
      }
      if (!ok) throw new CpuException(VEC_DE, undefined);
      const q = cpu.div;
      if (size === 1) cpu.setReg(2, 0, (q.quot & 0xff) | ((q.rem & 0xff) << 8), 0);
      else { cpu.setReg(size, 0, q.quot, q.quotHi); cpu.setReg(size, 2, q.rem, q.remHi); }
    }
  }
}

/** Group 4 (FE): INC/DEC r/m8. */
function group4(cpu: Cpu, i: DecodedInstruction): void {
  if (i.regField > 1) ud();
  const a = cpu.readRmForWrite(i, 1);
  cpu.writeBackRm(i, 1, aluIncDec(cpu.flags, i.regField === 1, 1, a, 0), 0);
}

/** Group 5 (FF): INC, DEC, CALL, CALLF, JMP, JMPF, PUSH. */
function group5(cpu: Cpu, i: DecodedInstruction, far: Handler): void {
  const size = i.opSize;
  switch (i.regField) {
    case 0: case 1: {
      const a = cpu.readRmForWrite(i, size);
      const r = aluIncDec(cpu.flags, i.regField === 1, size, a, cpu.vhi);
      cpu.writeBackRm(i, size, r, cpu.flags.hi);
      return;
    }
    case 2: case 4: {
      const t = cpu.readRm(i, size);
      const target = size === 8 ? (cpu.vhi | 0) * TWO_32 + t : t;
      const ret = cpu.nextRip;
      cpu.branchTo(target, size);
      if (i.regField === 2) cpu.push(size, ret >>> 0, Math.floor(ret / TWO_32) >>> 0);
      return;
    }
    case 3: case 5: far(cpu, i); return;
    case 6: {
      const v = cpu.readRm(i, size);
      cpu.push(size, v, cpu.vhi);
      return;
    }
    default: ud();
  }
}

function cmovcc(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  const v = cpu.readRm(i, size);
  const vh = cpu.vhi;
  if (cpu.flags.condition(i.opcode & 0xf)) cpu.setReg(size, i.reg, v, vh);
  else if (size === 4) cpu.hi[i.reg] = 0; // 32-bit CMOV zero-extends even when false
}

function setcc(cpu: Cpu, i: DecodedInstruction): void {
  cpu.writeRm(i, 1, cpu.flags.condition(i.opcode & 0xf) ? 1 : 0, 0);
}

function jccNear(cpu: Cpu, i: DecodedInstruction): void {
  if (cpu.flags.condition(i.opcode & 0xf)) cpu.branchTo(cpu.nextRip + i.imm, i.opSize);
}

/** BT/BTS/BTR/BTC with a register bit offset (memory form addresses beyond the operand). */
function bitTestReg(cpu: Cpu, i: DecodedInstruction, op: number): void {
  const size = i.opSize;
  const bits = size * 8;
  const off = cpu.getReg(size, i.reg);
  const offHi = cpu.vhi;
  if (i.mod === 3) {
    bitTestApply(cpu, i, op, size, (off & (bits - 1)), true);
    return;
  }
  // Signed bit offset selects the element: displacement = floor(offset / bits) * size bytes.
  const signedOff = size === 8 ? (offHi | 0) * TWO_32 + off : size === 4 ? off | 0 : (off << 16) >> 16;
  const element = Math.floor(signedOff / bits);
  const ea = cpu.effectiveAddress(i) + element * size;
  const addr = i.addrSize === 8 ? ea : i.addrSize === 4 ? ea >>> 0 : ea & 0xffff;
  bitTestMemory(cpu, i, op, size, addr, signedOff - element * bits);
}

function bitTestImm(cpu: Cpu, i: DecodedInstruction): void {
  if (i.regField < 4) ud();
  const size = i.opSize;
  const bit = i.imm & (size * 8 - 1);
  if (i.mod === 3) bitTestApply(cpu, i, i.regField - 4, size, bit, true);
  else bitTestMemory(cpu, i, i.regField - 4, size, cpu.effectiveAddress(i), bit);
}

function bitTestMemory(cpu: Cpu, i: DecodedInstruction, op: number, size: number, offset: number, bit: number): void {
  // The access is operand-sized at the element holding the bit, which decides the fault address.
  const lin = cpu.linear(i.segment, offset, size, op !== 0);
  if (op !== 0) cpu.probeWrite(lin, size);
  const lo = cpu.readLinear(lin, size);
  const hi = size === 8 ? cpu.vhi : 0;
  const inHi = bit >= 32;
  const mask = (1 << (bit & 31)) >>> 0;
  const word = inHi ? hi : lo;
  setCarryKeepOthers(cpu, (word & mask) !== 0);
  if (op === 0) return;
  const nw = (op === 1 ? word | mask : op === 2 ? word & ~mask : word ^ mask) >>> 0;
  cpu.writeLinear(lin, size, inHi ? lo : nw, inHi ? nw : hi);
}

function bitTestApply(cpu: Cpu, i: DecodedInstruction, op: number, size: number, bit: number, _reg: boolean): void {
  let lo = cpu.getReg(size, i.rm);
  let hi = size === 8 ? cpu.vhi : 0;
  const inHi = bit >= 32;
  const mask = (1 << (bit & 31)) >>> 0;
  const word = inHi ? hi : lo;
  setCarryKeepOthers(cpu, (word & mask) !== 0);
  if (op === 0) return;
  const nw = (op === 1 ? word | mask : op === 2 ? word & ~mask : word ^ mask) >>> 0;
  if (inHi) hi = nw; else lo = nw;
  cpu.setReg(size, i.rm, lo, hi);
}

function setCarryKeepOthers(cpu: Cpu, cf: boolean): void {
  const f = cpu.flags.arith();
  cpu.flags.setEager(cf ? f | FLAG_CF : f & ~FLAG_CF);
}

/** BSF/BSR and LZCNT (F3 0F BD). */
function bitScan(cpu: Cpu, i: DecodedInstruction, reverse: boolean): void {
  const size = i.opSize;
  const lo = cpu.readRm(i, size);
  const hi = size === 8 ? cpu.vhi : 0;
  const bits = size * 8;
  const value = size === 2 ? lo & 0xffff : lo;
  let index = -1;
  if (reverse) {
    if (size === 8 && hi !== 0) index = 63 - Math.clz32(hi);
    else if (value !== 0) index = 31 - Math.clz32(value);
  } else {
    if (value !== 0) index = 31 - Math.clz32(value & -value);
    else if (size === 8 && hi !== 0) index = 32 + 31 - Math.clz32(hi & -hi);
  }
  const zero = index < 0;
  // LZCNT (ABM, reported by CPUID): count, CF = source was zero, ZF = result is zero. F3 0F BC
  // stays BSF: TZCNT is BMI1, which CPUID does not report, and a CPU without it ignores the REP.
  if (i.rep === 0xf3 && reverse) {
    const count = zero ? bits : reverse ? bits - 1 - index : index;
    const f = cpu.flags.arith() & ~(FLAG_CF | FLAG_ZF);
    cpu.flags.setEager(f | (zero ? FLAG_CF : 0) | (count === 0 ? FLAG_ZF : 0));
    cpu.setReg(size, i.reg, count, 0);
    return;
  }
  // BSF/BSR: ZF set and destination unchanged when the source is zero (what hardware does).
  cpu.flags.setEager(zero ? FLAG_ZF : 0);
  if (!zero) cpu.setReg(size, i.reg, index, 0);
}

function popcnt(cpu: Cpu, i: DecodedInstruction): void {
  if (i.rep !== 0xf3) ud();
  const size = i.opSize;
  const lo = cpu.readRm(i, size);
  const hi = size === 8 ? cpu.vhi : 0;
  const count = bitCount(size === 2 ? lo & 0xffff : lo) + bitCount(hi);
  cpu.flags.setEager(count === 0 ? FLAG_ZF : 0);
  cpu.setReg(size, i.reg, count, 0);
}

function bitCount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

function bswap(cpu: Cpu, i: DecodedInstruction): void {
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  if (i.opSize === 8) cpu.setReg(8, r, bswap32(cpu.hi[r]), bswap32(cpu.lo[r]));
  else if (i.opSize === 4) cpu.setReg(4, r, bswap32(cpu.lo[r]), 0);
  else cpu.setReg(2, r, 0, 0); // BSWAP r16 is undefined; hardware zeroes it.
}

function movbe(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) ud();
  const size = i.opSize;
  const swap = (lo: number, hi: number): [number, number] =>
    size === 8 ? [bswap32(hi), bswap32(lo)] : size === 4 ? [bswap32(lo), 0] : [((lo & 0xff) << 8) | ((lo >> 8) & 0xff), 0];
  if ((i.opcode & 1) === 0) {
    const lo = cpu.readRm(i, size);
    const [a, b] = swap(lo, cpu.vhi);
    cpu.setReg(size, i.reg, a, b);
  } else {
    const lo = cpu.getReg(size, i.reg);
    const [a, b] = swap(lo, cpu.vhi);
    cpu.writeRm(i, size, a, b);
  }
}

function movzx(cpu: Cpu, i: DecodedInstruction): void {
  const src = (i.opcode & 1) === 0 ? 1 : 2;
  const v = cpu.readRm(i, src);
  cpu.setReg(i.opSize, i.reg, v, 0);
}

function movsx(cpu: Cpu, i: DecodedInstruction): void {
  const src = (i.opcode & 1) === 0 ? 1 : 2;
  const raw = cpu.readRm(i, src);
  const v = src === 1 ? (raw << 24) >> 24 : (raw << 16) >> 16;
  cpu.setReg(i.opSize, i.reg, (v & SIZE_MASK[i.opSize]) >>> 0, v < 0 ? 0xffffffff : 0);
}

function movsxd(cpu: Cpu, i: DecodedInstruction): void {
  const v = cpu.readRm(i, 4);
  if (i.opSize === 8) cpu.setReg(8, i.reg, v, (v | 0) < 0 ? 0xffffffff : 0);
  else cpu.setReg(i.opSize, i.reg, v, 0);
}

function xadd(cpu: Cpu, i: DecodedInstruction): void {
  const size = (i.opcode & 1) === 0 ? 1 : i.opSize;
  const a = cpu.readRmForWrite(i, size);
  const ah = cpu.vhi;
  const b = cpu.getReg(size, i.reg, i);
  const bh = cpu.vhi;
  const r = aluBinary(cpu.flags, 0, size, a, ah, b, bh);
  const rh = cpu.flags.hi;
  if (i.mod === 3) {
    // SRC <- DEST then DEST <- SUM, so XADD r, r with one register leaves the sum.
    cpu.setReg(size, i.reg, a, ah, i);
    cpu.setReg(size, i.rm, r, rh, i);
    return;
  }
  cpu.writeBackRm(i, size, r, rh);
  cpu.setReg(size, i.reg, a, ah, i);
}

function cmpxchg(cpu: Cpu, i: DecodedInstruction): void {
  const size = (i.opcode & 1) === 0 ? 1 : i.opSize;
  const dest = cpu.readRmForWrite(i, size);
  const dh = cpu.vhi;
  const acc = cpu.getReg(size, 0);
  const ach = cpu.vhi;
  aluBinary(cpu.flags, ALU_CMP, size, acc, ach, dest, dh);
  if (cpu.flags.zf()) {
    const src = cpu.getReg(size, i.reg, i);
    cpu.writeBackRm(i, size, src, cpu.vhi);
  } else {
    // A memory destination is written back unchanged (a locked cycle always writes); a register one is left alone.
    if (i.mod !== 3) cpu.writeBackRm(i, size, dest, dh);
    cpu.setReg(size, 0, dest, dh);
  }
}

/** 0F C7 /1: CMPXCHG8B / CMPXCHG16B. */
function cmpxchgWide(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) throw new CpuException(VEC_UD, undefined);
  const wide = i.opSize === 8;
  const n = wide ? 16 : 8;
  const lin = cpu.memoryLinear(i, n, true);
  if (wide && lin % 16 !== 0) throw new CpuException(13, 0);
  cpu.probeWrite(lin, n);
  const half = wide ? 8 : 4;
  const m0 = cpu.readLinear(lin, half); const m0h = cpu.vhi;
  const m1 = cpu.readLinear(lin + half, half); const m1h = cpu.vhi;
  const eq = wide
    ? m0 === cpu.lo[0] && m0h === cpu.hi[0] && m1 === cpu.lo[2] && m1h === cpu.hi[2]
    : m0 === cpu.lo[0] && m1 === cpu.lo[2];
  const f = cpu.flags.arith() & ~FLAG_ZF;
  if (eq) {
    cpu.writeLinear(lin, half, cpu.lo[3], cpu.hi[3]);
    cpu.writeLinear(lin + half, half, cpu.lo[1], cpu.hi[1]);
    cpu.flags.setEager(f | FLAG_ZF);
  } else {
    cpu.writeLinear(lin, half, m0, m0h);
    cpu.writeLinear(lin + half, half, m1, m1h);
    cpu.setReg(half, 0, m0, m0h);
    cpu.setReg(half, 2, m1, m1h);
    cpu.flags.setEager(f);
  }
}

function shiftDouble(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  const right = i.opcode >= 0x1ac;
  const count = (i.opcode & 1) === 0 ? i.imm & 0xff : cpu.lo[1] & 0xff;
  const a = cpu.readRmForWrite(i, size);
  const ah = cpu.vhi;
  const b = cpu.getReg(size, i.reg);
  const r = aluDoubleShift(cpu.flags, right, size, a, ah, b, cpu.vhi, count);
  cpu.writeBackRm(i, size, r, cpu.flags.hi);
}

function xlat(cpu: Cpu, i: DecodedInstruction): void {
  const seg = i.segOverride >= 0 ? i.segOverride : SEG_DS;
  const base = cpu.regAddress(3, i.addrSize);
  const off = base + (cpu.lo[0] & 0xff);
  const addr = i.addrSize === 8 ? off : i.addrSize === 4 ? off >>> 0 : off & 0xffff;
  cpu.setReg(1, 0, cpu.read(seg, addr, 1), 0);
}

function legacyOnly(h: Handler): Handler {
  return (cpu, i) => { if (cpu.is64) ud(); h(cpu, i); };
}

/** DAA/DAS/AAA/AAS/AAM/AAD (32-bit modes only). */
function decimalAdjust(cpu: Cpu, i: DecodedInstruction): void {
  let al = cpu.lo[0] & 0xff;
  let ah = (cpu.lo[0] >>> 8) & 0xff;
  const f = cpu.flags.arith();
  let cf = (f & FLAG_CF) !== 0;
  let af = (f & FLAG_AF) !== 0;
  switch (i.opcode) {
    case 0x27: case 0x2f: {
      const oldAl = al;
      const sub = i.opcode === 0x2f;
      const oldCf = cf;
      cf = false;
      if ((al & 0xf) > 9 || af) { al = sub ? al - 6 : al + 6; cf = oldCf || (sub ? oldAl < 6 : al > 0xff); af = true; al &= 0xff; } else af = false;
      if (oldAl > 0x99 || oldCf) { al = (sub ? al - 0x60 : al + 0x60) & 0xff; cf = true; }
      cpu.flags.setEager(resultFlags(1, al, 0) | (cf ? FLAG_CF : 0) | (af ? FLAG_AF : 0));
      cpu.setReg(1, 0, al, 0);
      return;
    }
    case 0x37: case 0x3f: {
      const sub = i.opcode === 0x3f;
      if ((al & 0xf) > 9 || af) {
        if (sub) { al = (al - 6) & 0xff; ah = (ah - 1) & 0xff; } else { al = (al + 6) & 0xff; ah = (ah + 1) & 0xff; }
        af = cf = true;
      } else af = cf = false;
      al &= 0xf;
      cpu.setReg(2, 0, al | (ah << 8), 0);
      cpu.flags.setEager((f & ~(FLAG_CF | FLAG_AF)) | (cf ? FLAG_CF : 0) | (af ? FLAG_AF : 0));
      return;
    }
    case 0xd4: {
      const base = i.imm & 0xff;
      if (base === 0) throw new CpuException(VEC_DE, undefined);
      ah = Math.floor(al / base); al = al % base;
      cpu.setReg(2, 0, al | (ah << 8), 0);
      cpu.flags.setEager(resultFlags(1, al, 0));
      return;
    }
    default: {
      const base = i.imm & 0xff;
      al = (al + ah * base) & 0xff;
      cpu.setReg(2, 0, al, 0);
      cpu.flags.setEager(resultFlags(1, al, 0));
    }
  }
}

function salc(cpu: Cpu): void {
  cpu.setReg(1, 0, cpu.flags.cf() ? 0xff : 0, 0);
}

export function registerIntegerOps(t: Handler[], far: { callJmpFar: Handler }): void {
  for (let row = 0; row < 8; row++) {
    for (let k = 0; k < 4; k++) t[row * 8 + k] = aluModrm;
    t[row * 8 + 4] = aluAccImm;
    t[row * 8 + 5] = aluAccImm;
  }
  for (const op of [0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5]) t[op] = legacyOnly(decimalAdjust);
  t[0xd6] = legacyOnly(salc);
  for (let op = 0x40; op <= 0x4f; op++) t[op] = incDecReg;
  for (let op = 0x50; op <= 0x57; op++) t[op] = pushReg;
  for (let op = 0x58; op <= 0x5f; op++) t[op] = popReg;
  t[0x60] = pusha;
  t[0x61] = popa;
  t[0x68] = pushImm;
  t[0x6a] = pushImm;
  t[0x69] = imulImm;
  t[0x6b] = imulImm;
  for (let op = 0x70; op <= 0x7f; op++) t[op] = jccShort;
  for (const op of [0x80, 0x81, 0x82, 0x83]) t[op] = group1;
  t[0x84] = test; t[0x85] = test;
  t[0x86] = xchg; t[0x87] = xchg;
  for (const op of [0x88, 0x89]) t[op] = movRmReg;
  for (const op of [0x8a, 0x8b]) t[op] = movRegRm;
  t[0x8d] = lea;
  t[0x8f] = (cpu, i) => { if (i.regField !== 0) ud(); popRm(cpu, i); };
  for (let op = 0x90; op <= 0x97; op++) t[op] = xchgAcc;
  t[0x98] = convertA;
  t[0x99] = convertD;
  t[0x9e] = sahf;
  t[0x9f] = lahf;
  for (let op = 0xa0; op <= 0xa3; op++) t[op] = movAccMoffs;
  t[0xa8] = testAccImm; t[0xa9] = testAccImm;
  for (let op = 0xb0; op <= 0xb7; op++) t[op] = movRegImm8;
  for (let op = 0xb8; op <= 0xbf; op++) t[op] = movRegImm;
  for (const op of [0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3]) t[op] = group2;
  t[0xc2] = retNear; t[0xc3] = retNear;
  t[0xc6] = movRmImm; t[0xc7] = movRmImm;
  t[0xc8] = enter;
  t[0xc9] = leave;
  t[0xd7] = xlat;
  for (let op = 0xe0; op <= 0xe3; op++) t[op] = loop;
  t[0xe8] = callRel;
  t[0xe9] = jmpRel; t[0xeb] = jmpRel;
  t[0xf5] = cmc; t[0xf8] = clc; t[0xf9] = stc; t[0xfc] = cld; t[0xfd] = std;
  t[0xf6] = group3; t[0xf7] = group3;
  t[0xfe] = group4;
  t[0xff] = (cpu, i) => group5(cpu, i, far.callJmpFar);
  t[0x63] = (cpu, i) => { if (cpu.is64) movsxd(cpu, i); else arpl(cpu, i); };

  for (let op = 0x140; op <= 0x14f; op++) t[op] = cmovcc;
  for (let op = 0x180; op <= 0x18f; op++) t[op] = jccNear;
  for (let op = 0x190; op <= 0x19f; op++) t[op] = setcc;
  t[0x1a3] = (cpu, i) => bitTestReg(cpu, i, 0);
  t[0x1ab] = (cpu, i) => bitTestReg(cpu, i, 1);
  t[0x1b3] = (cpu, i) => bitTestReg(cpu, i, 2);
  t[0x1bb] = (cpu, i) => bitTestReg(cpu, i, 3);
  t[0x1ba] = bitTestImm;
  t[0x1a4] = shiftDouble; t[0x1a5] = shiftDouble; t[0x1ac] = shiftDouble; t[0x1ad] = shiftDouble;
  t[0x1af] = imulRegRm;
  t[0x1b0] = cmpxchg; t[0x1b1] = cmpxchg;
  t[0x1b6] = movzx; t[0x1b7] = movzx;
  t[0x1be] = movsx; t[0x1bf] = movsx;
  t[0x1b8] = popcnt;
  t[0x1bc] = (cpu, i) => bitScan(cpu, i, false);
  t[0x1bd] = (cpu, i) => bitScan(cpu, i, true);
  t[0x1c0] = xadd; t[0x1c1] = xadd;
  for (let op = 0x1c8; op <= 0x1cf; op++) t[op] = bswap;
  t[0x2f0] = movbe; t[0x2f1] = movbe;
  t[0x1c7] = (cpu, i) => { if (i.regField === 1) cmpxchgWide(cpu, i); else if (i.regField >= 6) rdrand(cpu, i); else ud(); };
}

/** ARPL (protected mode, 32-bit code). */
function arpl(cpu: Cpu, i: DecodedInstruction): void {
  if (!cpu.protectedMode) ud();
  const dest = cpu.readRmForWrite(i, 2);
  const src = cpu.getReg(2, i.reg);
  const f = cpu.flags.arith() & ~FLAG_ZF;
  if ((dest & 3) < (src & 3)) {
    cpu.writeBackRm(i, 2, (dest & ~3) | (src & 3), 0);
    cpu.flags.setEager(f | FLAG_ZF);
  } else cpu.flags.setEager(f);
}

export { fromBig, toBig, LAZY_LOGIC, PARITY };

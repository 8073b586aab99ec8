/**
 * Delivering interrupts and exceptions through the IVT (real mode) or IDT
 * (protected and long mode), and returning with IRET (SDM vol. 3A 6.12,
 * 6.14; vol. 2 IRET). Task gates and virtual-8086 mode are not implemented.
 */
import type { Cpu } from './cpu';
import { CpuException } from './cpu-exception';
import {
  FLAG_AC, FLAG_IF, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VM, FLAG_IOPL, FLAG_VIF, FLAG_VIP, FLAG_ID, SEG_CS, SEG_SS,
  TWO_32, VEC_GP, VEC_NP, VEC_SS, VEC_TS, ARITH_FLAGS, FLAG_DF,
} from './cpu-constants';
import { Descriptor, loadCodeSegment, loadStackSegmentFor, nullifyInaccessibleSegments, readDescriptor } from './segmentation';

const gateCode = new Descriptor();

/**
 * Delivers `vector`. `software` is true for INT n/INT3/INTO (gate DPL is
 * checked, the return address is the next instruction). `returnRip` is the
 * RIP pushed (the faulting instruction for faults, the next one for traps).
 */
export function deliverInterrupt(cpu: Cpu, vector: number, errorCode: number | undefined, software: boolean, returnRip: number): void {
  cpu.halted = false;
  if (!cpu.protectedMode) { deliverReal(cpu, vector, returnRip); return; }
  if ((cpu.eflagsSys & FLAG_VM) !== 0) cpu.unimplemented('interrupt in virtual-8086 mode');
  const ext = software ? 0 : 1;
  const idtError = vector * 8 + 2 + ext;
  if (cpu.longMode) { deliverLong(cpu, vector, errorCode, software, returnRip, idtError); return; }
  deliverProtected(cpu, vector, errorCode, software, returnRip, idtError);
}

function deliverReal(cpu: Cpu, vector: number, returnRip: number): void {
  if (vector * 4 + 3 > cpu.idtLimit) throw new CpuException(VEC_GP, 0);
  const entry = cpu.readSystem(cpu.idtBase + vector * 4, 4);
  const flags = cpu.getEflags();
  cpu.push(2, flags & 0xffff);
  cpu.push(2, cpu.segs[SEG_CS].selector);
  cpu.push(2, returnRip & 0xffff);
  cpu.eflagsSys &= ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
  cpu.segs[SEG_CS].loadReal(entry >>> 16);
  cpu.rip = entry & 0xffff;
  cpu.updateMode();
}

function readGate(cpu: Cpu, vector: number, entrySize: number, idtError: number): { lo: number; hi: number; hi2: number } {
  if (vector * entrySize + entrySize - 1 > cpu.idtLimit) throw new CpuException(VEC_GP, idtError);
  const at = cpu.idtBase + vector * entrySize;
  const lo = cpu.readSystem(at, 4);
  const hi = cpu.readSystem(at + 4, 4);
  const hi2 = entrySize === 16 ? cpu.readSystem(at + 8, 4) : 0;
  return { lo, hi, hi2 };
}

function checkGate(cpu: Cpu, hi: number, software: boolean, idtError: number, allowed: number[]): number {
  const type = (hi >> 8) & 0x1f;
  if (type === 0x05) cpu.unimplemented('task gate in the IDT');
  if (!allowed.includes(type)) throw new CpuException(VEC_GP, idtError);
  const dpl = (hi >> 13) & 3;
  if (software && dpl < cpu.cpl) throw new CpuException(VEC_GP, idtError);
  if ((hi & 0x8000) === 0) throw new CpuException(VEC_NP, idtError);
  return type;
}

function targetCode(cpu: Cpu, selector: number, ext: number): Descriptor {
  if ((selector & 0xfffc) === 0) throw new CpuException(VEC_GP, ext);
  const d = readDescriptor(cpu, selector, gateCode);
  if (!d.isCode || d.dpl > cpu.cpl) throw new CpuException(VEC_GP, (selector & 0xfffc) | ext);
  if (!d.present) throw new CpuException(VEC_NP, (selector & 0xfffc) | ext);
  return d;
}

function deliverLong(cpu: Cpu, vector: number, errorCode: number | undefined, software: boolean, returnRip: number, idtError: number): void {
  const { lo, hi, hi2 } = readGate(cpu, vector, 16, idtError);
  const type = checkGate(cpu, hi, software, idtError, [0x0e, 0x0f]);
  const selector = lo >>> 16;
  const offset = (hi2 | 0) * TWO_32 + (((hi & 0xffff0000) | (lo & 0xffff)) >>> 0);
  const d = targetCode(cpu, selector, software ? 0 : 1);
  if (!d.long || (d.hi & 0x400000) !== 0) throw new CpuException(VEC_GP, selector & 0xfffc);
  const oldCpl = cpu.cpl;
  const newCpl = d.conforming ? oldCpl : d.dpl;
  const ist = hi & 7;
  const oldSs = cpu.segs[SEG_SS].selector;
  const oldRsp = cpu.regAddress(4, 8);
  const oldFlags = cpu.getEflags();
  const oldCs = cpu.segs[SEG_CS].selector;
  let rsp: number;
  if (ist !== 0) rsp = readTss64(cpu, 36 + (ist - 1) * 8);
  else if (newCpl < oldCpl) rsp = readTss64(cpu, 4 + newCpl * 8);
  else rsp = cpu.codeSize === 8 ? oldRsp : cpu.regAddress(4, cpu.stackSize);
  rsp -= ((rsp % 16) + 16) % 16;
  const frame = [oldSs, oldRsp, oldFlags, oldCs, returnRip];
  if (errorCode !== undefined) frame.push(errorCode);
  // Write the whole frame as supervisor accesses before changing any state.
  let p = rsp;
  for (const v of frame) {
    p -= 8;
    if (p < -0x800000000000 || p >= 0x800000000000) throw new CpuException(VEC_SS, 0);
    cpu.writeLinear(p, 8, v >>> 0, Math.floor(v / TWO_32) >>> 0, false);
  }
  loadCodeSegment(cpu, selector, d, newCpl);
  if (newCpl !== oldCpl) {
    const ss = cpu.segs[SEG_SS];
    ss.loadNull(newCpl);
    ss.dpl = newCpl;
  }
  cpu.setRegAddress(4, 8, p);
  cpu.updateMode();
  cpu.eflagsSys &= ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if (type === 0x0e) cpu.eflagsSys &= ~FLAG_IF;
  cpu.rip = offset;
}

function readTss64(cpu: Cpu, offset: number): number {
  if (offset + 7 > cpu.tr.limit) throw new CpuException(VEC_TS, cpu.tr.selector & 0xfffc);
  const lo = cpu.readSystem(cpu.tr.base + offset, 4);
  const hi = cpu.readSystem(cpu.tr.base + offset + 4, 4);
  return (hi | 0) * TWO_32 + lo;
}

function deliverProtected(cpu: Cpu, vector: number, errorCode: number | undefined, software: boolean, returnRip: number, idtError: number): void {
  const { lo, hi } = readGate(cpu, vector, 8, idtError);
  const type = checkGate(cpu, hi, software, idtError, [0x06, 0x07, 0x0e, 0x0f]);
  const gate32 = (type & 8) !== 0;
  const size = gate32 ? 4 : 2;
  const selector = lo >>> 16;
  const offset = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0 : lo & 0xffff;
  const d = targetCode(cpu, selector, software ? 0 : 1);
  const oldCpl = cpu.cpl;
  const newCpl = d.conforming ? oldCpl : d.dpl;
  const frame: number[] = [];
  const oldFlags = cpu.getEflags();
  if (newCpl < oldCpl) {
    // Stack switch: SS:ESP for the new level from the 32-bit TSS.
    const tssType = cpu.tr.type & 7;
    if (tssType !== 3 && tssType !== 1) cpu.unimplemented('16-bit TSS stack switch');
    const at = 4 + newCpl * 8;
    if (at + 5 > cpu.tr.limit) throw new CpuException(VEC_TS, cpu.tr.selector & 0xfffc);
    const newEsp = cpu.readSystem(cpu.tr.base + at, 4);
    const newSs = cpu.readSystem(cpu.tr.base + at + 4, 2);
    const oldSs = cpu.segs[SEG_SS].selector;
    const oldEsp = cpu.lo[4];
    const savedSs = new (cpu.segs[SEG_SS].constructor as { new(): typeof cpu.segs[0] })();
    savedSs.copyFrom(cpu.segs[SEG_SS]);
    loadStackSegmentFor(cpu, newSs, newCpl, VEC_TS);
    const savedCpl = cpu.cpl;
    const savedEsp = cpu.lo[4];
    cpu.cpl = newCpl;
    cpu.updateMode();
    cpu.setRegAddress(4, cpu.stackSize, newEsp);
    frame.push(oldSs, oldEsp);
    try {
      pushFrame(cpu, frame, oldFlags, returnRip, errorCode, size);
    } catch (e) {
      cpu.segs[SEG_SS].copyFrom(savedSs);
      cpu.cpl = savedCpl;
      cpu.lo[4] = savedEsp;
      cpu.updateMode();
      throw e;
    }
  } else {
    pushFrame(cpu, frame, oldFlags, returnRip, errorCode, size);
  }
  loadCodeSegment(cpu, selector, d, newCpl);
  cpu.eflagsSys &= ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if ((type & 1) === 0) cpu.eflagsSys &= ~FLAG_IF;
  cpu.rip = offset;
}

function pushFrame(cpu: Cpu, frame: number[], flags: number, returnRip: number, errorCode: number | undefined, size: number): void {
  frame.push(flags, cpu.segs[SEG_CS].selector, returnRip);
  if (errorCode !== undefined) frame.push(errorCode);
  const sp0 = cpu.stackPointer();
  let sp = sp0;
  for (const v of frame) {
    sp = cpu.stackAdd(sp, -size);
    cpu.writeLinear(cpu.linear(SEG_SS, sp, size, true), size, v, 0, false);
  }
  cpu.setRegAddress(4, cpu.stackSize, sp);
}

/** IRET / IRETD / IRETQ. */
export function interruptReturn(cpu: Cpu, opSize: number): void {
  cpu.nmiBlocked = false;
  if (!cpu.protectedMode) {
    const ip = cpu.peek(opSize);
    const cs = cpu.peek(opSize, opSize) & 0xffff;
    const fl = cpu.peek(opSize, 2 * opSize);
    cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(cpu.stackPointer(), 3 * opSize));
    cpu.segs[SEG_CS].loadReal(cs);
    cpu.nextRip = opSize === 2 ? ip & 0xffff : ip >>> 0;
    const mask = opSize === 2 ? 0xffff : 0x257fd5 | FLAG_IOPL | FLAG_NT;
    writeFlags(cpu, fl, mask);
    cpu.updateMode();
    return;
  }
  if ((cpu.eflagsSys & FLAG_VM) !== 0) cpu.unimplemented('IRET in virtual-8086 mode');
  if ((cpu.eflagsSys & FLAG_NT) !== 0 && !cpu.longMode) cpu.unimplemented('IRET task return (NT=1)');
  const ripLo = cpu.peek(opSize);
  const ripHi = opSize === 8 ? cpu.vhi : 0;
  const csSel = cpu.peek(opSize, opSize) & 0xffff;
  const fl = cpu.peek(opSize, 2 * opSize);
  const newRip = opSize === 8 ? (ripHi | 0) * TWO_32 + ripLo : ripLo;
  if ((fl & FLAG_VM) !== 0 && cpu.cpl === 0 && !cpu.longMode) cpu.unimplemented('IRET to virtual-8086 mode');
  if ((csSel & 0xfffc) === 0) throw new CpuException(VEC_GP, 0);
  const d = readDescriptor(cpu, csSel, new Descriptor());
  const rpl = csSel & 3;
  if (!d.isCode || rpl < cpu.cpl || (d.conforming ? d.dpl > rpl : d.dpl !== rpl)) throw new CpuException(VEC_GP, csSel & 0xfffc);
  if (!d.present) throw new CpuException(VEC_NP, csSel & 0xfffc);
  const toOuter = rpl > cpu.cpl;
  const popsStack = toOuter || cpu.codeSize === 8;
  let newSp = 0;
  let newSs = 0;
  if (popsStack) {
    const spLo = cpu.peek(opSize, 3 * opSize);
    const spHi = opSize === 8 ? cpu.vhi : 0;
    newSp = opSize === 8 ? (spHi | 0) * TWO_32 + spLo : spLo;
    newSs = cpu.peek(opSize, 4 * opSize) & 0xffff;
  }
  const oldCpl = cpu.cpl;
  const oldIopl = (cpu.eflagsSys & FLAG_IOPL) >> 12;
  const afterPop = cpu.stackAdd(cpu.stackPointer(), (popsStack ? 5 : 3) * opSize);
  if (d.long && cpu.longMode) {
    if (newRip < -0x800000000000 || newRip >= 0x800000000000) throw new CpuException(VEC_GP, 0);
  }
  if (popsStack) {
    const savedCpl = cpu.cpl;
    cpu.cpl = rpl;
    try {
      loadStackSegmentFor(cpu, newSs, rpl, VEC_GP);
    } catch (e) {
      cpu.cpl = savedCpl;
      throw e;
    }
  }
  loadCodeSegment(cpu, csSel, d, rpl);
  // Flags: IOPL only at CPL 0, IF only when CPL <= IOPL.
  let mask = FLAG_TF | FLAG_DF | FLAG_NT | FLAG_RF | FLAG_AC | FLAG_ID | ARITH_FLAGS;
  if (opSize !== 2) mask |= FLAG_VIF | FLAG_VIP;
  if (oldCpl === 0) mask |= FLAG_IOPL;
  if (oldCpl <= oldIopl) mask |= FLAG_IF;
  if (opSize === 2) mask &= 0xffff;
  writeFlags(cpu, fl, mask);
  if (popsStack) cpu.setRegAddress(4, cpu.codeSize === 8 ? 8 : cpu.stackSize, opSize === 8 || cpu.codeSize === 8 ? newSp : newSp >>> 0);
  else cpu.setRegAddress(4, cpu.stackSize, afterPop);
  if (toOuter) nullifyInaccessibleSegments(cpu);
  cpu.updateMode();
  cpu.nextRip = cpu.codeSize === 8 ? newRip : opSize === 2 ? newRip & 0xffff : newRip >>> 0;
  cpu.pendingCheck = true;
}

export function writeFlags(cpu: Cpu, value: number, mask: number): void {
  const cur = cpu.getEflags();
  cpu.setEflags((cur & ~mask) | (value & mask));
}

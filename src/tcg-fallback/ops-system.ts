/**
 * System and privileged instructions: I/O ports, HLT, CLI/STI, PUSHF/POPF,
 * software interrupts and IRET, far transfers, segment register loads,
 * descriptor-table instructions, control/debug registers, MSRs, CPUID, TSC,
 * SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS and cache/TLB maintenance.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import type { AccessSize } from '../devices/bus';
import { CpuException } from './cpu-exception';
import {
  CR0_PE, CR0_PG, CR0_TS, CR0_WP, CR0_ET, CR0_NW, CR0_CD, CR4_PAE, CR4_PGE, CR4_PSE, CR4_SUPPORTED, CR4_TSD,
  EFER_LMA, EFER_LME, EFER_SCE, FLAG_AC, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VM, FLAG_DF,
  FLAG_VIF, FLAG_VIP, ARITH_FLAGS, FLAG_ZF, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, TWO_32, VEC_BP, VEC_GP,
  VEC_NP, VEC_OF, VEC_UD, VEC_DB, FLAG_OF, CR4_DE,
} from './cpu-constants';
import { checkIoPermission } from './io-permission';
import { interruptReturn, writeFlags } from './interrupt-delivery';
import {
  Descriptor, checkFarTarget, loadCodeSegment, loadDataSegment, loadFlat, loadStackSegmentFor, nullifyInaccessibleSegments,
  readDescriptor, setAccessed, systemBase,
} from './segmentation';
import { cpuid } from './cpuid';
import { readMsr, writeMsr, addressFromBig } from './msr';

const ud = (): never => { throw new CpuException(VEC_UD, undefined); };
const gp0 = (): never => { throw new CpuException(VEC_GP, 0); };

function requireCpl0(cpu: Cpu): void {
  if (cpu.protectedMode && cpu.cpl !== 0) gp0();
}

// ---------------------------------------------------------------- I/O

function ioIn(cpu: Cpu, i: DecodedInstruction): void {
  const size = (i.opcode & 1) === 0 ? 1 : i.opSize === 2 ? 2 : 4;
  const port = i.opcode >= 0xec ? cpu.lo[2] & 0xffff : i.imm & 0xff;
  checkIoPermission(cpu, port, size);
  cpu.setReg(size, 0, cpu.bus.pioRead(port, size as AccessSize) >>> 0, 0);
}

function ioOut(cpu: Cpu, i: DecodedInstruction): void {
  const size = (i.opcode & 1) === 0 ? 1 : i.opSize === 2 ? 2 : 4;
  const port = i.opcode >= 0xec ? cpu.lo[2] & 0xffff : i.imm & 0xff;
  checkIoPermission(cpu, port, size);
  cpu.bus.pioWrite(port, size as AccessSize, cpu.getReg(size, 0));
}

// ---------------------------------------------------------------- flags and interrupts

function iopl(cpu: Cpu): number { return (cpu.eflagsSys & FLAG_IOPL) >> 12; }

function cli(cpu: Cpu): void {
  if (cpu.protectedMode && cpu.cpl > iopl(cpu)) gp0();
  cpu.eflagsSys &= ~FLAG_IF;
}

function sti(cpu: Cpu): void {
  if (cpu.protectedMode && cpu.cpl > iopl(cpu)) gp0();
  if ((cpu.eflagsSys & FLAG_IF) === 0) cpu.interruptShadow = 2;
  cpu.eflagsSys |= FLAG_IF;
}

function pushf(cpu: Cpu, i: DecodedInstruction): void {
  if ((cpu.eflagsSys & FLAG_VM) !== 0 && iopl(cpu) < 3) gp0();
  const f = cpu.getEflags() & ~(FLAG_VM | FLAG_RF);
  cpu.push(i.opSize, i.opSize === 2 ? f & 0xffff : f, 0);
}

function popf(cpu: Cpu, i: DecodedInstruction): void {
  if ((cpu.eflagsSys & FLAG_VM) !== 0 && iopl(cpu) < 3) gp0();
  const v = cpu.pop(i.opSize);
  let mask = ARITH_FLAGS | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID;
  if (!cpu.protectedMode || cpu.cpl === 0) mask |= FLAG_IOPL;
  if (!cpu.protectedMode || cpu.cpl <= iopl(cpu)) mask |= FLAG_IF;
  if (i.opSize === 2) mask &= 0xffff;
  writeFlags(cpu, v, mask);
  cpu.eflagsSys &= ~(FLAG_RF | FLAG_VIF | FLAG_VIP) | (cpu.eflagsSys & (FLAG_VIF | FLAG_VIP));
  cpu.pendingCheck = true;
}

function softwareInterrupt(cpu: Cpu, i: DecodedInstruction): void {
  let vector: number;
  if (i.opcode === 0xcc) vector = VEC_BP;
  else if (i.opcode === 0xce) {
    if (cpu.is64) ud();
    if (!cpu.flags.of()) return;
    vector = VEC_OF;
  } else if (i.opcode === 0xf1) {
    cpu.deliver(cpu, VEC_DB, undefined, false, cpu.nextRip);
    cpu.nextRip = cpu.rip;
    return;
  } else vector = i.imm & 0xff;
  if ((cpu.eflagsSys & FLAG_VM) !== 0 && iopl(cpu) < 3) gp0();
  cpu.deliver(cpu, vector, undefined, true, cpu.nextRip);
  cpu.nextRip = cpu.rip;
}

function hlt(cpu: Cpu): void {
  requireCpl0(cpu);
  cpu.halted = true;
}

// ---------------------------------------------------------------- far transfers

function farJumpOrCall(cpu: Cpu, selector: number, offset: number, call: boolean, opSize: number): void {
  const cs = cpu.segs[SEG_CS];
  const retIp = cpu.nextRip;
  const retCs = cs.selector;
  if (!cpu.protectedMode || (cpu.eflagsSys & FLAG_VM) !== 0) {
    if (call) {
      cpu.push(opSize, retCs);
      cpu.push(opSize, retIp);
    }
    cs.loadReal(selector);
    cpu.updateMode();
    cpu.nextRip = opSize === 2 ? offset & 0xffff : offset >>> 0;
    return;
  }
  const d = checkFarTarget(cpu, selector);
  const target = opSize === 8 ? offset : opSize === 2 ? offset & 0xffff : offset >>> 0;
  if (call) {
    // Push with the current stack before switching CS; both pushes must succeed before anything changes.
    const sp = cpu.stackPointer();
    const spAfter = cpu.stackAdd(sp, -2 * opSize);
    cpu.write(SEG_SS, cpu.stackAdd(sp, -opSize), opSize, retCs, 0);
    cpu.write(SEG_SS, spAfter, opSize, retIp >>> 0, Math.floor(retIp / TWO_32) >>> 0);
    cpu.setRegAddress(4, cpu.stackSize, spAfter);
  }
  loadCodeSegment(cpu, selector, d, cpu.cpl);
  cpu.nextRip = target;
}

function farDirect(cpu: Cpu, i: DecodedInstruction): void {
  farJumpOrCall(cpu, i.imm2, i.imm >>> 0, i.opcode === 0x9a, i.opSize);
}

/** FF /3 (CALL m16:xx) and FF /5 (JMP m16:xx). */
export function farIndirect(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) ud();
  const size = i.opSize;
  const ea = cpu.effectiveAddress(i);
  const off = cpu.read(i.segment, ea, size);
  const offHi = cpu.vhi;
  const offset = size === 8 ? (offHi | 0) * TWO_32 + off : off;
  const selector = cpu.read(i.segment, cpu.stackAddLike(i, ea, size), 2);
  farJumpOrCall(cpu, selector, offset, i.regField === 3, size);
}

function farReturn(cpu: Cpu, i: DecodedInstruction): void {
  const size = i.opSize;
  const extra = i.opcode === 0xca ? i.imm : 0;
  const ipLo = cpu.peek(size);
  const ipHi = size === 8 ? cpu.vhi : 0;
  const selector = cpu.peek(size, size) & 0xffff;
  const ip = size === 8 ? (ipHi | 0) * TWO_32 + ipLo : ipLo;
  if (!cpu.protectedMode || (cpu.eflagsSys & FLAG_VM) !== 0) {
    cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(cpu.stackPointer(), 2 * size + extra));
    cpu.segs[SEG_CS].loadReal(selector);
    cpu.updateMode();
    cpu.nextRip = size === 2 ? ip & 0xffff : ip >>> 0;
    return;
  }
  if ((selector & 0xfffc) === 0) gp0();
  const d = readDescriptor(cpu, selector, new Descriptor());
  const rpl = selector & 3;
  if (!d.isCode || rpl < cpu.cpl || (d.conforming ? d.dpl > rpl : d.dpl !== rpl)) throw new CpuException(VEC_GP, selector & 0xfffc);
  if (!d.present) throw new CpuException(VEC_NP, selector & 0xfffc);
  if (rpl > cpu.cpl) {
    const spLo = cpu.peek(size, 2 * size + extra);
    const spHi = size === 8 ? cpu.vhi : 0;
    const ss = cpu.peek(size, 3 * size + extra) & 0xffff;
    const savedCpl = cpu.cpl;
    cpu.cpl = rpl;
    try { loadStackSegmentFor(cpu, ss, rpl, VEC_GP); } catch (e) { cpu.cpl = savedCpl; throw e; }
    loadCodeSegment(cpu, selector, d, rpl);
    const sp = size === 8 ? (spHi | 0) * TWO_32 + spLo : spLo;
    cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(sp, extra));
    nullifyInaccessibleSegments(cpu);
  } else {
    cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(cpu.stackPointer(), 2 * size + extra));
    loadCodeSegment(cpu, selector, d, cpu.cpl);
  }
  cpu.nextRip = cpu.codeSize === 8 ? ip : size === 2 ? ip & 0xffff : ip >>> 0;
}

// ---------------------------------------------------------------- segment registers

function movFromSreg(cpu: Cpu, i: DecodedInstruction): void {
  if (i.regField > 5) ud();
  const sel = cpu.segs[i.regField].selector;
  if (i.mod === 3) cpu.setReg(i.opSize, i.rm, sel, 0);
  else cpu.writeRm(i, 2, sel, 0);
}

function movToSreg(cpu: Cpu, i: DecodedInstruction): void {
  const seg = i.regField;
  if (seg === SEG_CS || seg > 5) ud();
  const sel = cpu.readRm(i, 2);
  loadDataSegment(cpu, seg, sel);
  if (seg === SEG_SS) cpu.interruptShadow = 2;
}

function pushSeg(seg: number): Handler {
  return (cpu, i) => {
    if (cpu.is64 && seg < SEG_FS) ud();
    cpu.push(i.opSize, cpu.segs[seg].selector, 0);
  };
}

function popSeg(seg: number): Handler {
  return (cpu, i) => {
    if (cpu.is64 && seg < SEG_FS) ud();
    const sel = cpu.peek(i.opSize) & 0xffff;
    loadDataSegment(cpu, seg, sel);
    cpu.setRegAddress(4, cpu.stackSize, cpu.stackAdd(cpu.stackPointer(), i.opSize));
    if (seg === SEG_SS) cpu.interruptShadow = 2;
  };
}

/** LES/LDS/LSS/LFS/LGS: a far pointer from memory into Sreg:reg. */
function loadFarPointer(seg: number): Handler {
  return (cpu, i) => {
    if (i.mod === 3) ud();
    const size = i.opSize;
    const ea = cpu.effectiveAddress(i);
    const off = cpu.read(i.segment, ea, size);
    const offHi = cpu.vhi;
    const sel = cpu.read(i.segment, cpu.stackAddLike(i, ea, size), 2);
    loadDataSegment(cpu, seg, sel);
    cpu.setReg(size, i.reg, off, offHi);
  };
}

// ---------------------------------------------------------------- descriptor tables (0F 00, 0F 01)

function group6(cpu: Cpu, i: DecodedInstruction): void {
  if (!cpu.protectedMode || (cpu.eflagsSys & FLAG_VM) !== 0) ud();
  switch (i.regField) {
    case 0: storeSelector(cpu, i, cpu.ldtr.selector); return;
    case 1: storeSelector(cpu, i, cpu.tr.selector); return;
    case 2: { requireCpl0(cpu); loadLdt(cpu, cpu.readRm(i, 2)); return; }
    case 3: { requireCpl0(cpu); loadTr(cpu, cpu.readRm(i, 2)); return; }
    case 4: case 5: verify(cpu, i, i.regField === 5); return;
    default: ud();
  }
}

function storeSelector(cpu: Cpu, i: DecodedInstruction, sel: number): void {
  if (i.mod === 3) cpu.setReg(i.opSize, i.rm, sel, 0);
  else cpu.writeRm(i, 2, sel, 0);
}

function loadLdt(cpu: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) { cpu.ldtr.loadNull(sel); return; }
  if ((sel & 4) !== 0) throw new CpuException(VEC_GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel, new Descriptor());
  if (d.s || d.type !== 2) throw new CpuException(VEC_GP, sel & 0xfffc);
  if (!d.present) throw new CpuException(VEC_NP, sel & 0xfffc);
  const upper = cpu.longMode ? cpu.readSystem(d.address + 8, 4) : 0;
  cpu.ldtr.loadDescriptor(sel, d.lo, d.hi);
  cpu.ldtr.base = systemBase(d.lo, d.hi, upper);
}

function loadTr(cpu: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0 || (sel & 4) !== 0) throw new CpuException(VEC_GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel, new Descriptor());
  if (d.s || (d.type !== 1 && d.type !== 9)) throw new CpuException(VEC_GP, sel & 0xfffc);
  if (!d.present) throw new CpuException(VEC_NP, sel & 0xfffc);
  const upper = cpu.longMode ? cpu.readSystem(d.address + 8, 4) : 0;
  d.hi |= 0x200; // busy
  cpu.writeSystem(d.address + 4, 4, d.hi >>> 0);
  cpu.tr.loadDescriptor(sel, d.lo, d.hi);
  cpu.tr.base = systemBase(d.lo, d.hi, upper);
}

function verify(cpu: Cpu, i: DecodedInstruction, write: boolean): void {
  const sel = cpu.readRm(i, 2);
  const f = cpu.flags.arith() & ~FLAG_ZF;
  let ok = false;
  try {
    if ((sel & 0xfffc) !== 0) {
      const d = readDescriptor(cpu, sel, new Descriptor());
      const privOk = (d.isCode && d.conforming) || (d.dpl >= cpu.cpl && d.dpl >= (sel & 3));
      ok = d.s && privOk && (write ? !d.isCode && (d.type & 2) !== 0 : !d.isCode || (d.type & 2) !== 0);
    }
  } catch (e) {
    if (!(e instanceof CpuException)) throw e;
  }
  cpu.flags.setEager(ok ? f | FLAG_ZF : f);
}

/** LAR (0F 02) and LSL (0F 03). */
function loadAccessOrLimit(cpu: Cpu, i: DecodedInstruction): void {
  if (!cpu.protectedMode) ud();
  const sel = cpu.readRm(i, 2);
  const f = cpu.flags.arith() & ~FLAG_ZF;
  let d: Descriptor | undefined;
  try {
    if ((sel & 0xfffc) !== 0) d = readDescriptor(cpu, sel, new Descriptor());
  } catch (e) {
    if (!(e instanceof CpuException)) throw e;
  }
  const lar = i.opcode === 0x102;
  let valid = false;
  if (d) {
    const privOk = (d.isCode && d.conforming) || (d.dpl >= cpu.cpl && d.dpl >= (sel & 3));
    const sysOk = d.s || (lar ? [1, 2, 3, 4, 5, 9, 11, 12].includes(d.type) : [1, 2, 3, 9, 11].includes(d.type));
    valid = privOk && sysOk && !(cpu.longMode && !d.s && [1, 3, 4, 5].includes(d.type));
  }
  if (!valid || !d) { cpu.flags.setEager(f); return; }
  cpu.flags.setEager(f | FLAG_ZF);
  if (lar) cpu.setReg(i.opSize === 2 ? 2 : i.opSize, i.reg, (d.hi & 0x00f0ff00) >>> 0, 0);
  else {
    let limit = (d.lo & 0xffff) | (d.hi & 0xf0000);
    if ((d.hi & 0x800000) !== 0) limit = (limit * 4096 + 0xfff) >>> 0;
    cpu.setReg(i.opSize === 2 ? 2 : i.opSize, i.reg, limit, 0);
  }
}

function group7(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) { group7Register(cpu, i); return; }
  const ea = cpu.effectiveAddress(i);
  switch (i.regField) {
    case 0: case 1: {
      const limit = i.regField === 0 ? cpu.gdtLimit : cpu.idtLimit;
      const base = i.regField === 0 ? cpu.gdtBase : cpu.idtBase;
      cpu.write(i.segment, ea, 2, limit, 0);
      const at = cpu.stackAddLike(i, ea, 2);
      if (cpu.is64) cpu.write(i.segment, at, 8, base >>> 0, Math.floor(base / TWO_32) >>> 0);
      else cpu.write(i.segment, at, 4, i.opSize === 2 ? base & 0xffffff : base >>> 0, 0);
      return;
    }
    case 2: case 3: {
      requireCpl0(cpu);
      const limit = cpu.read(i.segment, ea, 2);
      const at = cpu.stackAddLike(i, ea, 2);
      let base: number;
      if (cpu.is64) { const lo = cpu.read(i.segment, at, 8); base = (cpu.vhi | 0) * TWO_32 + lo; }
      else { base = cpu.read(i.segment, at, 4); if (i.opSize === 2) base &= 0xffffff; }
      if (i.regField === 2) { cpu.gdtBase = base; cpu.gdtLimit = limit; } else { cpu.idtBase = base; cpu.idtLimit = limit; }
      return;
    }
    case 4: cpu.writeRm(i, 2, cpu.cr0 & 0xffff, 0); return;
    case 6: lmsw(cpu, cpu.readRm(i, 2)); return;
    case 7: {
      requireCpl0(cpu);
      const lin = cpu.linear(i.segment, ea, 1, false);
      cpu.mmu.flushPage(lin);
      return;
    }
    default: ud();
  }
}

function lmsw(cpu: Cpu, v: number): void {
  requireCpl0(cpu);
  // LMSW sets PE but cannot clear it; it touches only MP, EM, TS, PE.
  const cr0 = (cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & CR0_PE);
  setCr0(cpu, cr0);
}

function group7Register(cpu: Cpu, i: DecodedInstruction): void {
  const modrm = 0xc0 | (i.regField << 3) | (i.rm & 7);
  if (i.regField === 4) { if (i.mod === 3) cpu.setReg(i.opSize, i.rm, cpu.cr0 & 0xffff, 0); return; }
  if (i.regField === 6) { lmsw(cpu, cpu.getReg(2, i.rm)); return; }
  switch (modrm) {
    case 0xf8: { // SWAPGS
      if (!cpu.is64) ud();
      requireCpl0(cpu);
      const gs = cpu.segs[SEG_GS];
      const k = cpu.msr.kernelGsBase;
      cpu.msr.kernelGsBase = BigInt.asUintN(64, BigInt(gs.base));
      gs.base = addressFromBig(k);
      return;
    }
    case 0xf9: { // RDTSCP
      rdtsc(cpu);
      cpu.setReg(4, 1, Number(cpu.msr.tscAux & 0xffffffffn), 0);
      return;
    }
    default: ud();
  }
}

// ---------------------------------------------------------------- control registers

export function setCr0(cpu: Cpu, v: number): void {
  v = (v | CR0_ET) >>> 0;
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) gp0();
  if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) gp0();
  const enablingPaging = (v & CR0_PG) !== 0 && (cpu.cr0 & CR0_PG) === 0;
  if (enablingPaging && (cpu.efer & EFER_LME) !== 0) {
    if ((cpu.cr4 & CR4_PAE) === 0) gp0();
    cpu.efer |= EFER_LMA;
  }
  if ((v & CR0_PG) === 0 && (cpu.cr0 & CR0_PG) !== 0 && (cpu.efer & EFER_LMA) !== 0) {
    if (cpu.is64) gp0();
    cpu.efer &= ~EFER_LMA;
  }
  const changed = (cpu.cr0 ^ v) & (CR0_PG | CR0_WP | CR0_PE);
  cpu.cr0 = v;
  if ((v & CR0_PE) === 0) cpu.cpl = 0;
  if (changed) cpu.mmu.flushAll();
  cpu.updateMode();
}

function setCr4(cpu: Cpu, v: number): void {
  if ((v & ~CR4_SUPPORTED) !== 0) gp0();
  if (cpu.longMode && (v & CR4_PAE) === 0) gp0();
  if (((cpu.cr4 ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE)) !== 0) cpu.mmu.flushAll();
  cpu.cr4 = v >>> 0;
}

function movCr(cpu: Cpu, i: DecodedInstruction): void {
  requireCpl0(cpu);
  const size = cpu.is64 ? 8 : 4;
  const toCr = i.opcode === 0x122;
  const cr = i.reg;
  if (toCr) {
    const lo = cpu.getReg(size, i.rm);
    const hi = size === 8 ? cpu.vhi : 0;
    switch (cr) {
      case 0: if (hi !== 0) gp0(); setCr0(cpu, lo); break;
      case 2: cpu.cr2 = (hi | 0) * TWO_32 + lo; break;
      case 3: {
        const v = hi * TWO_32 + lo;
        if (cpu.longMode && (hi & 0xfff00000) !== 0) gp0();
        cpu.cr3 = cpu.longMode ? v : lo;
        cpu.mmu.flushNonGlobal();
        break;
      }
      case 4: if (hi !== 0) gp0(); setCr4(cpu, lo); break;
      case 8:
        if (!cpu.is64 && i.rex === 0) ud();
        if ((lo & ~0xf) !== 0 || hi !== 0) gp0();
        cpu.setCr8(lo & 0xf);
        cpu.pendingCheck = true;
        break;
      default: ud();
    }
    return;
  }
  let v = 0;
  switch (cr) {
    case 0: v = cpu.cr0; break;
    case 2: v = cpu.cr2; break;
    case 3: v = cpu.cr3; break;
    case 4: v = cpu.cr4; break;
    case 8: v = cpu.getCr8(); break;
    default: ud();
  }
  const lo = v >>> 0;
  cpu.setReg(size, i.rm, lo, size === 8 ? Math.floor(v / TWO_32) >>> 0 : 0);
}

function movDr(cpu: Cpu, i: DecodedInstruction): void {
  requireCpl0(cpu);
  let dr = i.reg;
  if (dr > 7) ud();
  if (dr === 4 || dr === 5) {
    if ((cpu.cr4 & CR4_DE) !== 0) ud();
    dr += 2;
  }
  const size = cpu.is64 ? 8 : 4;
  if (i.opcode === 0x123) {
    const lo = cpu.getReg(size, i.rm);
    const hi = size === 8 ? cpu.vhi : 0;
    cpu.dr[dr] = (hi | 0) * TWO_32 + lo;
  } else {
    let v = cpu.dr[dr];
    if (dr === 6) v = (v & 0xe00f) | 0xffff0ff0;
    if (dr === 7) v = (v & 0xffff2bff) | 0x400;
    cpu.setReg(size, i.rm, v >>> 0, size === 8 ? Math.floor(v / TWO_32) >>> 0 : 0);
  }
}

// ---------------------------------------------------------------- MSR, CPUID, TSC

function rdmsr(cpu: Cpu): void {
  requireCpl0(cpu);
  const v = readMsr(cpu, cpu.lo[1]);
  cpu.setReg(4, 0, Number(v & 0xffffffffn), 0);
  cpu.setReg(4, 2, Number(v >> 32n), 0);
}

function wrmsr(cpu: Cpu): void {
  requireCpl0(cpu);
  writeMsr(cpu, cpu.lo[1], (BigInt(cpu.lo[2]) << 32n) | BigInt(cpu.lo[0]));
}

function rdtsc(cpu: Cpu): void {
  if ((cpu.cr4 & CR4_TSD) !== 0 && cpu.cpl !== 0 && cpu.protectedMode) gp0();
  const t = cpu.readTsc();
  cpu.setReg(4, 0, t >>> 0, 0);
  cpu.setReg(4, 2, Math.floor(t / TWO_32) >>> 0, 0);
}

function doCpuid(cpu: Cpu): void {
  const r = cpuid(cpu.lo[0], cpu.lo[1], cpu.apicId, cpu.cpuCount, cpu.tscDeadline);
  cpu.setReg(4, 0, r.eax, 0);
  cpu.setReg(4, 3, r.ebx, 0);
  cpu.setReg(4, 1, r.ecx, 0);
  cpu.setReg(4, 2, r.edx, 0);
}

// ---------------------------------------------------------------- fast system calls

function syscall(cpu: Cpu): void {
  if ((cpu.efer & EFER_SCE) === 0 || !cpu.is64) ud();
  const star = cpu.msr.star;
  const sel = Number((star >> 32n) & 0xffffn);
  const ret = cpu.nextRip;
  cpu.setReg(8, 1, ret >>> 0, Math.floor(ret / TWO_32) >>> 0);
  const flags = cpu.getEflags() & ~FLAG_RF;
  cpu.setReg(8, 11, flags, 0);
  loadFlat(cpu.segs[SEG_CS], sel & 0xfffc, true, 0, true);
  loadFlat(cpu.segs[SEG_SS], (sel + 8) & 0xfffc, false, 0, false);
  cpu.cpl = 0;
  cpu.setEflags(flags & ~Number(cpu.msr.sfmask));
  cpu.updateMode();
  cpu.nextRip = addressFromBig(cpu.msr.lstar);
}

function sysret(cpu: Cpu, i: DecodedInstruction): void {
  if ((cpu.efer & EFER_SCE) === 0 || !cpu.is64) ud();
  if (cpu.cpl !== 0) gp0();
  const base = Number((cpu.msr.star >> 48n) & 0xffffn);
  const to64 = i.opSize === 8;
  let target: number;
  if (to64) {
    target = cpu.regAddress(1, 8);
    if (target < -0x800000000000 || target >= 0x800000000000) gp0();
  } else target = cpu.lo[1];
  loadFlat(cpu.segs[SEG_CS], ((to64 ? base + 16 : base) & 0xfffc) | 3, true, 3, to64);
  loadFlat(cpu.segs[SEG_SS], ((base + 8) & 0xfffc) | 3, false, 3, false);
  cpu.cpl = 3;
  cpu.setEflags((cpu.lo[11] & 0x3c7fd7) | 2);
  cpu.updateMode();
  cpu.nextRip = target;
  cpu.pendingCheck = true;
}

function sysenter(cpu: Cpu): void {
  if (!cpu.protectedMode) gp0();
  const cs = Number(cpu.msr.sysenterCs) & 0xfffc;
  if (cs === 0) gp0();
  const long = cpu.longMode;
  cpu.eflagsSys &= ~(FLAG_VM | FLAG_IF | FLAG_RF);
  loadFlat(cpu.segs[SEG_CS], cs, true, 0, long);
  loadFlat(cpu.segs[SEG_SS], cs + 8, false, 0, false);
  cpu.cpl = 0;
  cpu.updateMode();
  const esp = addressFromBig(cpu.msr.sysenterEsp);
  const eip = addressFromBig(cpu.msr.sysenterEip);
  cpu.setRegAddress(4, long ? 8 : 4, long ? esp : esp >>> 0);
  cpu.nextRip = long ? eip : eip >>> 0;
}

function sysexit(cpu: Cpu, i: DecodedInstruction): void {
  if (!cpu.protectedMode || cpu.cpl !== 0) gp0();
  const cs = Number(cpu.msr.sysenterCs) & 0xfffc;
  if (cs === 0) gp0();
  const to64 = i.opSize === 8;
  loadFlat(cpu.segs[SEG_CS], ((to64 ? cs + 32 : cs + 16) & 0xfffc) | 3, true, 3, to64);
  loadFlat(cpu.segs[SEG_SS], ((to64 ? cs + 40 : cs + 24) & 0xfffc) | 3, false, 3, false);
  cpu.cpl = 3;
  cpu.updateMode();
  if (to64) {
    cpu.setRegAddress(4, 8, cpu.regAddress(1, 8));
    cpu.nextRip = cpu.regAddress(2, 8);
  } else {
    cpu.setRegAddress(4, 4, cpu.lo[1]);
    cpu.nextRip = cpu.lo[2];
  }
}

// ---------------------------------------------------------------- misc

function clts(cpu: Cpu): void {
  requireCpl0(cpu);
  cpu.cr0 &= ~CR0_TS;
}

function privilegedNop(cpu: Cpu): void { requireCpl0(cpu); }
function nop(): void { /* hint */ }

export function registerSystemOps(t: Handler[]): void {
  t[0xe4] = t[0xe5] = t[0xec] = t[0xed] = ioIn;
  t[0xe6] = t[0xe7] = t[0xee] = t[0xef] = ioOut;
  t[0xf4] = hlt;
  t[0xfa] = cli;
  t[0xfb] = sti;
  t[0x9c] = pushf;
  t[0x9d] = popf;
  t[0xcc] = t[0xcd] = t[0xce] = t[0xf1] = softwareInterrupt;
  t[0xcf] = (cpu, i) => interruptReturn(cpu, i.opSize);
  t[0x9a] = t[0xea] = farDirect;
  t[0xca] = t[0xcb] = farReturn;
  t[0x8c] = movFromSreg;
  t[0x8e] = movToSreg;
  t[0x06] = pushSeg(SEG_ES); t[0x07] = popSeg(SEG_ES);
  t[0x0e] = pushSeg(SEG_CS);
  t[0x16] = pushSeg(SEG_SS); t[0x17] = popSeg(SEG_SS);
  t[0x1e] = pushSeg(SEG_DS); t[0x1f] = popSeg(SEG_DS);
  t[0x1a0] = pushSeg(SEG_FS); t[0x1a1] = popSeg(SEG_FS);
  t[0x1a8] = pushSeg(SEG_GS); t[0x1a9] = popSeg(SEG_GS);
  t[0xc4] = (cpu, i) => { if (cpu.is64) ud(); loadFarPointer(SEG_ES)(cpu, i); };
  t[0xc5] = (cpu, i) => { if (cpu.is64) ud(); loadFarPointer(SEG_DS)(cpu, i); };
  t[0x1b2] = loadFarPointer(SEG_SS);
  t[0x1b4] = loadFarPointer(SEG_FS);
  t[0x1b5] = loadFarPointer(SEG_GS);
  t[0x100] = group6;
  t[0x101] = group7;
  t[0x102] = t[0x103] = loadAccessOrLimit;
  t[0x105] = syscall;
  t[0x106] = clts;
  t[0x107] = sysret;
  t[0x108] = t[0x109] = privilegedNop; // INVD, WBINVD: no caches to write back
  t[0x10b] = () => ud();
  t[0x10d] = nop; // PREFETCH
  for (let op = 0x118; op <= 0x11f; op++) t[op] = nop; // hint NOPs, including 0F 1F /0
  t[0x120] = t[0x122] = movCr;
  t[0x121] = t[0x123] = movDr;
  t[0x130] = wrmsr;
  t[0x131] = rdtsc;
  t[0x132] = rdmsr;
  t[0x133] = () => gp0(); // RDPMC: no counters
  t[0x134] = sysenter;
  t[0x135] = sysexit;
  t[0x1a2] = doCpuid;
  void setAccessed; void FLAG_OF; void SEG_DS; void SEG_ES;
}

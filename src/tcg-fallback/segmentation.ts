/**
 * Protected-mode segment loading: descriptor table lookups and the checks of
 * MOV/POP Sreg, far transfers and stack switches (SDM vol. 3A 5.5-5.8).
 * Call gates and hardware task switches are not implemented (Linux uses
 * neither); they stop the vCPU with an error naming them.
 */
import type { Cpu } from './cpu';
import { CpuException } from './cpu-exception';
import { SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, VEC_GP, VEC_NP, VEC_SS, FLAG_VM, TWO_32 } from './cpu-constants';
import { SegmentCache } from './segment-cache';

/** A descriptor read from the GDT/LDT: two 32-bit words and where it lives. */
export class Descriptor {
  lo = 0;
  hi = 0;
  /** Linear address of the descriptor (for setting the accessed bit). */
  address = 0;
  get type(): number { return (this.hi >> 8) & 0xf; }
  get s(): boolean { return (this.hi & 0x1000) !== 0; }
  get dpl(): number { return (this.hi >> 13) & 3; }
  get present(): boolean { return (this.hi & 0x8000) !== 0; }
  get isCode(): boolean { return this.s && (this.type & 8) !== 0; }
  get conforming(): boolean { return this.isCode && (this.type & 4) !== 0; }
  get long(): boolean { return (this.hi & 0x200000) !== 0; }
}

const scratch = new Descriptor();

/** Reads the descriptor for `selector`; #GP(selector) when outside the table. */
export function readDescriptor(cpu: Cpu, selector: number, out: Descriptor = scratch, vector = VEC_GP): Descriptor {
  const index = selector & 0xfff8;
  let base: number;
  let limit: number;
  if ((selector & 4) !== 0) {
    if (cpu.ldtr.unusable || !cpu.ldtr.present) throw new CpuException(vector, selector & 0xfffc);
    base = cpu.ldtr.base; limit = cpu.ldtr.limit;
  } else {
    base = cpu.gdtBase; limit = cpu.gdtLimit;
  }
  if (index + 7 > limit) throw new CpuException(vector, selector & 0xfffc);
  out.address = base + index;
  out.lo = cpu.readSystem(out.address, 4);
  out.hi = cpu.readSystem(out.address + 4, 4);
  return out;
}

/** Reads the upper 8 bytes of a 16-byte system descriptor (TSS/LDT in long mode): the base's bits 63..32. */
export function readDescriptorHighBase(cpu: Cpu, d: Descriptor): number {
  return cpu.readSystem(d.address + 8, 4);
}

export function setAccessed(cpu: Cpu, d: Descriptor): void {
  if ((d.hi & 0x100) === 0) {
    d.hi |= 0x100;
    cpu.writeSystem(d.address + 4, 4, d.hi >>> 0);
  }
}

/** MOV/POP to DS, ES, FS, GS or SS. */
export function loadDataSegment(cpu: Cpu, seg: number, selector: number): void {
  selector &= 0xffff;
  const cache = cpu.segs[seg];
  if (!cpu.protectedMode || (cpu.eflagsSys & FLAG_VM) !== 0) {
    cache.loadReal(selector);
    if (seg === SEG_SS) cpu.updateMode();
    return;
  }
  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) {
    if (seg === SEG_SS && (!cpu.is64 || cpu.cpl === 3 || rpl !== cpu.cpl)) throw new CpuException(VEC_GP, 0);
    cache.loadNull(selector);
    if (seg === SEG_SS) { cache.dpl = cpu.cpl; cpu.updateMode(); }
    return;
  }
  const d = readDescriptor(cpu, selector);
  if (seg === SEG_SS) {
    if (rpl !== cpu.cpl || d.dpl !== cpu.cpl || !d.s || d.isCode || (d.type & 2) === 0) throw new CpuException(VEC_GP, selector & 0xfffc);
    if (!d.present) throw new CpuException(VEC_SS, selector & 0xfffc);
  } else {
    if (!d.s || (d.isCode && (d.type & 2) === 0)) throw new CpuException(VEC_GP, selector & 0xfffc);
    if ((!d.isCode || !d.conforming) && (d.dpl < cpu.cpl || d.dpl < rpl)) throw new CpuException(VEC_GP, selector & 0xfffc);
    if (!d.present) throw new CpuException(VEC_NP, selector & 0xfffc);
  }
  setAccessed(cpu, d);
  cache.loadDescriptor(selector, d.lo, d.hi);
  if (seg === SEG_SS) cpu.updateMode();
}

/**
 * Checks a code segment descriptor for a far JMP/CALL/RET/IRET to `selector`
 * at privilege `targetCpl`, and loads CS. Returns nothing; updates the mode.
 */
export function loadCodeSegment(cpu: Cpu, selector: number, d: Descriptor, newCpl: number): void {
  setAccessed(cpu, d);
  cpu.segs[SEG_CS].loadDescriptor((selector & 0xfffc) | newCpl, d.lo, d.hi);
  cpu.cpl = newCpl;
  cpu.updateMode();
}

/** Validates `selector` as the target of a far JMP or CALL (direct code segment only). */
export function checkFarTarget(cpu: Cpu, selector: number): Descriptor {
  if ((selector & 0xfffc) === 0) throw new CpuException(VEC_GP, 0);
  const d = readDescriptor(cpu, selector);
  if (!d.isCode) {
    if (!d.s) cpu.unimplemented(`far transfer through system descriptor type ${d.type} (call gate / task switch)`);
    throw new CpuException(VEC_GP, selector & 0xfffc);
  }
  const rpl = selector & 3;
  if (d.conforming ? d.dpl > cpu.cpl : rpl > cpu.cpl || d.dpl !== cpu.cpl) throw new CpuException(VEC_GP, selector & 0xfffc);
  if (!d.present) throw new CpuException(VEC_NP, selector & 0xfffc);
  return d;
}

/** On a return to an outer privilege level, data segments the new level may not use become null. */
export function nullifyInaccessibleSegments(cpu: Cpu): void {
  for (const seg of [SEG_ES, SEG_DS, SEG_FS, SEG_GS]) {
    const c = cpu.segs[seg];
    if (c.unusable) continue;
    if ((!c.isCode || !c.conforming) && c.dpl < cpu.cpl) {
      if (cpu.is64 && (seg === SEG_FS || seg === SEG_GS)) { c.selector = 0; continue; }
      c.loadNull(0);
    }
  }
}

/** Loads SS for a stack switch to `cpl` (interrupt gate or return), with its checks raising `vector`. */
export function loadStackSegmentFor(cpu: Cpu, selector: number, cpl: number, vector: number): void {
  if ((selector & 0xfffc) === 0) {
    if (cpu.longMode) { const ss = cpu.segs[SEG_SS]; ss.loadNull(selector); ss.dpl = cpl; ss.db = false; return; }
    throw new CpuException(vector, 0);
  }
  const d = readDescriptor(cpu, selector, new Descriptor(), vector);
  if ((selector & 3) !== cpl || d.dpl !== cpl || !d.s || d.isCode || (d.type & 2) === 0) throw new CpuException(vector, selector & 0xfffc);
  if (!d.present) throw new CpuException(VEC_SS, selector & 0xfffc);
  setAccessed(cpu, d);
  cpu.segs[SEG_SS].loadDescriptor(selector, d.lo, d.hi);
}

/** Flat 64-bit-capable segment for SYSCALL/SYSENTER and friends, which load fixed attributes. */
export function loadFlat(cache: SegmentCache, selector: number, code: boolean, dpl: number, long: boolean): void {
  cache.selector = selector;
  cache.base = 0;
  cache.limit = 0xffffffff;
  cache.type = code ? 0xb : 0x3;
  cache.s = true;
  cache.dpl = dpl;
  cache.present = true;
  cache.l = code && long;
  cache.db = !(code && long);
  cache.g = true;
  cache.unusable = false;
}

/** 64-bit base from a system descriptor spanning 16 bytes. */
export function systemBase(lo: number, hi: number, upper: number): number {
  const low = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  return (upper | 0) * TWO_32 + low;
}

export { SEG_DS };

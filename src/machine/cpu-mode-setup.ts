/**
 * Puts a vCPU straight into real mode, flat 32-bit protected mode or 64-bit
 * long mode at a given entry point, with no firmware: a GDT (and for long
 * mode, identity page tables) written at `scratchBase`, and segment/control
 * registers set to match. For tests and raw guests; it touches only the
 * Vcpu and GuestMemory interfaces, so it works with every accelerator.
 */
import { Segment, SpecialRegisters, Vcpu } from '../accel';
import { GuestMemory } from '../memory/guest-memory';

export type CpuMode = 16 | 32 | 64;

/** GDT selectors written by setupRawMode. */
export const RAW_CODE64_SELECTOR = 0x08;
export const RAW_DATA_SELECTOR = 0x10;
export const RAW_CODE32_SELECTOR = 0x18;

// Flat descriptors: base 0, limit 0xfffff pages.
const GDT_ENTRIES = [
  0n, // null
  0x00af9b000000ffffn, // 64-bit code, present, DPL 0, L=1
  0x00cf93000000ffffn, // data, read/write, 4 GiB, D/B=1
  0x00cf9b000000ffffn, // 32-bit code, 4 GiB, D/B=1
];

const GDT_OFFSET = 0;
const PML4_OFFSET = 0x1000;
const PDPT_OFFSET = 0x2000;
const PD_OFFSET = 0x3000;
/**
 * Eight page directories of 2 MiB pages: identity map of the first 8 GiB, so
 * RAM above the 32-bit PCI hole is reachable too. 2 MiB rather than 1 GiB
 * pages because not every CPU (nor the software CPU) has 1 GiB pages.
 */
const PD_COUNT = 8;
/** Bytes of guest RAM setupRawMode uses at scratchBase for mode `mode`. */
export function rawModeScratchSize(mode: CpuMode): number {
  return mode === 64 ? PD_OFFSET + PD_COUNT * 0x1000 : 0x1000;
}

const CR0_PE = 1n << 0n;
const CR0_ET = 1n << 4n;
const CR0_NE = 1n << 5n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const PTE_PRESENT = 1n;
const PTE_WRITABLE = 2n;
const PDE_LARGE = 1n << 7n;

function flatSegment(selector: number, code: boolean, mode: 32 | 64): Segment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type: code ? 0xb : 0x3, // execute/read accessed, or read/write accessed
    present: true,
    dpl: 0,
    db: !(code && mode === 64),
    s: true,
    l: code && mode === 64,
    g: true,
    avl: false,
    unusable: false,
  };
}

function realModeSegment(selector: number, code: boolean): Segment {
  return {
    base: BigInt(selector) << 4n,
    limit: 0xffff,
    selector,
    type: code ? 0xb : 0x3,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: false,
    g: false,
    avl: false,
    unusable: false,
  };
}

function writeGdt(memory: GuestMemory, base: number): void {
  GDT_ENTRIES.forEach((d, i) => memory.writeU64(base + GDT_OFFSET + i * 8, d));
}

function writeIdentityPageTables(memory: GuestMemory, base: number): void {
  memory.mustView(base + PML4_OFFSET, rawModeScratchSize(64) - PML4_OFFSET).fill(0);
  memory.writeU64(base + PML4_OFFSET, BigInt(base + PDPT_OFFSET) | PTE_PRESENT | PTE_WRITABLE);
  for (let pd = 0; pd < PD_COUNT; pd++) {
    const pdBase = base + PD_OFFSET + pd * 0x1000;
    memory.writeU64(base + PDPT_OFFSET + pd * 8, BigInt(pdBase) | PTE_PRESENT | PTE_WRITABLE);
    for (let i = 0; i < 512; i++) {
      const physical = (BigInt(pd) << 30n) | (BigInt(i) << 21n);
      memory.writeU64(pdBase + i * 8, physical | PTE_PRESENT | PTE_WRITABLE | PDE_LARGE);
    }
  }
}

/**
 * Starts `vcpu` at guest physical `entry` in `mode`. For 16-bit, `entry`
 * must be below 1 MiB; CS is chosen so that CS:IP = entry, the other data
 * segments are 0. For 32/64-bit, segments are flat (base 0, 4 GiB) and for
 * 64-bit the first 8 GiB are identity-mapped with 2 MiB pages. Interrupts
 * are off (no IDT); general registers other than rip/rflags are kept.
 * `scratchBase` (page aligned, rawModeScratchSize(mode) bytes of RAM) holds
 * the GDT and page tables.
 */
export function setupRawMode(vcpu: Vcpu, memory: GuestMemory, mode: CpuMode, entry: number, scratchBase: number): void {
  if (scratchBase % 0x1000 !== 0) throw new RangeError('scratchBase must be page aligned');
  memory.mustView(scratchBase, rawModeScratchSize(mode));
  const sregs: SpecialRegisters = vcpu.getSpecialRegisters();
  const regs = vcpu.getRegisters();
  regs.rflags = 0x2n; // reserved bit 1 only: interrupts off

  if (mode === 16) {
    if (entry >= 0x100000) throw new RangeError('a real-mode entry must be below 1 MiB');
    const codeSelector = (entry >>> 4) & 0xf000;
    sregs.cs = realModeSegment(codeSelector, true);
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) sregs[s] = realModeSegment(0, false);
    sregs.cr0 = (sregs.cr0 & ~(CR0_PE | CR0_PG)) | CR0_ET;
    sregs.cr4 &= ~CR4_PAE;
    sregs.efer &= ~(EFER_LME | EFER_LMA);
    regs.rip = BigInt(entry - codeSelector * 16);
  } else {
    writeGdt(memory, scratchBase);
    sregs.gdt = { base: BigInt(scratchBase + GDT_OFFSET), limit: GDT_ENTRIES.length * 8 - 1 };
    sregs.cs = flatSegment(mode === 64 ? RAW_CODE64_SELECTOR : RAW_CODE32_SELECTOR, true, mode);
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) sregs[s] = flatSegment(RAW_DATA_SELECTOR, false, mode);
    sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
    if (mode === 64) {
      writeIdentityPageTables(memory, scratchBase);
      sregs.cr3 = BigInt(scratchBase + PML4_OFFSET);
      sregs.cr4 |= CR4_PAE;
      sregs.cr0 |= CR0_PG;
      sregs.efer |= EFER_LME | EFER_LMA;
    } else {
      sregs.cr4 &= ~CR4_PAE;
      sregs.efer &= ~(EFER_LME | EFER_LMA);
    }
    regs.rip = BigInt(entry);
  }
  vcpu.setSpecialRegisters(sregs);
  vcpu.setRegisters(regs);
}

/**
 * How a loaded guest starts: the CPU mode, where to jump, and the registers
 * the boot protocol defines (RSI = boot_params for Linux, EBX = start_info for
 * PVH, EAX/EBX for Multiboot).
 *
 * The loaders only describe it; the machine applies it with
 * `setupRawMode(vcpu, memory, mode, entry, scratchBase)` from
 * cpu-mode-setup.ts, which writes a flat GDT at `gdtBase` (and identity page
 * tables at `pageTablesBase` for 64-bit) and sets the segment and control
 * registers, then sets `registers` on top.
 */
import type { Registers, Vcpu } from '../accel';
import { GuestMemory } from '../memory/guest-memory';
import { rawModeScratchSize, setupRawMode } from './cpu-mode-setup';

export type EntryMode = 16 | 32 | 64;

export type BootProtocol = 'linux-bzimage' | 'pvh' | 'multiboot';

export interface EntryState {
  readonly protocol: BootProtocol;
  /** 32: protected mode, flat segments, paging off. 64: long mode, identity mapped, flat segments. */
  readonly mode: EntryMode;
  /** Entry point (guest physical = linear, since segments are flat and pages identity mapped). */
  readonly rip: bigint;
  /** Registers the protocol defines; everything else is zero. RFLAGS keeps interrupts off (0x2). */
  readonly registers: Partial<Registers>;
  /** Scratch area setupRawMode may overwrite with the GDT and page tables. */
  readonly scratchBase: number;
  readonly scratchSize: number;
  /** Where the GDT goes (start of the scratch area). */
  readonly gdtBase: number;
  /** Where the identity page tables go (64-bit only). */
  readonly pageTablesBase?: number;
  /** Bytes from 0 the identity map must cover (64-bit only): everything the kernel touches before its own tables. */
  readonly identityMapBytes?: number;
}

/** RFLAGS at entry: only the always-one bit 1, so IF (interrupts) is off as every protocol requires. */
export const ENTRY_RFLAGS = 0x2n;

/**
 * Puts `vcpu` in the entry state: mode, GDT and page tables through
 * setupRawMode (cpu-mode-setup.ts), then the protocol's registers on top.
 */
export function applyEntryState(vcpu: Vcpu, memory: GuestMemory, entry: EntryState): void {
  if (entry.scratchSize < rawModeScratchSize(entry.mode)) {
    throw new RangeError(`boot scratch area of ${entry.scratchSize} bytes is too small for mode ${entry.mode}`);
  }
  setupRawMode(vcpu, memory, entry.mode, Number(entry.rip), entry.scratchBase);
  const regs = vcpu.getRegisters();
  for (const [key, value] of Object.entries(entry.registers) as [keyof Registers, bigint | undefined][]) {
    if (value !== undefined) regs[key] = value;
  }
  regs.rip = entry.rip;
  vcpu.setRegisters(regs);
}

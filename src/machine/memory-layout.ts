/**
 * Where everything lives in guest physical memory: RAM regions around the
 * 32-bit PCI hole, and the fixed addresses the boot code and the machine
 * agree on (zero page, command line, boot page tables, ACPI, MP table,
 * interrupt controllers, virtio-mmio slots, PCI windows).
 *
 * Low memory (below 1 MiB) follows the PC convention Linux expects:
 * 0-0x9fc00 usable, the EBDA and BIOS area 0x9fc00-0x100000 reserved; the
 * ACPI RSDP sits at 0xE0000 and the MP floating pointer at 0xF0000 because
 * Linux finds both only by scanning those BIOS ranges.
 */

import type { GuestMemory } from '../memory/guest-memory';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** The 32-bit hole for MMIO: RAM below it is at most 3 GiB, the rest moves to 4 GiB. */
export const PCI_HOLE_START = 0xc000_0000;
export const PCI_HOLE_END = 0x1_0000_0000;
export const HIGH_RAM_START = 0x1_0000_0000;

/** Smallest guest we agree to lay out; below this not even the boot structures fit sensibly. */
export const MIN_RAM_SIZE = 16 * MiB;

// --- Below 1 MiB (the real-mode IVT and BDA at 0-0x500 are left alone) ---------

/** hvm_start_info (PVH) or the Multiboot info structure, with their tables and strings. */
export const BOOT_INFO_ADDR = 0x6000;
export const BOOT_INFO_SIZE = 0x1000;
/** Linux boot_params ("zero page"). */
export const ZERO_PAGE_ADDR = 0x7000;
/**
 * Scratch for the entry mode: GDT at the start, identity page tables after
 * it (cpu-mode-setup writes them). 0x9000-0x1ffff, 92 KiB: room for a GDT
 * page, PML4, PDPT and four page directories mapping 4 GiB with 2 MiB pages.
 */
export const BOOT_SCRATCH_ADDR = 0x9000;
export const BOOT_SCRATCH_SIZE = 0x17000;
export const BOOT_GDT_ADDR = BOOT_SCRATCH_ADDR;
export const BOOT_PAGE_TABLES_ADDR = BOOT_SCRATCH_ADDR + 0x1000;
/** Kernel command line (NUL terminated). */
export const CMDLINE_ADDR = 0x20000;
export const CMDLINE_MAX_SIZE = 0x10000;

/** End of conventional memory: the EBDA starts here, as on a PC with 639 KiB base memory. */
export const EBDA_START = 0x9fc00;
/** The BIOS read-only area where Linux scans for the RSDP (0xE0000-0xFFFFF). */
export const BIOS_AREA_START = 0xe0000;
export const BIOS_AREA_END = 0x100000;
/** ACPI tables: RSDP first (16-byte aligned, found by the scan), the other tables after it. */
export const ACPI_TABLES_ADDR = 0xe0000;
export const ACPI_TABLES_MAX_SIZE = 0x10000;
/** Intel MP floating pointer + configuration table (scanned for in 0xF0000-0xFFFFF). */
export const MPTABLE_ADDR = 0xf0000;
export const MPTABLE_MAX_SIZE = 0x10000;

/** The protected-mode kernel is loaded here (the boot protocol's traditional address). */
export const KERNEL_LOAD_ADDR = 0x100000;

// --- In the 32-bit hole ----------------------------------------------------

/** 32-bit PCI MMIO window for BARs. */
export const PCI_MMIO_START = 0xc000_0000;
export const PCI_MMIO_SIZE = 0x1000_0000;
/** virtio-mmio device slots: slot n at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE. */
export const VIRTIO_MMIO_BASE = 0xd000_0000;
export const VIRTIO_MMIO_SLOT_SIZE = 0x1000;
/** PCI Express ECAM (MMCONFIG) for buses 0-255, 1 MiB per bus. */
export const PCI_ECAM_START = 0xe000_0000;
export const PCI_ECAM_SIZE = 0x1000_0000;
export const IOAPIC_ADDR = 0xfec0_0000;
export const LAPIC_ADDR = 0xfee0_0000;

/** PCI configuration mechanism #1 ports and the I/O window given to PCI devices. */
export const PCI_CONFIG_PORT = 0xcf8;
export const PCI_CONFIG_PORT_SIZE = 8;
export const PCI_IO_START = 0x1000;
export const PCI_IO_END = 0xffff;

/**
 * GSIs for virtio-mmio slots, in slot order. Starts at 5 and skips the ISA
 * lines in use (8 RTC, 9 ACPI SCI) and 16-19, which the PCI _PRT uses for
 * INTA-INTD.
 */
export const VIRTIO_MMIO_IRQS: readonly number[] = [5, 6, 7, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23];
/** GSIs for PCI INTA..INTD (swizzled per slot in the _PRT). */
export const PCI_INTX_GSIS: readonly number[] = [16, 17, 18, 19];
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;

export interface VirtioMmioSlot {
  readonly address: number;
  readonly size: number;
  readonly irq: number;
}

export class MemoryLayoutError extends Error {
  override name = 'MemoryLayoutError';
}

/** Address, size and GSI of virtio-mmio slot `index`. */
export function virtioMmioSlot(index: number): VirtioMmioSlot {
  if (!Number.isInteger(index) || index < 0 || index >= VIRTIO_MMIO_IRQS.length) {
    throw new MemoryLayoutError(`virtio-mmio slot ${index} out of range (0..${VIRTIO_MMIO_IRQS.length - 1})`);
  }
  return { address: VIRTIO_MMIO_BASE + index * VIRTIO_MMIO_SLOT_SIZE, size: VIRTIO_MMIO_SLOT_SIZE, irq: VIRTIO_MMIO_IRQS[index] };
}

export interface RamRegion {
  readonly guestAddress: number;
  readonly size: number;
}

export interface MemoryLayout {
  readonly ramSize: number;
  /** What the accelerator maps: low RAM from 0, and high RAM at 4 GiB when there is more than 3 GiB. */
  readonly ram: readonly RamRegion[];
  /** First byte above low RAM (at most PCI_HOLE_START). */
  readonly lowRamEnd: number;
  /** First byte above high RAM, or 0 when there is none. */
  readonly highRamEnd: number;
}

/** RAM regions for `ramSize` bytes: min(size, 3 GiB) from 0, the rest at 4 GiB. */
/** The largest single RAM region: 2 GiB, safely below V8's typed-array limit of 4 GiB. */
export const MAX_REGION_SIZE = 2 * 1024 * MiB;

export function memoryLayout(ramSize: number): MemoryLayout {
  if (!Number.isSafeInteger(ramSize) || ramSize < MIN_RAM_SIZE) {
    throw new MemoryLayoutError(`too little memory: ${ramSize} bytes, at least ${MIN_RAM_SIZE / MiB} MiB needed`);
  }
  if (ramSize % (4 * KiB) !== 0) {
    throw new MemoryLayoutError(`memory size ${ramSize} is not a multiple of 4 KiB`);
  }
  const low = Math.min(ramSize, PCI_HOLE_START);
  const high = ramSize - low;
  const ram: RamRegion[] = [{ guestAddress: 0, size: low }];
  // RAM above 4 GiB comes in chunks: V8 refuses a typed array of 4 GiB or more,
  // and the software CPU keeps each region in one. KVM maps each as its own slot.
  for (let done = 0; done < high; done += MAX_REGION_SIZE) {
    ram.push({ guestAddress: HIGH_RAM_START + done, size: Math.min(MAX_REGION_SIZE, high - done) });
  }
  return { ramSize, ram, lowRamEnd: low, highRamEnd: high > 0 ? HIGH_RAM_START + high : 0 };
}

/** The layout of an existing GuestMemory (low RAM from 0, optional high RAM from 4 GiB), whatever its size. */
export function layoutOfMemory(memory: GuestMemory): MemoryLayout {
  const low = memory.regions.find((r) => r.guestAddress === 0);
  if (!low) throw new MemoryLayoutError('too little memory: no RAM at address 0');
  // High RAM may be several contiguous regions (see MAX_REGION_SIZE); it ends where the last one does.
  const highEnds = memory.regions.filter((r) => r.guestAddress >= HIGH_RAM_START).map((r) => r.guestAddress + r.bytes.length);
  return {
    ramSize: memory.size,
    ram: memory.regions.map((r) => ({ guestAddress: r.guestAddress, size: r.bytes.length })),
    lowRamEnd: low.bytes.length,
    highRamEnd: highEnds.length ? Math.max(...highEnds) : 0,
  };
}

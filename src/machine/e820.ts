/**
 * The BIOS E820 memory map as the guest sees it: the same table goes into
 * Linux's boot_params, PVH's memmap and (converted) Multiboot's mmap.
 *
 * The PCI hole is simply absent: Linux treats addresses missing from the map
 * as free for MMIO, which is what the hole is.
 */
import { BIOS_AREA_END, EBDA_START, MemoryLayout } from './memory-layout';

export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export type E820Type = typeof E820_RAM | typeof E820_RESERVED | typeof E820_ACPI | typeof E820_NVS;

export interface E820Entry {
  readonly addr: number;
  readonly size: number;
  readonly type: E820Type;
}

/** Size of one entry in boot_params.e820_table: u64 addr, u64 size, u32 type, packed. */
export const E820_ENTRY_SIZE = 20;
/** boot_params.e820_table holds at most this many entries. */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

/** A range carved out of low RAM and given another type (ACPI tables at the top of low RAM, for example). */
export interface E820Carve {
  readonly addr: number;
  readonly size: number;
  readonly type: E820Type;
}

/**
 * The map for a layout: usable 0-0x9fc00, reserved 0x9fc00-1 MiB, usable
 * 1 MiB to the end of low RAM (minus carved ranges, which keep their own type),
 * and high RAM above 4 GiB.
 */
export function buildE820(layout: MemoryLayout, carves: readonly E820Carve[] = []): E820Entry[] {
  const entries: E820Entry[] = [
    { addr: 0, size: EBDA_START, type: E820_RAM },
    { addr: EBDA_START, size: BIOS_AREA_END - EBDA_START, type: E820_RESERVED },
  ];
  const sorted = [...carves].sort((a, b) => a.addr - b.addr);
  let cursor = BIOS_AREA_END;
  for (const c of sorted) {
    if (c.addr < cursor || c.addr + c.size > layout.lowRamEnd) {
      throw new RangeError(`e820 carve 0x${c.addr.toString(16)}+0x${c.size.toString(16)} is not inside free low RAM`);
    }
    if (c.addr > cursor) entries.push({ addr: cursor, size: c.addr - cursor, type: E820_RAM });
    entries.push({ addr: c.addr, size: c.size, type: c.type });
    cursor = c.addr + c.size;
  }
  if (layout.lowRamEnd > cursor) entries.push({ addr: cursor, size: layout.lowRamEnd - cursor, type: E820_RAM });
  for (const r of layout.ram) {
    if (r.guestAddress === 0) continue;
    // RAM above 4 GiB is held in several regions; the guest sees one range.
    const last = entries[entries.length - 1];
    if (last.type === E820_RAM && last.addr + last.size === r.guestAddress) entries[entries.length - 1] = { ...last, size: last.size + r.size };
    else entries.push({ addr: r.guestAddress, size: r.size, type: E820_RAM });
  }
  return entries;
}

/** Writes entries in the boot_params layout (addr u64, size u64, type u32, packed). */
export function writeE820Entries(view: DataView, offset: number, entries: readonly E820Entry[]): void {
  entries.forEach((e, i) => {
    const at = offset + i * E820_ENTRY_SIZE;
    view.setBigUint64(at, BigInt(e.addr), true);
    view.setBigUint64(at + 8, BigInt(e.size), true);
    view.setUint32(at + 16, e.type, true);
  });
}

/** KiB of usable RAM contiguous from `start` (Multiboot mem_lower/mem_upper). */
export function contiguousKiBFrom(entries: readonly E820Entry[], start: number): number {
  const e = entries.find((x) => x.type === E820_RAM && x.addr <= start && x.addr + x.size > start);
  return e ? Math.floor((e.addr + e.size - start) / 1024) : 0;
}

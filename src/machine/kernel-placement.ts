/** Checked writes of kernel pieces into guest RAM, shared by the PVH and Multiboot loaders. */
import { GuestMemory } from '../memory/guest-memory';
import { BootError, hex } from './boot-error';
import { E820Entry, E820_RAM } from './e820';
import { BIOS_AREA_END } from './memory-layout';

/**
 * Writes `data` at `address` and zeroes up to `zeroTo` (a segment's BSS).
 * Refuses ranges below 1 MiB, where the boot structures live, and ranges that
 * are not usable RAM.
 */
export function writeKernelRange(memory: GuestMemory, e820: readonly E820Entry[], address: number, data: Uint8Array, zeroTo: number): void {
  const end = Math.max(zeroTo, address + data.length);
  if (address < BIOS_AREA_END) {
    throw new BootError(`kernel segment at ${hex(address)}-${hex(end)} overlaps the boot area below 1 MiB`);
  }
  const usable = e820.some((e) => e.type === E820_RAM && e.addr <= address && end <= e.addr + e.size);
  if (!usable) {
    throw new BootError(`kernel too big for RAM: segment ${hex(address)}-${hex(end)} is not inside usable RAM`);
  }
  memory.write(address, data);
  memory.mustView(address + data.length, end - address - data.length).fill(0);
}

/** End of the usable RAM range that holds `address` (for placing the initrd under it). */
export function usableEndAbove(e820: readonly E820Entry[], address: number): number {
  const r = e820.find((e) => e.type === E820_RAM && e.addr <= address && address < e.addr + e.size);
  if (!r) throw new BootError(`too little memory: no usable RAM at ${hex(address)}`);
  return r.addr + r.size;
}

/**
 * PVH boot (Xen's x86/HVM direct boot ABI, which Linux, FreeBSD and others
 * implement): an uncompressed ELF kernel whose XEN_ELFNOTE_PHYS32_ENTRY note
 * gives a 32-bit entry point. The loader puts the segments at their physical
 * addresses and hands over an hvm_start_info (command line, the initrd as a
 * module, the RSDP, the E820 map); the vCPU starts in flat 32-bit protected
 * mode with paging off and EBX = start_info.
 */
import { GuestMemory } from '../memory/guest-memory';
import { BootError } from './boot-error';
import { E820Entry } from './e820';
import { ElfImage, loadSegments, parseElf } from './elf';
import { ENTRY_RFLAGS, EntryState } from './entry-state';
import { usableEndAbove, writeKernelRange } from './kernel-placement';
import { PlacedBlob, placeInitrd } from './linux-boot';
import { BOOT_GDT_ADDR, BOOT_INFO_ADDR, BOOT_INFO_SIZE, BOOT_SCRATCH_ADDR, BOOT_SCRATCH_SIZE, CMDLINE_ADDR, CMDLINE_MAX_SIZE, PCI_HOLE_START } from './memory-layout';

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const HVM_START_MAGIC = 0x336ec578;
/** Version 1 adds the memory map. */
export const HVM_START_VERSION = 1;
export const HVM_START_INFO_SIZE = 0x38;
/** In the boot info page: the module list (one 32-byte hvm_modlist_entry) and the memory map (24-byte entries). */
export const HVM_MODLIST_OFFSET = 0x40;
export const HVM_MEMMAP_OFFSET = 0x80;
export const HVM_MEMMAP_ENTRY_SIZE = 24;

/** The PVH entry point from the "Xen" note of type 18, or undefined when the image has none. */
export function pvhEntry(elf: ElfImage): number | undefined {
  const note = elf.notes.find((n) => n.name === 'Xen' && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note || note.desc.length < 4) return undefined;
  // Linux writes the note with _ASM_PTR: 8 bytes on 64-bit builds. The entry is 32-bit either way.
  return new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength).getUint32(0, true);
}

export interface PvhBootOptions {
  readonly cmdline: string;
  readonly initrd?: Uint8Array;
  readonly e820: readonly E820Entry[];
  readonly acpiRsdpAddr?: number;
}

export interface PvhBootResult {
  readonly entry: EntryState;
  readonly kernel: PlacedBlob;
  readonly initrd?: PlacedBlob;
  readonly startInfo: number;
}

export function loadPvh(memory: GuestMemory, image: Uint8Array, o: PvhBootOptions): PvhBootResult {
  const elf = parseElf(image);
  const entryPoint = pvhEntry(elf);
  if (entryPoint === undefined) throw new BootError('ELF kernel has no PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY note, type 18, name "Xen")');
  const maxEntries = (BOOT_INFO_SIZE - HVM_MEMMAP_OFFSET) / HVM_MEMMAP_ENTRY_SIZE;
  if (o.e820.length > maxEntries) throw new BootError(`too many memory map entries for PVH: ${o.e820.length}`);

  const loaded = loadSegments(elf, image, (address, data, zeroTo) => writeKernelRange(memory, o.e820, address, data, zeroTo));
  const cmdline = new TextEncoder().encode(o.cmdline);
  if (cmdline.length >= CMDLINE_MAX_SIZE) throw new BootError(`kernel command line too long: ${cmdline.length} bytes, at most ${CMDLINE_MAX_SIZE - 1}`);
  memory.mustView(CMDLINE_ADDR, cmdline.length + 1).set([...cmdline, 0]);

  let initrd: PlacedBlob | undefined;
  if (o.initrd) {
    const ceiling = Math.min(usableEndAbove(o.e820, loaded.start), PCI_HOLE_START);
    const address = placeInitrd(o.initrd.length, loaded.end, ceiling);
    memory.write(address, o.initrd);
    initrd = { address, size: o.initrd.length };
  }

  const info = memory.mustView(BOOT_INFO_ADDR, BOOT_INFO_SIZE);
  info.fill(0);
  const v = new DataView(info.buffer, info.byteOffset, info.byteLength);
  v.setUint32(0x00, HVM_START_MAGIC, true);
  v.setUint32(0x04, HVM_START_VERSION, true);
  v.setUint32(0x0c, initrd ? 1 : 0, true);
  v.setBigUint64(0x10, initrd ? BigInt(BOOT_INFO_ADDR + HVM_MODLIST_OFFSET) : 0n, true);
  v.setBigUint64(0x18, BigInt(CMDLINE_ADDR), true);
  v.setBigUint64(0x20, BigInt(o.acpiRsdpAddr ?? 0), true);
  v.setBigUint64(0x28, BigInt(BOOT_INFO_ADDR + HVM_MEMMAP_OFFSET), true);
  v.setUint32(0x30, o.e820.length, true);
  if (initrd) {
    v.setBigUint64(HVM_MODLIST_OFFSET, BigInt(initrd.address), true);
    v.setBigUint64(HVM_MODLIST_OFFSET + 8, BigInt(initrd.size), true);
  }
  o.e820.forEach((e, i) => {
    const at = HVM_MEMMAP_OFFSET + i * HVM_MEMMAP_ENTRY_SIZE;
    v.setBigUint64(at, BigInt(e.addr), true);
    v.setBigUint64(at + 8, BigInt(e.size), true);
    v.setUint32(at + 16, e.type, true);
  });

  return {
    entry: {
      protocol: 'pvh',
      mode: 32,
      rip: BigInt(entryPoint),
      registers: { rbx: BigInt(BOOT_INFO_ADDR), rflags: ENTRY_RFLAGS },
      scratchBase: BOOT_SCRATCH_ADDR,
      scratchSize: BOOT_SCRATCH_SIZE,
      gdtBase: BOOT_GDT_ADDR,
    },
    kernel: { address: loaded.start, size: loaded.end - loaded.start },
    initrd,
    startInfo: BOOT_INFO_ADDR,
  };
}

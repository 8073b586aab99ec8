/**
 * Multiboot v1, as QEMU's -kernel does it: an ELF32 image (or any image
 * using the header's address fields, the "a.out kludge") with a Multiboot
 * header in its first 8 KiB. The kernel gets an info structure with the
 * memory sizes, the E820-style memory map, the command line, the initrd as
 * its one module and the loader name, and starts in flat 32-bit protected
 * mode with EAX = 0x2BADB002 and EBX = the info structure.
 */
import { GuestMemory } from '../memory/guest-memory';
import { BootError, hex } from './boot-error';
import { E820Entry, contiguousKiBFrom } from './e820';
import { isElf, loadSegments, parseElf, PT_LOAD } from './elf';
import { ENTRY_RFLAGS, EntryState } from './entry-state';
import { usableEndAbove, writeKernelRange } from './kernel-placement';
import { PlacedBlob, placeInitrd } from './linux-boot';
import { BOOT_GDT_ADDR, BOOT_INFO_ADDR, BOOT_INFO_SIZE, BOOT_SCRATCH_ADDR, BOOT_SCRATCH_SIZE, CMDLINE_ADDR, CMDLINE_MAX_SIZE, PCI_HOLE_START } from './memory-layout';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must sit 4-byte aligned in the first 8 KiB. */
export const MULTIBOOT_SEARCH = 8192;
export const MB_PAGE_ALIGN = 1 << 0;
export const MB_MEMORY_INFO = 1 << 1;
export const MB_VIDEO_MODE = 1 << 2;
export const MB_AOUT_KLUDGE = 1 << 16;
/** Low 16 flag bits are requirements: the loader must refuse bits it does not know. */
const MB_KNOWN_REQUIRED = MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE;

// multiboot_info.flags
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MEM_MAP = 1 << 6;
export const MBI_LOADER_NAME = 1 << 9;
export const MULTIBOOT_INFO_SIZE = 116;
/** Layout of the boot info page. */
export const MBI_MMAP_OFFSET = 0x80;
export const MBI_MODS_OFFSET = 0x800;
export const MBI_STRINGS_OFFSET = 0x900;
const MMAP_ENTRY_SIZE = 24;
export const LOADER_NAME = 'tsvisor';
export const MODULE_STRING = 'initrd';

export interface MultibootHeader {
  /** Offset of the header in the file. */
  readonly offset: number;
  readonly flags: number;
  readonly headerAddr: number;
  readonly loadAddr: number;
  readonly loadEndAddr: number;
  readonly bssEndAddr: number;
  readonly entryAddr: number;
}

/** The Multiboot header (magic and valid checksum) in the first 8 KiB, or undefined. */
export function findMultibootHeader(image: Uint8Array): MultibootHeader | undefined {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(image.length, MULTIBOOT_SEARCH) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (v.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = v.getUint32(off + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + v.getUint32(off + 8, true)) >>> 0) !== 0) continue;
    const field = (i: number): number => (off + 12 + i * 4 + 4 <= image.length ? v.getUint32(off + 12 + i * 4, true) : 0);
    return { offset: off, flags, headerAddr: field(0), loadAddr: field(1), loadEndAddr: field(2), bssEndAddr: field(3), entryAddr: field(4) };
  }
  return undefined;
}

export interface MultibootOptions {
  readonly cmdline: string;
  readonly initrd?: Uint8Array;
  readonly e820: readonly E820Entry[];
}

export interface MultibootResult {
  readonly entry: EntryState;
  readonly kernel: PlacedBlob;
  readonly initrd?: PlacedBlob;
  readonly info: number;
}

/** Loads through the header's address fields: the file from header_addr's position, then BSS. */
function loadAout(memory: GuestMemory, image: Uint8Array, h: MultibootHeader, e820: readonly E820Entry[]): { start: number; end: number; entry: number } {
  if (h.loadAddr > h.headerAddr) throw new BootError(`Multiboot header: load_addr ${hex(h.loadAddr)} is above header_addr ${hex(h.headerAddr)}`);
  const fileStart = h.offset - (h.headerAddr - h.loadAddr);
  if (fileStart < 0) throw new BootError('Multiboot header: load_addr lies before the start of the file');
  const length = h.loadEndAddr !== 0 ? h.loadEndAddr - h.loadAddr : image.length - fileStart;
  if (length <= 0 || fileStart + length > image.length) throw new BootError(`truncated Multiboot image: needs ${fileStart + length} bytes, has ${image.length}`);
  const end = Math.max(h.loadAddr + length, h.bssEndAddr);
  writeKernelRange(memory, e820, h.loadAddr, image.subarray(fileStart, fileStart + length), end);
  return { start: h.loadAddr, end, entry: h.entryAddr };
}

function loadElf32(memory: GuestMemory, image: Uint8Array, e820: readonly E820Entry[]): { start: number; end: number; entry: number } {
  const elf = parseElf(image);
  if (elf.class !== 32) throw new BootError('Multiboot: a 64-bit ELF needs the header address fields (flag 16); give a 32-bit ELF');
  const loaded = loadSegments(elf, image, (address, data, zeroTo) => writeKernelRange(memory, e820, address, data, zeroTo));
  // e_entry is virtual; kernels linked high but loaded low expect it translated to where it was loaded.
  const seg = elf.segments.find((s) => s.type === PT_LOAD && elf.entry >= s.vaddr && elf.entry < s.vaddr + s.memsz);
  return { ...loaded, entry: seg ? seg.paddr + (elf.entry - seg.vaddr) : elf.entry };
}

export function loadMultiboot(memory: GuestMemory, image: Uint8Array, o: MultibootOptions): MultibootResult {
  const h = findMultibootHeader(image);
  if (!h) throw new BootError('not a Multiboot kernel: no header with magic 0x1BADB002 and a valid checksum in the first 8 KiB');
  const unknown = h.flags & 0xffff & ~MB_KNOWN_REQUIRED;
  if (unknown !== 0) throw new BootError(`Multiboot header requires features tsvisor does not provide (flags ${hex(unknown)})`);
  const kludge = (h.flags & MB_AOUT_KLUDGE) !== 0;
  if (!kludge && !isElf(image)) throw new BootError('Multiboot: not an ELF image and no header address fields (flag 16)');
  const loaded = kludge ? loadAout(memory, image, h, o.e820) : loadElf32(memory, image, o.e820);

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
  writeInfo(memory, o.e820, initrd);
  return {
    entry: {
      protocol: 'multiboot',
      mode: 32,
      rip: BigInt(loaded.entry),
      registers: { rax: BigInt(MULTIBOOT_BOOTLOADER_MAGIC), rbx: BigInt(BOOT_INFO_ADDR), rflags: ENTRY_RFLAGS },
      scratchBase: BOOT_SCRATCH_ADDR,
      scratchSize: BOOT_SCRATCH_SIZE,
      gdtBase: BOOT_GDT_ADDR,
    },
    kernel: { address: loaded.start, size: loaded.end - loaded.start },
    initrd,
    info: BOOT_INFO_ADDR,
  };
}

function writeInfo(memory: GuestMemory, e820: readonly E820Entry[], initrd: PlacedBlob | undefined): void {
  const maxEntries = (MBI_MODS_OFFSET - MBI_MMAP_OFFSET) / MMAP_ENTRY_SIZE;
  if (e820.length > maxEntries) throw new BootError(`too many memory map entries for Multiboot: ${e820.length}`);
  const page = memory.mustView(BOOT_INFO_ADDR, BOOT_INFO_SIZE);
  page.fill(0);
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const strings = new TextEncoder().encode(`${LOADER_NAME}\0${MODULE_STRING}\0`);
  page.set(strings, MBI_STRINGS_OFFSET);
  const loaderName = BOOT_INFO_ADDR + MBI_STRINGS_OFFSET;
  const moduleString = loaderName + LOADER_NAME.length + 1;

  v.setUint32(0, MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MEM_MAP | MBI_LOADER_NAME, true);
  v.setUint32(4, contiguousKiBFrom(e820, 0), true);
  v.setUint32(8, contiguousKiBFrom(e820, 0x100000), true);
  v.setUint32(16, CMDLINE_ADDR, true);
  v.setUint32(20, initrd ? 1 : 0, true);
  v.setUint32(24, BOOT_INFO_ADDR + MBI_MODS_OFFSET, true);
  v.setUint32(44, e820.length * MMAP_ENTRY_SIZE, true);
  v.setUint32(48, BOOT_INFO_ADDR + MBI_MMAP_OFFSET, true);
  v.setUint32(64, loaderName, true);
  if (initrd) {
    v.setUint32(MBI_MODS_OFFSET, initrd.address, true);
    v.setUint32(MBI_MODS_OFFSET + 4, initrd.address + initrd.size, true);
    v.setUint32(MBI_MODS_OFFSET + 8, moduleString, true);
  }
  e820.forEach((e, i) => {
    // Each entry starts with its size, not counting the size field itself.
    const at = MBI_MMAP_OFFSET + i * MMAP_ENTRY_SIZE;
    v.setUint32(at, MMAP_ENTRY_SIZE - 4, true);
    v.setBigUint64(at + 4, BigInt(e.addr), true);
    v.setBigUint64(at + 12, BigInt(e.size), true);
    v.setUint32(at + 20, e.type, true);
  });
}

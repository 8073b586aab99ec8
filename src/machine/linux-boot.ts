/**
 * Loads a bzImage for the Linux 64-bit boot protocol: the protected-mode
 * kernel at 1 MiB, the initrd as high as it may go, the command line, and
 * boot_params (the "zero page") with the E820 map; returns the entry state
 * (long mode, RIP = kernel + 0x200, RSI = boot_params).
 */
import { GuestMemory } from '../memory/guest-memory';
import { BootError, hex } from './boot-error';
import {
  HDR,
  LOADFLAG_CAN_USE_HEAP,
  PROTOCOL_ACPI_RSDP,
  SetupHeader,
  parseSetupHeader,
} from './bzimage';
import { E820Entry, E820_MAX_ENTRIES_ZEROPAGE, E820_RAM, buildE820, writeE820Entries } from './e820';
import { ENTRY_RFLAGS, EntryState } from './entry-state';
import {
  BOOT_GDT_ADDR,
  BOOT_PAGE_TABLES_ADDR,
  BOOT_SCRATCH_ADDR,
  BOOT_SCRATCH_SIZE,
  CMDLINE_ADDR,
  CMDLINE_MAX_SIZE,
  KERNEL_LOAD_ADDR,
  PCI_HOLE_END,
  ZERO_PAGE_ADDR,
  layoutOfMemory,
} from './memory-layout';

/** boot_params offsets outside the setup header (Documentation/arch/x86/zero-page.rst). */
export const ZP = {
  acpiRsdpAddr: 0x070,
  extRamdiskImage: 0x0c0,
  extRamdiskSize: 0x0c4,
  extCmdLinePtr: 0x0c8,
  e820Entries: 0x1e8,
  e820Table: 0x2d0,
} as const;
export const ZERO_PAGE_SIZE = 0x1000;
/** type_of_loader: 0xff means "undefined / other loader". */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** vid_mode 0xffff: "normal" VGA text mode, i.e. do not ask the setup code for a mode. */
export const VID_MODE_NORMAL = 0xffff;
/** The real-mode heap end the setup code may use (offset from the setup segment), as other loaders set it. */
export const HEAP_END_PTR = 0xfe00 - 0x200;
export const PAGE_SIZE = 0x1000;

export interface LinuxBootOptions {
  /** Kernel command line (without NUL). */
  readonly cmdline: string;
  readonly initrd?: Uint8Array;
  /** The memory map to hand over; by default buildE820 for the memory's regions. */
  readonly e820?: readonly E820Entry[];
  /** Physical address of the ACPI RSDP (passed in boot_params when the protocol is 2.14+). */
  readonly acpiRsdpAddr?: number;
}

export interface PlacedBlob {
  readonly address: number;
  readonly size: number;
}

export interface LinuxBootResult {
  readonly entry: EntryState;
  readonly header: SetupHeader;
  /** The protected-mode image as copied into RAM. */
  readonly kernel: PlacedBlob;
  /** Where the kernel decompresses and runs: [start, start + init_size). */
  readonly kernelFootprint: PlacedBlob;
  readonly initrd?: PlacedBlob;
  readonly zeroPage: number;
  readonly cmdline: PlacedBlob;
  readonly e820: readonly E820Entry[];
}

function alignUp(n: number, a: number): number {
  return a > 1 ? Math.ceil(n / a) * a : n;
}

function alignDown(n: number, a: number): number {
  return Math.floor(n / a) * a;
}

/**
 * Where the decompressor puts the running kernel: a relocatable kernel runs at
 * its load address rounded up to kernel_alignment but never below pref_address
 * (LOAD_PHYSICAL_ADDR); a fixed one runs at pref_address.
 */
export function kernelRunAddress(header: SetupHeader, loadAddress: number): number {
  if (!header.relocatable) return header.prefAddress;
  return Math.max(alignUp(loadAddress, header.kernelAlignment), header.prefAddress);
}

/** The usable E820 RAM range holding 1 MiB: kernel and initrd must fit in it. */
function lowUsableEnd(e820: readonly E820Entry[]): number {
  const r = e820.find((e) => e.type === E820_RAM && e.addr <= KERNEL_LOAD_ADDR && e.addr + e.size > KERNEL_LOAD_ADDR);
  if (!r) throw new BootError('too little memory: no usable RAM at 1 MiB for the kernel');
  return r.addr + r.size;
}

/** Highest page-aligned address for the initrd: below both limits, above the kernel's footprint. */
export function placeInitrd(size: number, floor: number, ceiling: number): number {
  const available = Math.max(0, alignDown(ceiling, PAGE_SIZE) - alignUp(floor, PAGE_SIZE));
  const address = alignDown(ceiling - size, PAGE_SIZE);
  if (size > available || address < floor) {
    throw new BootError(`initrd does not fit: ${size} bytes, ${available} available`);
  }
  return address;
}

function defaultE820(memory: GuestMemory): E820Entry[] {
  return buildE820(layoutOfMemory(memory));
}

export function loadBzImage(memory: GuestMemory, image: Uint8Array, options: LinuxBootOptions): LinuxBootResult {
  const header = parseSetupHeader(image);
  const e820 = options.e820 ?? defaultE820(memory);
  if (e820.length > E820_MAX_ENTRIES_ZEROPAGE) throw new BootError(`too many e820 entries: ${e820.length}`);
  const usableEnd = lowUsableEnd(e820);

  const runAt = kernelRunAddress(header, KERNEL_LOAD_ADDR);
  const footprintEnd = Math.max(KERNEL_LOAD_ADDR + header.kernelBytes, runAt + header.initSize);
  if (footprintEnd > usableEnd) {
    throw new BootError(
      `kernel too big for RAM: it needs memory up to ${hex(footprintEnd)} (init_size ${header.initSize} at ${hex(runAt)}), RAM usable up to ${hex(usableEnd)}`,
    );
  }
  memory.write(KERNEL_LOAD_ADDR, image.subarray(header.setupBytes, header.setupBytes + header.kernelBytes));

  const cmdlineBytes = new TextEncoder().encode(options.cmdline);
  const cmdlineLimit = Math.min(header.cmdlineSize, CMDLINE_MAX_SIZE - 1);
  if (cmdlineBytes.length > cmdlineLimit) {
    throw new BootError(`kernel command line too long: ${cmdlineBytes.length} bytes, the kernel takes at most ${cmdlineLimit}`);
  }
  memory.mustView(CMDLINE_ADDR, cmdlineBytes.length + 1).set([...cmdlineBytes, 0]);

  let initrd: PlacedBlob | undefined;
  if (options.initrd) {
    // initrd_addr_max is the highest byte the initrd may occupy. (QEMU ignores it when the kernel sets
    // XLF_CAN_BE_LOADED_ABOVE_4G; we keep to it, which costs nothing: 2 GiB is plenty of room.)
    const ceiling = Math.min(usableEnd, header.initrdAddrMax + 1);
    const address = placeInitrd(options.initrd.length, footprintEnd, ceiling);
    memory.write(address, options.initrd);
    initrd = { address, size: options.initrd.length };
  }

  writeZeroPage(memory, image, header, {
    e820,
    initrd,
    cmdlinePtr: CMDLINE_ADDR,
    acpiRsdpAddr: options.acpiRsdpAddr,
  });

  const entry: EntryState = {
    protocol: 'linux-bzimage',
    mode: 64,
    rip: BigInt(KERNEL_LOAD_ADDR + 0x200),
    registers: { rsi: BigInt(ZERO_PAGE_ADDR), rflags: ENTRY_RFLAGS },
    scratchBase: BOOT_SCRATCH_ADDR,
    scratchSize: BOOT_SCRATCH_SIZE,
    gdtBase: BOOT_GDT_ADDR,
    pageTablesBase: BOOT_PAGE_TABLES_ADDR,
    identityMapBytes: PCI_HOLE_END,
  };
  return {
    entry,
    header,
    kernel: { address: KERNEL_LOAD_ADDR, size: header.kernelBytes },
    kernelFootprint: { address: runAt, size: footprintEnd - runAt },
    initrd,
    zeroPage: ZERO_PAGE_ADDR,
    cmdline: { address: CMDLINE_ADDR, size: cmdlineBytes.length + 1 },
    e820,
  };
}

interface ZeroPageContents {
  readonly e820: readonly E820Entry[];
  readonly initrd?: PlacedBlob;
  readonly cmdlinePtr: number;
  readonly acpiRsdpAddr?: number;
}

function writeZeroPage(memory: GuestMemory, image: Uint8Array, header: SetupHeader, c: ZeroPageContents): void {
  const zp = memory.mustView(ZERO_PAGE_ADDR, ZERO_PAGE_SIZE);
  zp.fill(0);
  // The loader hands the kernel its own setup header back, then fills in the loader-written fields.
  zp.set(image.subarray(HDR.setupSects, header.headerEnd), HDR.setupSects);
  const v = new DataView(zp.buffer, zp.byteOffset, zp.byteLength);
  v.setUint16(HDR.vidMode, VID_MODE_NORMAL, true);
  v.setUint8(HDR.typeOfLoader, LOADER_TYPE_UNDEFINED);
  v.setUint8(HDR.loadflags, header.loadflags | LOADFLAG_CAN_USE_HEAP);
  v.setUint16(HDR.heapEndPtr, HEAP_END_PTR, true);
  v.setUint32(HDR.cmdLinePtr, c.cmdlinePtr >>> 0, true);
  v.setUint32(ZP.extCmdLinePtr, Math.floor(c.cmdlinePtr / 2 ** 32), true);
  if (c.initrd) {
    v.setUint32(HDR.ramdiskImage, c.initrd.address >>> 0, true);
    v.setUint32(HDR.ramdiskSize, c.initrd.size >>> 0, true);
    v.setUint32(ZP.extRamdiskImage, Math.floor(c.initrd.address / 2 ** 32), true);
    v.setUint32(ZP.extRamdiskSize, Math.floor(c.initrd.size / 2 ** 32), true);
  }
  if (c.acpiRsdpAddr !== undefined && header.version >= PROTOCOL_ACPI_RSDP) {
    v.setBigUint64(ZP.acpiRsdpAddr, BigInt(c.acpiRsdpAddr), true);
  }
  v.setUint8(ZP.e820Entries, c.e820.length);
  writeE820Entries(v, ZP.e820Table, c.e820);
}

/**
 * The Linux/x86 bzImage setup header (Documentation/arch/x86/boot.rst):
 * parsing and the checks that decide whether we can boot the image through
 * the 64-bit entry point.
 */
import { BootError, hex } from './boot-error';

/** Offsets in the image file; the same offsets hold in boot_params (the zero page). */
export const HDR = {
  setupSects: 0x1f1,
  syssize: 0x1f4,
  vidMode: 0x1fa,
  bootFlag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  heapEndPtr: 0x224,
  extLoaderVer: 0x226,
  extLoaderType: 0x227,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  xloadflags: 0x236,
  cmdlineSize: 0x238,
  payloadOffset: 0x248,
  payloadLength: 0x24c,
  prefAddress: 0x258,
  initSize: 0x260,
} as const;

export const HDRS_MAGIC = 0x53726448; // "HdrS" little-endian
export const BOOT_FLAG = 0xaa55;
export const LOADFLAG_LOADED_HIGH = 0x01;
export const LOADFLAG_KEEP_SEGMENTS = 0x40;
export const LOADFLAG_CAN_USE_HEAP = 0x80;
export const XLF_KERNEL_64 = 0x01;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
/** 2.12 brings xloadflags, which is how a kernel says it has the 64-bit entry. */
export const MIN_PROTOCOL = 0x020c;
/** acpi_rsdp_addr in boot_params is honoured from 2.14 on. */
export const PROTOCOL_ACPI_RSDP = 0x020e;

export interface SetupHeader {
  /** Sectors of real-mode setup code after the boot sector (0 in the file means 4). */
  readonly setupSects: number;
  /** Bytes before the protected-mode kernel in the file: (setupSects + 1) * 512. */
  readonly setupBytes: number;
  /** Protected-mode kernel size in bytes (syssize * 16). */
  readonly kernelBytes: number;
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  readonly version: number;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly initrdAddrMax: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  /** Longest command line the kernel takes, without the NUL. */
  readonly cmdlineSize: number;
  readonly prefAddress: number;
  /** Memory the kernel needs, from its load address, to decompress and start. */
  readonly initSize: number;
  /** The compressed kernel: offset from the start of the protected-mode code, and length (protocol 2.08+). */
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** End of the header in the file: 0x202 + the jump's displacement byte. */
  readonly headerEnd: number;
}

export function protocolString(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
}

/** True when the bytes carry the "HdrS" signature of a Linux boot image. */
export function looksLikeBzImage(image: Uint8Array): boolean {
  if (image.length < HDR.header + 4) return false;
  return new DataView(image.buffer, image.byteOffset, image.byteLength).getUint32(HDR.header, true) === HDRS_MAGIC;
}

/** Parses and validates the setup header; throws BootError with one line naming what is wrong. */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (!looksLikeBzImage(image)) {
    throw new BootError(`not a bzImage: no "HdrS" signature at offset 0x202 (${image.length} bytes)`);
  }
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const bootFlag = v.getUint16(HDR.bootFlag, true);
  if (bootFlag !== BOOT_FLAG) {
    throw new BootError(`not a bzImage: boot flag at 0x1fe is ${hex(bootFlag)}, expected 0xaa55`);
  }
  const version = v.getUint16(HDR.version, true);
  if (version < MIN_PROTOCOL) {
    throw new BootError(
      `bzImage boot protocol ${protocolString(version)} is too old: 64-bit boot needs ${protocolString(MIN_PROTOCOL)} or newer`,
    );
  }
  const headerEnd = HDR.jump + 2 + image[HDR.jump + 1];
  if (image.length < Math.max(headerEnd, HDR.initSize + 4)) {
    throw new BootError(`truncated bzImage: ${image.length} bytes, the setup header alone needs ${headerEnd}`);
  }
  const rawSects = image[HDR.setupSects];
  const setupSects = rawSects === 0 ? 4 : rawSects;
  const setupBytes = (setupSects + 1) * 512;
  const kernelBytes = v.getUint32(HDR.syssize, true) * 16;
  if (image.length < setupBytes + kernelBytes) {
    throw new BootError(
      `truncated bzImage: ${image.length} bytes, but setup (${setupBytes}) + kernel (${kernelBytes}) need ${setupBytes + kernelBytes}`,
    );
  }
  const loadflags = image[HDR.loadflags];
  if ((loadflags & LOADFLAG_LOADED_HIGH) === 0) {
    throw new BootError('bzImage is a zImage (loadflags LOADED_HIGH clear): only kernels loaded at 1 MiB are supported');
  }
  const xloadflags = v.getUint16(HDR.xloadflags, true);
  if ((xloadflags & XLF_KERNEL_64) === 0) {
    throw new BootError('bzImage has no 64-bit entry point (xloadflags XLF_KERNEL_64 clear): a 64-bit kernel is required');
  }
  return {
    setupSects,
    setupBytes,
    kernelBytes,
    version,
    loadflags,
    xloadflags,
    initrdAddrMax: v.getUint32(HDR.initrdAddrMax, true),
    kernelAlignment: v.getUint32(HDR.kernelAlignment, true),
    relocatable: image[HDR.relocatableKernel] !== 0,
    cmdlineSize: v.getUint32(HDR.cmdlineSize, true),
    prefAddress: Number(v.getBigUint64(HDR.prefAddress, true)),
    initSize: v.getUint32(HDR.initSize, true),
    payloadOffset: v.getUint32(HDR.payloadOffset, true),
    payloadLength: v.getUint32(HDR.payloadLength, true),
    headerEnd,
  };
}

/**
 * The compressed kernel inside a bzImage (Documentation/arch/x86/boot.rst,
 * payload_offset/payload_length, protocol 2.08+): which compressor made it,
 * and, for LZ4, the decompressed vmlinux ELF. The build appends the
 * decompressed size as a 32-bit little-endian word to every payload
 * (scripts/Makefile.lib, size_append), which is how the kernel's own
 * decompressor (lib/decompress_unlz4.c) knows the output length.
 */
import { BootError } from './boot-error';
import { SetupHeader } from './bzimage';
import { Lz4Error } from './lz4-block';
import { decodeLz4Legacy, isLz4Legacy } from './lz4-legacy';

export type PayloadCompression = 'gzip' | 'bzip2' | 'lzma' | 'xz' | 'lzo' | 'lz4' | 'zstd' | 'unknown';

/** Leading bytes of each CONFIG_KERNEL_* compressor's stream. */
const MAGICS: readonly (readonly [PayloadCompression, readonly number[]])[] = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lzma', [0x5d, 0x00, 0x00]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/**
 * The payload bytes, including the trailing size word; undefined when the
 * header's payload fields do not describe a range inside the protected-mode
 * kernel (the kernel's own decompressor finds its payload by symbol, not by
 * these fields, so such an image may still boot the in-guest way).
 */
export function bzImagePayload(image: Uint8Array, header: SetupHeader): Uint8Array | undefined {
  const start = header.setupBytes + header.payloadOffset;
  const end = start + header.payloadLength;
  if (header.payloadLength < 8 || end > header.setupBytes + header.kernelBytes || end > image.length) return undefined;
  return image.subarray(start, end);
}

export function payloadCompression(payload: Uint8Array): PayloadCompression {
  const hit = MAGICS.find(([, magic]) => magic.every((b, i) => payload[i] === b));
  return hit ? hit[0] : 'unknown';
}

/** The decompressed size the build appended to the payload. */
export function payloadOutputSize(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(payload.length - 4, true);
}

/**
 * Decompresses an LZ4 (legacy frame) payload on the host. The output must be
 * exactly the size the trailer states, and that must fit in init_size, the
 * room the kernel asks for: anything else is a corrupt image, refused with
 * one line rather than booted.
 */
export function decompressLz4Payload(payload: Uint8Array, header: SetupHeader): Uint8Array {
  const fail = (why: string): never => {
    throw new BootError(`bzImage LZ4 payload is corrupt: ${why} (--kernel-format bzimage leaves it to the kernel's own decompressor)`);
  };
  if (!isLz4Legacy(payload)) fail('no LZ4 legacy magic 0x184C2102');
  const size = payloadOutputSize(payload);
  if (size > header.initSize) fail(`decompressed size ${size} exceeds init_size ${header.initSize}`);
  let out: Uint8Array;
  try {
    out = decodeLz4Legacy(payload.subarray(0, payload.length - 4), size);
  } catch (e) {
    if (e instanceof Lz4Error) return fail(e.message);
    throw e;
  }
  if (out.length !== size) fail(`decompressed to ${out.length} bytes, the trailer says ${size}`);
  return out;
}

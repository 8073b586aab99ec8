/**
 * LZ4's "legacy" frame (lz4/lz4 doc/lz4_Frame_format.md, "Legacy frame"):
 * the magic 0x184C2102, then independent blocks that each decode to at most
 * 8 MiB, each preceded by its compressed size (32-bit little-endian). It is
 * what `lz4 -l` writes and what Linux's CONFIG_KERNEL_LZ4 bzImage payload is
 * (lib/decompress_unlz4.c reads it in the in-guest decompressor). The frame
 * ends with the input; a magic where a block size is expected starts another
 * legacy frame, as `lz4 -l` output concatenated with `cat` would have.
 */
import { Lz4Error, decodeLz4Block } from './lz4-block';

export const LZ4_LEGACY_MAGIC = 0x184c2102;
/** Every block but the last decodes to exactly this; none may decode to more. */
export const LZ4_LEGACY_BLOCK_SIZE = 8 << 20;
/** LZ4_compressBound(8 MiB): the largest compressed block a compliant encoder writes. */
export const LZ4_LEGACY_MAX_BLOCK = LZ4_LEGACY_BLOCK_SIZE + Math.floor(LZ4_LEGACY_BLOCK_SIZE / 255) + 16;

function u32(data: Uint8Array, at: number): number {
  return (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;
}

export function isLz4Legacy(data: Uint8Array): boolean {
  return data.length >= 4 && u32(data, 0) === LZ4_LEGACY_MAGIC;
}

interface Block {
  readonly start: number;
  readonly end: number;
}

/** Walks the block sizes first, so a truncated or oversized block is reported before any decoding. */
function blocksOf(input: Uint8Array): Block[] {
  if (!isLz4Legacy(input)) throw new Lz4Error('not an LZ4 legacy frame: no 0x184C2102 magic at the start');
  const blocks: Block[] = [];
  let at = 4;
  while (at < input.length) {
    if (input.length - at < 4) throw new Lz4Error(`truncated input: ${input.length - at} bytes at offset ${at} where a 4-byte block size was expected`);
    const size = u32(input, at);
    at += 4;
    if (size === LZ4_LEGACY_MAGIC) continue;
    if (size === 0 || size > LZ4_LEGACY_MAX_BLOCK) {
      throw new Lz4Error(`block ${blocks.length} at offset ${at - 4}: compressed size ${size} is outside 1-${LZ4_LEGACY_MAX_BLOCK}`);
    }
    if (size > input.length - at) {
      throw new Lz4Error(`truncated input: block ${blocks.length} at offset ${at - 4} needs ${size} bytes, ${input.length - at} left`);
    }
    blocks.push({ start: at, end: at + size });
    at += size;
  }
  return blocks;
}

/**
 * Decodes a whole legacy stream. `maxOutput` caps the result (a caller that
 * knows the size, like the bzImage loader, passes it); past it is an error.
 */
export function decodeLz4Legacy(input: Uint8Array, maxOutput = Number.MAX_SAFE_INTEGER): Uint8Array {
  const blocks = blocksOf(input);
  const out = new Uint8Array(Math.min(blocks.length * LZ4_LEGACY_BLOCK_SIZE, maxOutput));
  let op = 0;
  blocks.forEach((b, i) => {
    try {
      op = decodeLz4Block(input, b.start, b.end, out, op, Math.min(op + LZ4_LEGACY_BLOCK_SIZE, out.length));
    } catch (e) {
      if (e instanceof Lz4Error) throw new Lz4Error(`block ${i} at offset ${b.start - 4}: ${e.message}`);
      throw e;
    }
  });
  return op === out.length ? out : out.subarray(0, op);
}

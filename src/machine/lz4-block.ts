/**
 * The LZ4 block decoder (lz4/lz4 doc/lz4_Block_format.md): sequences of a
 * token, literals, a 2-byte match offset and a match length. Every read and
 * write is checked against its buffer, so a corrupt or hostile block ends in
 * an Lz4Error, never in a write outside `out` or a read past the block. Each
 * sequence consumes at least its token byte, so decoding always terminates.
 */

export class Lz4Error extends Error {
  override name = 'Lz4Error';
}

/** A match is at least 4 bytes: a token's low nibble 0 means 4. */
const MIN_MATCH = 4;
/** A nibble of 15 means "more length bytes follow". */
const RUN_MASK = 15;
/** Below this many bytes a plain loop copies faster than set/copyWithin, whose calls cost more than the bytes. */
const SHORT_COPY = 32;

/**
 * Decodes the block `input[start, end)` into `out[outStart, outLimit)` and
 * returns the end of the decoded data in `out`. Matches may only reach back
 * to `outStart`: the block is independent of anything decoded before it.
 */
export function decodeLz4Block(input: Uint8Array, start: number, end: number, out: Uint8Array, outStart: number, outLimit: number): number {
  if (start < 0 || end > input.length || start > end) throw new Lz4Error(`block ${start}-${end} is outside the ${input.length}-byte input`);
  if (outStart < 0 || outLimit > out.length || outStart > outLimit) throw new Lz4Error(`output window ${outStart}-${outLimit} is outside the ${out.length}-byte buffer`);
  let ip = start;
  let op = outStart;

  // Reads the extra bytes of a length whose nibble was 15: each byte adds 0-255, 255 means another follows.
  const extendLength = (base: number, what: string): number => {
    let length = base;
    for (;;) {
      if (ip >= end) throw new Lz4Error(`truncated block: ${what} length runs past the end of the input at byte ${ip - start}`);
      const b = input[ip++];
      length += b;
      if (b !== 255) return length;
    }
  };

  for (;;) {
    if (ip >= end) throw new Lz4Error(`truncated block: input ends at byte ${ip - start} where a sequence token was expected`);
    const token = input[ip++];

    let literals = token >>> 4;
    if (literals === RUN_MASK) literals = extendLength(literals, 'literal');
    if (literals > end - ip) {
      throw new Lz4Error(`literal length ${literals} at byte ${ip - start} runs past the end of the input (${end - ip} bytes left)`);
    }
    if (literals > outLimit - op) {
      throw new Lz4Error(`literal length ${literals} overflows the output: ${outLimit - op} bytes of room left`);
    }
    if (literals < SHORT_COPY) {
      for (let i = 0; i < literals; i++) out[op + i] = input[ip + i];
    } else {
      out.set(input.subarray(ip, ip + literals), op);
    }
    ip += literals;
    op += literals;

    // The last sequence is literals only: the block ends right after them.
    if (ip === end) return op;

    if (end - ip < 2) throw new Lz4Error(`truncated block: match offset at byte ${ip - start} runs past the end of the input`);
    const offset = input[ip] | (input[ip + 1] << 8);
    ip += 2;
    if (offset === 0) throw new Lz4Error(`match offset 0 at byte ${ip - 2 - start} (the block is corrupt)`);
    if (offset > op - outStart) {
      throw new Lz4Error(`match offset ${offset} at byte ${ip - 2 - start} reaches before the start of the output (${op - outStart} bytes decoded)`);
    }

    let length = token & RUN_MASK;
    if (length === RUN_MASK) length = extendLength(length, 'match');
    length += MIN_MATCH;
    if (length > outLimit - op) {
      throw new Lz4Error(`match length ${length} overflows the output: ${outLimit - op} bytes of room left`);
    }
    copyMatch(out, op, offset, length);
    op += length;
  }
}

/**
 * out[op + i] = out[op + i - offset] for i < length. When the match overlaps
 * what it writes (offset < length) the bytes from `src` on repeat with period
 * `offset`, so copying from `src` in chunks of the distance already written
 * (offset, 2·offset, 4·offset…) keeps that period and needs few copies.
 */
function copyMatch(out: Uint8Array, op: number, offset: number, length: number): void {
  const src = op - offset;
  if (length < SHORT_COPY) {
    // Byte by byte, in order: an overlapping match reads the bytes it has just written, as the format means.
    for (let i = 0; i < length; i++) out[op + i] = out[src + i];
    return;
  }
  let at = op;
  let left = length;
  while (left > 0) {
    const n = Math.min(left, at - src);
    out.copyWithin(at, src, src + n);
    at += n;
    left -= n;
  }
}

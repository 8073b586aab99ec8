/**
 * The LZ4 legacy-frame decoder against the reference encoder (`lz4 -l`), and
 * against hostile inputs, each of which must end in an Lz4Error naming what
 * is wrong: never an exception of another kind, a short read or a hang.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Lz4Error, decodeLz4Block } from '../src/machine/lz4-block';
import { LZ4_LEGACY_MAX_BLOCK, decodeLz4Legacy } from '../src/machine/lz4-legacy';

const haveLz4 = spawnSync('lz4', ['--version']).status === 0;
const skip = haveLz4 ? false : 'lz4 CLI not installed (apt-get install lz4): skipping the round trips against the reference encoder';

/** `lz4 -l` (legacy frame) at the given level, fed on stdin. */
function lz4Legacy(data: Uint8Array, level = 1): Uint8Array {
  const r = spawnSync('lz4', ['-l', `-${level}`, '-c'], { input: data, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`lz4 failed: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout);
}

/** A little-endian 32-bit word. */
function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** A legacy frame holding the given raw blocks. */
function frame(...blocks: number[][]): Uint8Array {
  return Uint8Array.from([...le32(0x184c2102), ...blocks.flatMap((b) => [...le32(b.length), ...b])]);
}

/** Text-like data: words from a small vocabulary, so matches at many offsets and lengths. */
function wordy(bytes: number, seed: number): Uint8Array {
  const words = ['linux', 'kernel', ' ', 'boot', 'tsvisor', '\n', 'pvh', 'zero page', 'e820', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'];
  const out = new Uint8Array(bytes);
  let s = seed;
  for (let i = 0; i < bytes; ) {
    s = (s * 1103515245 + 12345) >>> 0;
    const w = words[s % words.length];
    for (let j = 0; j < w.length && i < bytes; j++) out[i++] = w.charCodeAt(j);
  }
  return out;
}

t.test('round trips through lz4 -l: random, repetitive, overlapping runs, several 8 MiB blocks, HC levels', { skip }, async (t) => {
  const cases: [string, Uint8Array, number][] = [
    ['empty', new Uint8Array(0), 1],
    ['one byte', Uint8Array.of(42), 1],
    ['random 100 KiB (literal runs, no matches)', randomBytes(100 << 10), 1],
    ['zeros 1 MiB (offset-1 overlap matches)', new Uint8Array(1 << 20), 1],
    ['a 3-byte period (offset-3 overlap)', new Uint8Array(200000).map((_, i) => i % 3), 1],
    ['text-like 1 MiB', wordy(1 << 20, 1), 1],
    ['text-like 1 MiB, -9 (HC)', wordy(1 << 20, 2), 9],
    ['random and repeated halves', (() => { const r = randomBytes(40000); const b = new Uint8Array(80000); b.set(r); b.set(r, 40000); return b; })(), 1],
    ['17 MiB: three blocks, the last one short', wordy(17 << 20, 3), 1],
  ];
  for (const [name, data, level] of cases) {
    const packed = lz4Legacy(data, level);
    const out = decodeLz4Legacy(packed);
    t.equal(out.length, data.length, `${name}: length`);
    t.ok(Buffer.from(out).equals(Buffer.from(data)), `${name}: bytes`);
  }
  // `cat a.lz4 b.lz4`: a second legacy magic where a block size is due starts another frame.
  const a = wordy(5000, 4);
  const b = randomBytes(3000);
  const both = Buffer.concat([lz4Legacy(a), lz4Legacy(b)]);
  t.ok(Buffer.from(decodeLz4Legacy(both)).equals(Buffer.concat([a, b])), 'concatenated frames');
  t.equal(decodeLz4Legacy(lz4Legacy(wordy(1 << 20, 5)), 1 << 20).length, 1 << 20, 'an exact maxOutput is enough');
  t.throws(() => decodeLz4Legacy(lz4Legacy(wordy(1 << 20, 5)), (1 << 20) - 1), { name: 'Lz4Error', message: /overflows the output: \d+ bytes of room left$/ });
});

t.test('hostile frames and blocks each give one clear Lz4Error', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['no magic', Uint8Array.of(1, 2, 3, 4, 5), /^not an LZ4 legacy frame: no 0x184C2102 magic/],
    ['block size cut short', Uint8Array.from([...le32(0x184c2102), 5, 0]), /^truncated input: 2 bytes at offset 4 where a 4-byte block size was expected$/],
    ['block shorter than its size', Uint8Array.from([...le32(0x184c2102), ...le32(10), 0x50, 1, 2]), /^truncated input: block 0 at offset 4 needs 10 bytes, 3 left$/],
    ['block size 0', frame([]), /^block 0 at offset 4: compressed size 0 is outside 1-8421520$/],
    ['block size larger than allowed', Uint8Array.from([...le32(0x184c2102), ...le32(LZ4_LEGACY_MAX_BLOCK + 1), 0]), /compressed size 8421521 is outside 1-8421520$/],
    ['literal length past the input', frame([0x50, 1, 2]), /^block 0 at offset 4: literal length 5 at byte 1 runs past the end of the input \(2 bytes left\)$/],
    ['literal length extension past the input', frame([0xf0, 255, 255]), /literal length runs past the end of the input at byte 3$/],
    ['match offset 0', frame([0x14, 0x61, 0, 0, 0x50, 1, 2, 3, 4, 5]), /match offset 0 at byte 2 \(the block is corrupt\)$/],
    ['match offset before the output start', frame([0x14, 0x61, 2, 0, 0x50, 1, 2, 3, 4, 5]), /match offset 2 at byte 2 reaches before the start of the output \(1 bytes decoded\)$/],
    ['match offset cut short', frame([0x10, 0x61, 1]), /truncated block: match offset at byte 2 runs past the end of the input$/],
    ['match length extension past the input', frame([0x1f, 0x61, 1, 0, 255]), /match length runs past the end of the input at byte 5$/],
    ['match longer than a block decodes to', frame([0x1f, 0x61, 1, 0, 255, 255, ...new Array<number>(33000).fill(255), 0]), /^block 0 at offset 4: match length \d+ overflows the output: 8388607 bytes of room left$/],
  ];
  for (const [name, input, message] of cases) {
    t.throws(() => decodeLz4Legacy(input), { name: 'Lz4Error', message }, name);
  }
  // A match may reach back only within its own block: legacy blocks are independent.
  const second = frame([0x50, 1, 2, 3, 4, 5], [0x04, 1, 0, 0x50, 1, 2, 3, 4, 5]);
  t.throws(() => decodeLz4Legacy(second), { message: /^block 1 at offset 14: match offset 1 at byte 1 reaches before the start of the output \(0 bytes decoded\)$/ });
  t.throws(() => decodeLz4Block(Uint8Array.of(0), 0, 2, new Uint8Array(4), 0, 4), { name: 'Lz4Error', message: 'block 0-2 is outside the 1-byte input' });
  t.throws(() => decodeLz4Block(Uint8Array.of(0), 0, 1, new Uint8Array(4), 0, 5), { name: 'Lz4Error', message: 'output window 0-5 is outside the 4-byte buffer' });
});

t.test('corrupting a valid stream at random never escapes as anything but Lz4Error', { skip }, async (t) => {
  const packed = lz4Legacy(wordy(300000, 6));
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let errors = 0;
  for (let i = 0; i < 300; i++) {
    const bad = Uint8Array.from(packed);
    // Keep the magic and the block size so the decoder, not the framing check, meets the damage.
    for (let k = 0; k < 1 + next(8); k++) bad[8 + next(bad.length - 8)] = next(256);
    const cut = next(4) === 0 ? bad.subarray(0, 8 + next(bad.length - 8)) : bad;
    try {
      const out = decodeLz4Legacy(cut);
      if (out.length > 8 << 20) t.fail(`output of ${out.length} bytes from one block`);
    } catch (e) {
      if (!(e instanceof Lz4Error)) throw e;
      errors++;
    }
  }
  t.ok(errors > 0, `${errors} of 300 corrupted streams refused, none with another kind of error`);
});

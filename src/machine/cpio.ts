/**
 * A writer for the "newc" cpio format (magic 070701), the only archive
 * format the Linux initramfs unpacker reads. Small enough to keep in-tree, so
 * building an initramfs needs no external tool.
 */

export type CpioEntry =
  | { readonly type: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | { readonly type: 'chardev'; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

interface RawEntry {
  readonly name: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly nlink: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

function toRaw(e: CpioEntry): RawEntry {
  // Archive names are relative ("bin/sh"): that is what the kernel unpacker and cpio -i expect.
  const name = e.path.replace(/^\/+/, '');
  if (name === '' || name.split('/').includes('..')) throw new RangeError(`bad cpio path: ${JSON.stringify(e.path)}`);
  switch (e.type) {
    case 'file':
      return { name, mode: S_IFREG | (e.mode ?? 0o644), data: e.data, nlink: 1, rdevMajor: 0, rdevMinor: 0 };
    case 'dir':
      return { name, mode: S_IFDIR | (e.mode ?? 0o755), data: new Uint8Array(0), nlink: 2, rdevMajor: 0, rdevMinor: 0 };
    case 'symlink':
      return { name, mode: S_IFLNK | 0o777, data: new TextEncoder().encode(e.target), nlink: 1, rdevMajor: 0, rdevMinor: 0 };
    case 'chardev':
      return { name, mode: S_IFCHR | (e.mode ?? 0o600), data: new Uint8Array(0), nlink: 1, rdevMajor: e.major, rdevMinor: e.minor };
  }
}

function encodeEntry(e: RawEntry, ino: number): Uint8Array[] {
  const name = new TextEncoder().encode(e.name + '\0');
  const fields = [
    ino, e.mode, 0 /* uid */, 0 /* gid */, e.nlink, 0 /* mtime: fixed, so builds are reproducible */,
    e.data.length, 0, 0 /* dev major/minor */, e.rdevMajor, e.rdevMinor, name.length, 0 /* check */,
  ];
  const header = new TextEncoder().encode('070701' + fields.map(hex8).join(''));
  return [
    header,
    name,
    new Uint8Array(pad4(HEADER_SIZE + name.length)),
    e.data,
    new Uint8Array(pad4(e.data.length)),
  ];
}

/** The archive bytes for `entries`, in order, followed by the trailer. Parents must come before children. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  entries.forEach((e, i) => parts.push(...encodeEntry(toRaw(e), i + 1)));
  parts.push(...encodeEntry({ name: TRAILER, mode: 0, data: new Uint8Array(0), nlink: 1, rdevMajor: 0, rdevMinor: 0 }, 0));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface CpioMember {
  readonly name: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

/** Reads a newc archive back (tests, and checking a built initramfs). Stops at the trailer. */
export function readCpio(archive: Uint8Array): CpioMember[] {
  const out: CpioMember[] = [];
  const text = new TextDecoder();
  let at = 0;
  for (;;) {
    if (at + HEADER_SIZE > archive.length) throw new RangeError('cpio archive ends without a trailer');
    const header = text.decode(archive.subarray(at, at + HEADER_SIZE));
    if (!header.startsWith('070701')) throw new RangeError(`bad cpio magic at offset ${at}`);
    const field = (i: number): number => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
    const nameSize = field(11);
    const dataSize = field(6);
    const nameStart = at + HEADER_SIZE;
    const name = text.decode(archive.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = nameStart + nameSize + pad4(HEADER_SIZE + nameSize);
    if (name === TRAILER) return out;
    out.push({ name, mode: field(1), data: archive.subarray(dataStart, dataStart + dataSize), rdevMajor: field(9), rdevMinor: field(10) });
    at = dataStart + dataSize + pad4(dataSize);
  }
}

/**
 * Just enough ELF (32- and 64-bit, little-endian x86) to boot kernels:
 * program headers for loading, and notes (from PT_NOTE segments, or SHT_NOTE
 * sections when there are none) for the PVH entry point.
 */
import { BootError } from './boot-error';

export const PT_LOAD = 1;
export const PT_NOTE = 4;
const SHT_NOTE = 7;
const EM_386 = 3;
const EM_X86_64 = 62;

export interface ElfSegment {
  readonly type: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly paddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

export interface ElfImage {
  readonly class: 32 | 64;
  readonly machine: number;
  readonly entry: number;
  readonly segments: readonly ElfSegment[];
  readonly notes: readonly ElfNote[];
}

export function isElf(image: Uint8Array): boolean {
  return image.length >= 52 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
}

function checkRange(image: Uint8Array, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > image.length) {
    throw new BootError(`truncated ELF: ${what} at offset ${offset} (+${length}) is past the end of the ${image.length}-byte file`);
  }
}

function parseNotes(image: Uint8Array, offset: number, size: number): ElfNote[] {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const notes: ElfNote[] = [];
  const align4 = (n: number): number => (n + 3) & ~3;
  let at = offset;
  while (at + 12 <= offset + size) {
    const namesz = v.getUint32(at, true);
    const descsz = v.getUint32(at + 4, true);
    const type = v.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    if (descAt + descsz > offset + size) break;
    const name = String.fromCharCode(...image.subarray(nameAt, nameAt + namesz)).replace(/\0+$/, '');
    notes.push({ name, type, desc: image.subarray(descAt, descAt + descsz) });
    at = descAt + align4(descsz);
  }
  return notes;
}

export function parseElf(image: Uint8Array): ElfImage {
  if (!isElf(image)) throw new BootError('not an ELF file (no \\x7fELF magic)');
  const cls = image[4] === 2 ? 64 : image[4] === 1 ? 32 : 0;
  if (cls === 0) throw new BootError(`ELF class ${image[4]} is neither 32- nor 64-bit`);
  if (image[5] !== 1) throw new BootError('big-endian ELF files cannot be x86 kernels');
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const is64 = cls === 64;
  const machine = v.getUint16(18, true);
  if (machine !== EM_386 && machine !== EM_X86_64) throw new BootError(`ELF machine ${machine} is not x86 (3) or x86-64 (62)`);
  checkRange(image, 0, is64 ? 64 : 52, 'ELF header');
  const word = (at: number): number => (is64 ? Number(v.getBigUint64(at, true)) : v.getUint32(at, true));
  const entry = word(24);
  const phoff = word(is64 ? 32 : 28);
  const shoff = word(is64 ? 40 : 32);
  const phentsize = v.getUint16(is64 ? 54 : 42, true);
  const phnum = v.getUint16(is64 ? 56 : 44, true);
  const shentsize = v.getUint16(is64 ? 58 : 46, true);
  const shnum = v.getUint16(is64 ? 60 : 48, true);
  checkRange(image, phoff, phentsize * phnum, 'program headers');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const s: ElfSegment = is64
      ? { type: v.getUint32(at, true), offset: word(at + 8), vaddr: word(at + 16), paddr: word(at + 24), filesz: word(at + 32), memsz: word(at + 40) }
      : { type: v.getUint32(at, true), offset: word(at + 4), vaddr: word(at + 8), paddr: word(at + 12), filesz: word(at + 16), memsz: word(at + 20) };
    if (s.type === PT_LOAD || s.type === PT_NOTE) checkRange(image, s.offset, s.filesz, `segment ${i}`);
    if (s.type === PT_LOAD && s.memsz < s.filesz) throw new BootError(`ELF segment ${i}: memsz ${s.memsz} < filesz ${s.filesz}`);
    segments.push(s);
  }

  let notes = segments.filter((s) => s.type === PT_NOTE).flatMap((s) => parseNotes(image, s.offset, s.filesz));
  if (notes.length === 0 && shoff !== 0 && shnum > 0) {
    checkRange(image, shoff, shentsize * shnum, 'section headers');
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * shentsize;
      if (v.getUint32(at + 4, true) !== SHT_NOTE) continue;
      const offset = word(at + (is64 ? 24 : 16));
      const size = word(at + (is64 ? 32 : 20));
      checkRange(image, offset, size, `note section ${i}`);
      notes = notes.concat(parseNotes(image, offset, size));
    }
  }
  return { class: cls, machine, entry, segments, notes };
}

/** Copies PT_LOAD segments to their physical addresses (zeroing the BSS part); returns the highest end address. */
export function loadSegments(
  elf: ElfImage,
  image: Uint8Array,
  write: (address: number, data: Uint8Array, zeroTo: number) => void,
): { start: number; end: number } {
  const loads = elf.segments.filter((s) => s.type === PT_LOAD && s.memsz > 0);
  if (loads.length === 0) throw new BootError('ELF has no loadable segments');
  for (const s of loads) write(s.paddr, image.subarray(s.offset, s.offset + s.filesz), s.paddr + s.memsz);
  return { start: Math.min(...loads.map((s) => s.paddr)), end: Math.max(...loads.map((s) => s.paddr + s.memsz)) };
}

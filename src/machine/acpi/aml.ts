/**
 * A small encoder for ACPI Machine Language (ACPI spec, chapter 20): enough
 * to write a DSDT that describes devices — names, integers, strings, buffers,
 * packages, scopes, devices, methods returning a value, and the resource
 * descriptors (chapter 6.4) for I/O ports, IRQs, memory and bus ranges.
 *
 * Every builder returns the encoded bytes of one AML term, so terms compose
 * by nesting arrays; PkgLength is computed when the enclosing term is built.
 */

export type Aml = Uint8Array;

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const METHOD_OP = 0x14;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82; // after EXT_OP_PREFIX
const ROOT_CHAR = 0x5c; // '\'
const PARENT_PREFIX = 0x5e; // '^'
const RETURN_OP = 0xa4;
const ONES_OP = 0xff;

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function le(value: number | bigint, bytes: number): number[] {
  let v = BigInt.asUintN(bytes * 8, BigInt(value));
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

/**
 * PkgLength for a body of `bodyLength` bytes: the encoding counts its own
 * bytes, so pick the smallest of 1-4 bytes that can hold the total.
 */
export function pkgLength(bodyLength: number): Uint8Array {
  for (let n = 1; n <= 4; n++) {
    const total = bodyLength + n;
    if (n === 1 && total < 0x40) return Uint8Array.of(total);
    if (n > 1 && total < 2 ** (4 + 8 * (n - 1))) {
      const bytes = [((n - 1) << 6) | (total & 0x0f)];
      for (let i = 1; i < n; i++) bytes.push((total >> (4 + 8 * (i - 1))) & 0xff);
      return Uint8Array.from(bytes);
    }
  }
  throw new RangeError(`AML package too long: ${bodyLength} bytes`);
}

function withPkgLength(op: readonly number[], body: readonly Uint8Array[]): Uint8Array {
  const inner = concat(body);
  return concat([Uint8Array.from(op), pkgLength(inner.length), inner]);
}

function nameSeg(seg: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new RangeError(`bad AML name segment: ${JSON.stringify(seg)}`);
  return [...seg.padEnd(4, '_')].map((c) => c.charCodeAt(0));
}

/** A NameString: "\\_SB.PCI0", "^FOO", "_HID". Segments are padded to four characters with '_'. */
export function nameString(path: string): Uint8Array {
  const out: number[] = [];
  let rest = path;
  if (rest.startsWith('\\')) {
    out.push(ROOT_CHAR);
    rest = rest.slice(1);
  }
  while (rest.startsWith('^')) {
    out.push(PARENT_PREFIX);
    rest = rest.slice(1);
  }
  const segs = rest === '' ? [] : rest.split('.');
  if (segs.length === 0) out.push(0x00);
  else if (segs.length === 2) out.push(DUAL_NAME_PREFIX);
  else if (segs.length > 2) out.push(MULTI_NAME_PREFIX, segs.length);
  for (const s of segs) out.push(...nameSeg(s));
  return Uint8Array.from(out);
}

/** The shortest integer encoding: Zero, One, Ones (all bits), or a prefixed byte/word/dword/qword. */
export function integer(value: number | bigint): Uint8Array {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`AML integer out of range: ${value}`);
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  if (v === 0xffff_ffff_ffff_ffffn) return Uint8Array.of(ONES_OP);
  if (v <= 0xffn) return Uint8Array.of(BYTE_PREFIX, Number(v));
  if (v <= 0xffffn) return Uint8Array.from([WORD_PREFIX, ...le(v, 2)]);
  if (v <= 0xffff_ffffn) return Uint8Array.from([DWORD_PREFIX, ...le(v, 4)]);
  return Uint8Array.from([QWORD_PREFIX, ...le(v, 8)]);
}

export function string(s: string): Uint8Array {
  if (!/^[\x01-\x7f]*$/.test(s)) throw new RangeError('AML strings are ASCII without NUL');
  return Uint8Array.from([STRING_PREFIX, ...[...s].map((c) => c.charCodeAt(0)), 0]);
}

export function buffer(bytes: Uint8Array): Uint8Array {
  return withPkgLength([BUFFER_OP], [integer(bytes.length), bytes]);
}

export function pkg(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 255) throw new RangeError('AML Package has at most 255 elements');
  return withPkgLength([PACKAGE_OP], [Uint8Array.of(elements.length), ...elements]);
}

/** Name(NAME, value) */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(NAME_OP), nameString(path), value]);
}

/** Scope(PATH) { terms } */
export function scope(path: string, terms: readonly Uint8Array[]): Uint8Array {
  return withPkgLength([SCOPE_OP], [nameString(path), ...terms]);
}

/** Device(NAME) { terms } */
export function device(path: string, terms: readonly Uint8Array[]): Uint8Array {
  return withPkgLength([EXT_OP_PREFIX, DEVICE_OP], [nameString(path), ...terms]);
}

/** Method(NAME, argCount, NotSerialized) { terms } */
export function method(path: string, argCount: number, terms: readonly Uint8Array[], serialized = false): Uint8Array {
  if (argCount < 0 || argCount > 7) throw new RangeError('AML methods take 0-7 arguments');
  const flags = argCount | (serialized ? 0x08 : 0);
  return withPkgLength([METHOD_OP], [nameString(path), Uint8Array.of(flags), ...terms]);
}

/** Return(value) */
export function ret(value: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(RETURN_OP), value]);
}

/**
 * EISAID("PNP0A03"): three letters packed in 5 bits each plus four hex
 * digits, stored big-endian in a DWord (0x030AD041 for PNP0A03).
 */
export function eisaId(id: string): Uint8Array {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`bad EISA id: ${id}`);
  const c = (i: number): number => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  const bytes = [vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
  return integer(bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] * 0x1000000));
}

// --- Resource descriptors (ACPI 6.4 section 6.4) ------------------------------

const END_TAG = 0x79;

/** ResourceTemplate() { descriptors }: a Buffer ending in an End Tag (checksum 0 = "not checked"). */
export function resourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  return buffer(concat([...descriptors, Uint8Array.of(END_TAG, 0)]));
}

/** IO(Decode16, min, max, alignment, length) */
export function io(min: number, max: number, alignment: number, length: number): Uint8Array {
  return Uint8Array.from([0x47, 0x01, ...le(min, 2), ...le(max, 2), alignment, length]);
}

/** IRQNoFlags() { irqs }: ISA edge, active high. */
export function irqNoFlags(irqs: readonly number[]): Uint8Array {
  const mask = irqs.reduce((m, i) => m | (1 << i), 0);
  return Uint8Array.from([0x22, ...le(mask, 2)]);
}

export interface InterruptOptions {
  readonly edge: boolean;
  readonly activeLow: boolean;
  readonly shared: boolean;
}

/** Interrupt(ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) { gsis } */
export function extendedInterrupt(gsis: readonly number[], o: InterruptOptions): Uint8Array {
  const flags = 0x01 | (o.edge ? 0x02 : 0) | (o.activeLow ? 0x04 : 0) | (o.shared ? 0x08 : 0);
  const body = [flags, gsis.length, ...gsis.flatMap((g) => le(g, 4))];
  return Uint8Array.from([0x89, ...le(body.length, 2), ...body]);
}

/** Memory32Fixed(ReadWrite, base, length) */
export function memory32Fixed(base: number, length: number, writable = true): Uint8Array {
  return Uint8Array.from([0x86, ...le(9, 2), writable ? 1 : 0, ...le(base, 4), ...le(length, 4)]);
}

const SPACE_MEMORY = 0;
const SPACE_IO = 1;
const SPACE_BUS = 2;
/** ResourceProducer, PosDecode, MinFixed, MaxFixed: what a bridge hands to its children. */
const PRODUCER_FIXED = 0x0c;
/** Memory: Cacheable, ReadWrite. I/O: EntireRange. Bus: none. */
const MEM_CACHEABLE_RW = 0x03;
const IO_ENTIRE_RANGE = 0x03;

function addressSpace(tag: number, width: 2 | 4 | 8, space: number, typeFlags: number, min: number | bigint, max: number | bigint): Uint8Array {
  const length = BigInt(max) - BigInt(min) + 1n;
  const fields = [0, min, max, 0, length].flatMap((f) => le(f, width));
  const body = [space, PRODUCER_FIXED, typeFlags, ...fields];
  return Uint8Array.from([tag, ...le(body.length, 2), ...body]);
}

/** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, count) */
export function wordBusNumber(min: number, max: number): Uint8Array {
  return addressSpace(0x88, 2, SPACE_BUS, 0, min, max);
}

/** WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, length) */
export function wordIo(min: number, max: number): Uint8Array {
  return addressSpace(0x88, 2, SPACE_IO, IO_ENTIRE_RANGE, min, max);
}

/** DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0, min, max, 0, length) */
export function dwordMemory(min: number, max: number): Uint8Array {
  return addressSpace(0x87, 4, SPACE_MEMORY, MEM_CACHEABLE_RW, min, max);
}

/** QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0, min, max, 0, length) */
export function qwordMemory(min: number | bigint, max: number | bigint): Uint8Array {
  return addressSpace(0x8a, 8, SPACE_MEMORY, MEM_CACHEABLE_RW, min, max);
}

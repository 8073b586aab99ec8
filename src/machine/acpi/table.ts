/**
 * The System Description Table header every ACPI table except RSDP and FACS
 * starts with, and the byte checksum that makes a table sum to zero.
 */
import { concat } from './aml';

export const SDT_HEADER_SIZE = 36;
export const OEM_ID = 'TSVISR';
export const OEM_TABLE_ID = 'TSVISOR ';
export const OEM_REVISION = 1;
export const CREATOR_ID = 'TSVR';
export const CREATOR_REVISION = 1;

export function ascii(s: string, length: number): number[] {
  if (s.length !== length) throw new RangeError(`"${s}" must be ${length} characters`);
  return [...s].map((c) => c.charCodeAt(0));
}

/** The value that makes the bytes sum to zero mod 256. */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

export function sumBytes(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

/** A complete table: header + body, with Length and Checksum filled in. */
export function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const table = concat([new Uint8Array(SDT_HEADER_SIZE), body]);
  const v = new DataView(table.buffer);
  table.set(ascii(signature, 4), 0);
  v.setUint32(4, table.length, true);
  table[8] = revision;
  table.set(ascii(OEM_ID, 6), 10);
  table.set(ascii(OEM_TABLE_ID, 8), 16);
  v.setUint32(24, OEM_REVISION, true);
  table.set(ascii(CREATOR_ID, 4), 28);
  v.setUint32(32, CREATOR_REVISION, true);
  table[9] = checksum(table);
  return table;
}

/** A little-endian byte writer for fixed-layout table bodies. */
export class Bytes {
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(at: number, v: number): this { this.view.setUint8(at, v); return this; }
  u16(at: number, v: number): this { this.view.setUint16(at, v, true); return this; }
  u32(at: number, v: number): this { this.view.setUint32(at, v >>> 0, true); return this; }
  u64(at: number, v: number | bigint): this { this.view.setBigUint64(at, BigInt(v), true); return this; }
}

export const GAS_SIZE = 12;
export const ADDRESS_SPACE_MEMORY = 0;
export const ADDRESS_SPACE_IO = 1;
/** Access size field: 1 byte, 2 word, 3 dword. */
export type GasAccessSize = 0 | 1 | 2 | 3 | 4;

/** Generic Address Structure: where a register lives (I/O port or memory) and how wide it is. */
export function writeGas(b: Bytes, at: number, space: number, bitWidth: number, accessSize: GasAccessSize, address: number): void {
  b.u8(at, space).u8(at + 1, bitWidth).u8(at + 2, 0).u8(at + 3, accessSize).u64(at + 4, address);
}

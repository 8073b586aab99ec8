/**
 * ISA chips (8250, 8042, 8259, 8254, MC146818) sit on an 8-bit data bus: a
 * 16- or 32-bit access from the CPU is split by the bus into consecutive byte
 * accesses at consecutive ports. These helpers do that split so each device
 * only implements byte registers and a wide access can never confuse it.
 */
import { AccessSize } from '../bus';

export interface ByteRegisters {
  readByte(offset: number): number;
  writeByte(offset: number, value: number): void;
}

/** A read of `size` bytes starting at `offset`, bytes past `length` read as 0xff. */
export function readBytesSplit(dev: ByteRegisters, offset: number, size: AccessSize, length: number): number {
  let value = 0;
  for (let i = 0; i < size; i++) {
    const at = offset + i;
    const byte = at < length ? dev.readByte(at) & 0xff : 0xff;
    value += byte * 2 ** (8 * i);
  }
  return value;
}

/** A write of `size` bytes starting at `offset`; bytes past `length` are dropped. */
export function writeBytesSplit(dev: ByteRegisters, offset: number, size: AccessSize, value: number, length: number): void {
  const v = Number.isFinite(value) ? Math.trunc(value) : 0;
  for (let i = 0; i < size; i++) {
    const at = offset + i;
    if (at >= length) break;
    dev.writeByte(at, Math.floor(v / 2 ** (8 * i)) & 0xff);
  }
}

/** Little-endian bytes of an MMIO access as a number (accesses wider than 4 bytes keep the low 32 bits). */
export function mmioValue(data: Uint8Array): number {
  let v = 0;
  const n = Math.min(data.length, 4);
  for (let i = n - 1; i >= 0; i--) v = v * 256 + data[i];
  return v;
}

/** Fill an MMIO read with a 32-bit value (zero-extended for 8-byte reads). */
export function fillMmio(data: Uint8Array, value: number): void {
  for (let i = 0; i < data.length; i++) data[i] = i < 4 ? Math.floor(value / 2 ** (8 * i)) & 0xff : 0;
}

/** XSDT (64-bit pointers) and RSDT (32-bit, for ACPI 1.0 readers): the list of tables past the RSDP. */
import { sdt } from './table';

export function buildXsdt(tableAddrs: readonly number[]): Uint8Array {
  const body = new DataView(new ArrayBuffer(8 * tableAddrs.length));
  tableAddrs.forEach((a, i) => body.setBigUint64(8 * i, BigInt(a), true));
  return sdt('XSDT', 1, new Uint8Array(body.buffer));
}

export function buildRsdt(tableAddrs: readonly number[]): Uint8Array {
  const body = new DataView(new ArrayBuffer(4 * tableAddrs.length));
  tableAddrs.forEach((a, i) => body.setUint32(4 * i, a, true));
  return sdt('RSDT', 1, new Uint8Array(body.buffer));
}

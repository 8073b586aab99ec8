/** RSDP (ACPI 2.0+ form, 36 bytes): what Linux finds by scanning 0xE0000-0xFFFFF, pointing at the XSDT. */
import { OEM_ID, ascii, checksum } from './table';

export const RSDP_SIZE = 36;
export const RSDP_REVISION = 2;
/** The first 20 bytes (the ACPI 1.0 part) carry their own checksum. */
export const RSDP_V1_SIZE = 20;

export function buildRsdp(xsdtAddr: number, rsdtAddr: number): Uint8Array {
  const r = new Uint8Array(RSDP_SIZE);
  const v = new DataView(r.buffer);
  r.set(ascii('RSD PTR ', 8), 0);
  r.set(ascii(OEM_ID, 6), 9);
  r[15] = RSDP_REVISION;
  v.setUint32(16, rsdtAddr, true);
  v.setUint32(20, RSDP_SIZE, true);
  v.setBigUint64(24, BigInt(xsdtAddr), true);
  r[8] = checksum(r.subarray(0, RSDP_V1_SIZE));
  r[32] = checksum(r);
  return r;
}

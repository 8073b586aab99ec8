/** FACS: the firmware/OS shared block (waking vector, global lock). We never sleep, so it is all zero. */
import { Bytes, ascii } from './table';

export const FACS_SIZE = 64;
/** The FACS must be 64-byte aligned. */
export const FACS_ALIGN = 64;

export function buildFacs(): Uint8Array {
  const b = new Bytes(FACS_SIZE);
  b.bytes.set(ascii('FACS', 4), 0);
  b.u32(4, FACS_SIZE);
  b.u8(32, 2); // version
  return b.bytes;
}

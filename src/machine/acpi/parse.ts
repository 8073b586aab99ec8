/**
 * Reads ACPI tables back out of guest memory the way an OS does: scan the
 * BIOS area for the RSDP, follow the XSDT, check every checksum. Used by the
 * tests, and useful for checking what a guest will see.
 */
import { GuestMemory } from '../../memory/guest-memory';
import { BIOS_AREA_END, BIOS_AREA_START } from '../memory-layout';
import { RSDP_SIZE, RSDP_V1_SIZE } from './rsdp';
import { sumBytes } from './table';

export interface FoundTable {
  readonly signature: string;
  readonly address: number;
  readonly bytes: Uint8Array;
}

export interface MadtSummary {
  readonly localApicAddress: number;
  readonly localApics: { uid: number; apicId: number; enabled: boolean }[];
  readonly ioApics: { id: number; address: number; gsiBase: number }[];
  readonly overrides: { source: number; gsi: number; flags: number }[];
  readonly nmis: { uid: number; lint: number }[];
}

export class AcpiParseError extends Error {
  override name = 'AcpiParseError';
}

const text = (b: Uint8Array): string => String.fromCharCode(...b);

/** The RSDP as Linux finds it: 16-byte aligned in 0xE0000-0xFFFFF with a valid checksum. */
export function findRsdp(memory: GuestMemory): number {
  const area = memory.mustView(BIOS_AREA_START, BIOS_AREA_END - BIOS_AREA_START);
  for (let off = 0; off + RSDP_SIZE <= area.length; off += 16) {
    if (text(area.subarray(off, off + 8)) === 'RSD PTR ' && sumBytes(area.subarray(off, off + RSDP_V1_SIZE)) === 0) {
      return BIOS_AREA_START + off;
    }
  }
  throw new AcpiParseError('no RSDP in 0xE0000-0xFFFFF');
}

function readTable(memory: GuestMemory, address: number): FoundTable {
  const length = memory.readU32(address + 4);
  const bytes = memory.read(address, length);
  const signature = text(bytes.subarray(0, 4));
  if (sumBytes(bytes) !== 0) throw new AcpiParseError(`${signature} at 0x${address.toString(16)}: bad checksum`);
  return { signature, address, bytes };
}

/** Every table reachable from the RSDP (XSDT entries, plus DSDT and FACS through the FADT), checksums verified. */
export function readAcpiTables(memory: GuestMemory): FoundTable[] {
  const rsdpAddr = findRsdp(memory);
  const rsdp = memory.read(rsdpAddr, RSDP_SIZE);
  if (rsdp[15] < 2) throw new AcpiParseError('RSDP revision < 2: no XSDT');
  if (sumBytes(rsdp) !== 0) throw new AcpiParseError('RSDP extended checksum is bad');
  const rv = new DataView(rsdp.buffer);
  const xsdt = readTable(memory, Number(rv.getBigUint64(24, true)));
  const found: FoundTable[] = [{ signature: 'RSD PTR ', address: rsdpAddr, bytes: rsdp }, xsdt];
  const xv = new DataView(xsdt.bytes.buffer);
  for (let off = 36; off < xsdt.bytes.length; off += 8) {
    const t = readTable(memory, Number(xv.getBigUint64(off, true)));
    found.push(t);
    if (t.signature === 'FACP') {
      const fv = new DataView(t.bytes.buffer);
      found.push(readTable(memory, Number(fv.getBigUint64(140, true))));
      const facsAddr = Number(fv.getBigUint64(132, true)) || fv.getUint32(36, true);
      found.push({ signature: 'FACS', address: facsAddr, bytes: memory.read(facsAddr, memory.readU32(facsAddr + 4)) });
    }
  }
  return found;
}

export function parseMadt(madt: Uint8Array): MadtSummary {
  const v = new DataView(madt.buffer, madt.byteOffset, madt.byteLength);
  const summary: MadtSummary = { localApicAddress: v.getUint32(36, true), localApics: [], ioApics: [], overrides: [], nmis: [] };
  for (let off = 44; off < madt.length; ) {
    const type = madt[off];
    const len = madt[off + 1];
    if (len < 2 || off + len > madt.length) throw new AcpiParseError(`MADT entry at ${off} has bad length ${len}`);
    if (type === 0) summary.localApics.push({ uid: madt[off + 2], apicId: madt[off + 3], enabled: (v.getUint32(off + 4, true) & 1) === 1 });
    if (type === 9) summary.localApics.push({ uid: v.getUint32(off + 12, true), apicId: v.getUint32(off + 4, true), enabled: (v.getUint32(off + 8, true) & 1) === 1 });
    if (type === 1) summary.ioApics.push({ id: madt[off + 2], address: v.getUint32(off + 4, true), gsiBase: v.getUint32(off + 8, true) });
    if (type === 2) summary.overrides.push({ source: madt[off + 3], gsi: v.getUint32(off + 4, true), flags: v.getUint16(off + 8, true) });
    if (type === 4) summary.nmis.push({ uid: madt[off + 2], lint: madt[off + 5] });
    off += len;
  }
  return summary;
}

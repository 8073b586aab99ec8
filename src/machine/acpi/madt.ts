/**
 * MADT ("APIC"): the interrupt controllers. One Local APIC per vCPU (x2APIC
 * entries once IDs pass 254), the IOAPIC with GSI base 0, the ISA overrides
 * every PC has (timer IRQ0 on GSI2, the SCI level-triggered), and LINT1 as
 * NMI on every processor.
 */
import { IOAPIC_ADDR, LAPIC_ADDR } from '../memory-layout';
import { SCI_IRQ } from './pm';
import { concat } from './aml';
import { sdt } from './table';

export const MADT_REVISION = 5;
const PCAT_COMPAT = 1;
const MADT_LAPIC = 0;
const MADT_IOAPIC = 1;
const MADT_INT_SRC_OVERRIDE = 2;
const MADT_LAPIC_NMI = 4;
const MADT_X2APIC = 9;
const MADT_X2APIC_NMI = 0x0a;
const ENABLED = 1;
/** MPS INTI flags: polarity active high (01), trigger level (11 << 2). */
export const INTI_ACTIVE_HIGH_LEVEL = 0x0d;
export const INTI_CONFORMING = 0;
/** The IOAPIC's ID: after the processors' APIC IDs, so MP-spec uniqueness holds too. */
export function ioapicId(cpus: number): number {
  return Math.min(cpus, 0xfe);
}

function entry(type: number, body: readonly number[]): Uint8Array {
  return Uint8Array.from([type, body.length + 2, ...body]);
}

function u16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** xAPIC entries hold 8-bit IDs and 0xff means broadcast, so IDs from 255 need x2APIC entries. */
function processorEntry(index: number): Uint8Array {
  if (index < 0xff) return entry(MADT_LAPIC, [index, index, ...u32(ENABLED)]);
  return entry(MADT_X2APIC, [0, 0, ...u32(index), ...u32(ENABLED), ...u32(index)]);
}

export function buildMadt(cpus: number): Uint8Array {
  if (!Number.isInteger(cpus) || cpus < 1) throw new RangeError(`MADT: bad vCPU count ${cpus}`);
  const entries: Uint8Array[] = [];
  for (let i = 0; i < cpus; i++) entries.push(processorEntry(i));
  entries.push(entry(MADT_IOAPIC, [ioapicId(cpus), 0, ...u32(IOAPIC_ADDR), ...u32(0)]));
  entries.push(entry(MADT_INT_SRC_OVERRIDE, [0, 0, ...u32(2), ...u16(INTI_CONFORMING)]));
  entries.push(entry(MADT_INT_SRC_OVERRIDE, [0, SCI_IRQ, ...u32(SCI_IRQ), ...u16(INTI_ACTIVE_HIGH_LEVEL)]));
  entries.push(entry(MADT_LAPIC_NMI, [0xff, ...u16(INTI_CONFORMING), 1]));
  if (cpus > 0xff) entries.push(entry(MADT_X2APIC_NMI, [...u16(INTI_CONFORMING), ...u32(0xffffffff), 1, 0, 0, 0]));
  const header = Uint8Array.from([...u32(LAPIC_ADDR), ...u32(PCAT_COMPAT)]);
  return sdt('APIC', MADT_REVISION, concat([header, ...entries]));
}

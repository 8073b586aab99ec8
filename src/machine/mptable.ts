/**
 * Intel MultiProcessor Specification 1.4 tables: the floating pointer
 * (found by scanning 0xF0000-0xFFFFF) and the configuration table listing
 * processors, buses, the IOAPIC and how ISA (and PCI) interrupts reach it.
 * Kernels built with CONFIG_X86_MPPARSE (Debian's generic one) can use it
 * when ACPI is off; ACPI's MADT takes precedence otherwise.
 */
import { GuestMemory } from '../memory/guest-memory';
import { AcpiMachine } from './acpi/machine-description';
import { ioapicId, INTI_ACTIVE_HIGH_LEVEL, INTI_CONFORMING } from './acpi/madt';
import { pciInterruptGsi } from './acpi/dsdt';
import { SCI_IRQ } from './acpi/pm';
import { checksum } from './acpi/table';
import { IOAPIC_ADDR, LAPIC_ADDR, MPTABLE_ADDR, MPTABLE_MAX_SIZE } from './memory-layout';

export const MP_FLOATING_SIZE = 16;
export const MP_CONFIG_HEADER_SIZE = 44;
export const MP_SPEC_REV = 4;
const LAPIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
const CPU_ENABLED = 1;
const CPU_BOOTSTRAP = 2;
/** Family 6, and CPUID feature bits FPU | APIC, as real MP tables report. */
const CPU_SIGNATURE = 0x600;
const CPU_FEATURES = 0x201;
const BUS_ISA = 0;
const BUS_PCI = 1;
const INT_TYPE_INT = 0;
const INT_TYPE_NMI = 1;
const INT_TYPE_EXTINT = 3;
const ISA_IRQS = 16;
const PCI_SLOTS = 32;

function ascii(s: string, length: number): number[] {
  return [...s.padEnd(length, ' ')].slice(0, length).map((c) => c.charCodeAt(0));
}

function u16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function ioInterrupt(type: number, flags: number, bus: number, busIrq: number, apicId: number, pin: number): number[] {
  return [3, type, ...u16(flags), bus, busIrq, apicId, pin];
}

function localInterrupt(type: number, lint: number): number[] {
  return [4, type, ...u16(INTI_CONFORMING), BUS_ISA, 0, 0xff, lint];
}

/** The configuration table's entries, in the order the spec requires (processors, buses, IOAPICs, interrupts). */
function entries(m: AcpiMachine): { bytes: number[]; count: number } {
  const out: number[][] = [];
  if (m.cpus > 254) throw new RangeError('the MP table holds 8-bit APIC IDs: at most 254 vCPUs');
  for (let i = 0; i < m.cpus; i++) {
    out.push([0, i, LAPIC_VERSION, CPU_ENABLED | (i === 0 ? CPU_BOOTSTRAP : 0), ...u32(CPU_SIGNATURE), ...u32(CPU_FEATURES), ...new Array<number>(8).fill(0)]);
  }
  out.push([1, BUS_ISA, ...ascii('ISA', 6)]);
  if (m.pci) out.push([1, BUS_PCI, ...ascii('PCI', 6)]);
  const ioapic = ioapicId(m.cpus);
  out.push([2, ioapic, IOAPIC_VERSION, 1, ...u32(IOAPIC_ADDR)]);
  // The 8259 in virtual-wire mode on pin 0, the timer (IRQ0) on pin 2, every other ISA IRQ on its own pin.
  out.push(ioInterrupt(INT_TYPE_EXTINT, INTI_CONFORMING, BUS_ISA, 0, ioapic, 0));
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    if (irq === 2) continue;
    const flags = irq === SCI_IRQ ? INTI_ACTIVE_HIGH_LEVEL : INTI_CONFORMING;
    out.push(ioInterrupt(INT_TYPE_INT, flags, BUS_ISA, irq, ioapic, irq === 0 ? 2 : irq));
  }
  if (m.pci) {
    for (let slot = 0; slot < PCI_SLOTS; slot++) {
      for (let pin = 0; pin < 4; pin++) {
        // PCI source IRQ: device in bits 2-6, pin in bits 0-1; PCI lines are level, active low (conforming).
        out.push(ioInterrupt(INT_TYPE_INT, INTI_CONFORMING, BUS_PCI, (slot << 2) | pin, ioapic, pciInterruptGsi(slot, pin)));
      }
    }
  }
  out.push(localInterrupt(INT_TYPE_EXTINT, 0));
  out.push(localInterrupt(INT_TYPE_NMI, 1));
  return { bytes: out.flat(), count: out.length };
}

/** The floating pointer followed by the configuration table, for placing at `base`. */
export function buildMpTable(m: AcpiMachine, base: number = MPTABLE_ADDR): Uint8Array {
  const { bytes: body, count } = entries(m);
  const configAddr = base + MP_FLOATING_SIZE;
  const config = Uint8Array.from([
    ...ascii('PCMP', 4), ...u16(MP_CONFIG_HEADER_SIZE + body.length), MP_SPEC_REV, 0,
    ...ascii('TSVISOR', 8), ...ascii('TSVISOR VM', 12),
    ...u32(0), ...u16(0), ...u16(count), ...u32(LAPIC_ADDR), ...u16(0), 0, 0,
    ...body,
  ]);
  config[7] = checksum(config);
  const floating = Uint8Array.from([...ascii('_MP_', 4), ...u32(configAddr), 1, MP_SPEC_REV, 0, 0, 0, 0, 0, 0]);
  floating[10] = checksum(floating);
  const out = new Uint8Array(MP_FLOATING_SIZE + config.length);
  out.set(floating, 0);
  out.set(config, MP_FLOATING_SIZE);
  if (out.length > MPTABLE_MAX_SIZE) throw new RangeError(`MP table too big: ${out.length} bytes`);
  return out;
}

export function writeMpTable(memory: GuestMemory, m: AcpiMachine): number {
  memory.write(MPTABLE_ADDR, buildMpTable(m, MPTABLE_ADDR));
  return MPTABLE_ADDR;
}

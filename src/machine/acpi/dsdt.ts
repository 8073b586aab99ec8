/**
 * The DSDT: the devices Linux cannot probe on its own. \_S5 for poweroff,
 * one ACPI0007 processor device per vCPU, the ISA devices (COM1, i8042,
 * RTC), the PCI host bridge with its windows and INTx routing (_PRT), and
 * each virtio-mmio slot as LNRO0005 — the only way Debian's kernels find
 * virtio-mmio devices (they lack the virtio_mmio.device= command line).
 */
import {
  COM1_IRQ,
  COM1_PORT,
  PCI_CONFIG_PORT,
  PCI_CONFIG_PORT_SIZE,
  PCI_INTX_GSIS,
  PCI_IO_END,
  PCI_IO_START,
  PCI_MMIO_SIZE,
  PCI_MMIO_START,
} from '../memory-layout';
import * as aml from './aml';
import { AcpiMachine, VirtioMmioDescription } from './machine-description';
import { SLP_TYP_S5 } from './pm';
import { sdt } from './table';

/** Revision 2: integers in this DSDT's methods are 64-bit. */
export const DSDT_REVISION = 2;
const STA_PRESENT_ENABLED_SHOWN_FUNCTIONING = 0x0f;
const PCI_SLOTS = 32;

/**
 * The GSI a PCI device's INTx pin reaches: INTA..INTD (pin 0..3) rotated by
 * the slot number (the usual swizzle), over GSIs 16-19. Level, active low.
 */
export function pciInterruptGsi(slot: number, pin: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= PCI_SLOTS) throw new RangeError(`PCI slot ${slot} out of range`);
  if (!Number.isInteger(pin) || pin < 0 || pin > 3) throw new RangeError(`PCI interrupt pin ${pin} out of range (0=INTA..3=INTD)`);
  return PCI_INTX_GSIS[(slot + pin) % PCI_INTX_GSIS.length];
}

/** _PRT entries for the given slots (all 32 by default): Package { address, pin, 0, GSI }. */
export function pciRoutingTable(slots: readonly number[] = Array.from({ length: PCI_SLOTS }, (_, i) => i)): Uint8Array {
  const entries: Uint8Array[] = [];
  for (const slot of slots) {
    for (let pin = 0; pin < 4; pin++) {
      // Address: device in the high word, 0xFFFF = any function.
      entries.push(aml.pkg([aml.integer(slot * 0x10000 + 0xffff), aml.integer(pin), aml.integer(0), aml.integer(pciInterruptGsi(slot, pin))]));
    }
  }
  return aml.name('_PRT', aml.pkg(entries));
}

function pciHostBridge(mmio64: AcpiMachine['pciMmio64']): Uint8Array {
  const crs = aml.resourceTemplate([
    aml.wordBusNumber(0, 0xff),
    aml.io(PCI_CONFIG_PORT, PCI_CONFIG_PORT, 1, PCI_CONFIG_PORT_SIZE),
    // Legacy ISA ports below the config ports stay reachable through the bridge.
    aml.wordIo(0x0000, PCI_CONFIG_PORT - 1),
    aml.wordIo(Math.max(PCI_IO_START, PCI_CONFIG_PORT + PCI_CONFIG_PORT_SIZE), PCI_IO_END),
    aml.dwordMemory(PCI_MMIO_START, PCI_MMIO_START + PCI_MMIO_SIZE - 1),
    ...(mmio64 ? [aml.qwordMemory(BigInt(mmio64.base), BigInt(mmio64.base) + BigInt(mmio64.size) - 1n)] : []),
  ]);
  return aml.device('PCI0', [
    aml.name('_HID', aml.eisaId('PNP0A03')),
    aml.name('_ADR', aml.integer(0)),
    aml.name('_SEG', aml.integer(0)),
    aml.name('_BBN', aml.integer(0)),
    aml.name('_UID', aml.integer(0)),
    aml.name('_CRS', crs),
    pciRoutingTable(),
  ]);
}

function com1(): Uint8Array {
  return aml.device('COM1', [
    aml.name('_HID', aml.eisaId('PNP0501')),
    aml.name('_UID', aml.integer(1)),
    aml.name('_STA', aml.integer(STA_PRESENT_ENABLED_SHOWN_FUNCTIONING)),
    aml.name('_CRS', aml.resourceTemplate([aml.io(COM1_PORT, COM1_PORT, 1, 8), aml.irqNoFlags([COM1_IRQ])])),
  ]);
}

function i8042(): Uint8Array {
  return aml.device('PS2K', [
    aml.name('_HID', aml.eisaId('PNP0303')),
    aml.name('_STA', aml.integer(STA_PRESENT_ENABLED_SHOWN_FUNCTIONING)),
    aml.name('_CRS', aml.resourceTemplate([aml.io(0x60, 0x60, 1, 1), aml.io(0x64, 0x64, 1, 1), aml.irqNoFlags([1])])),
  ]);
}

function rtc(): Uint8Array {
  return aml.device('RTC', [
    aml.name('_HID', aml.eisaId('PNP0B00')),
    aml.name('_CRS', aml.resourceTemplate([aml.io(0x70, 0x70, 1, 2), aml.irqNoFlags([8])])),
  ]);
}

function virtioMmio(index: number, d: VirtioMmioDescription): Uint8Array {
  return aml.device(`VR${index.toString(16).toUpperCase().padStart(2, '0')}`, [
    aml.name('_HID', aml.string('LNRO0005')),
    aml.name('_UID', aml.integer(index)),
    aml.name('_CCA', aml.integer(1)), // cache-coherent DMA
    aml.name(
      '_CRS',
      aml.resourceTemplate([
        aml.memory32Fixed(d.address, d.size),
        aml.extendedInterrupt([d.irq], { edge: true, activeLow: false, shared: false }),
      ]),
    ),
  ]);
}

function processor(index: number): Uint8Array {
  return aml.device(`C${index.toString(16).toUpperCase().padStart(3, '0')}`, [
    aml.name('_HID', aml.string('ACPI0007')),
    aml.name('_UID', aml.integer(index)),
    aml.method('_STA', 0, [aml.ret(aml.integer(STA_PRESENT_ENABLED_SHOWN_FUNCTIONING))]),
  ]);
}

export function buildDsdt(m: AcpiMachine): Uint8Array {
  if ((m.virtioMmio?.length ?? 0) > 256) throw new RangeError('at most 256 virtio-mmio devices');
  if (m.cpus > 0x1000) throw new RangeError('at most 4096 vCPUs');
  const sb: Uint8Array[] = [];
  for (let i = 0; i < m.cpus; i++) sb.push(processor(i));
  if (m.pci) sb.push(pciHostBridge(m.pciMmio64));
  if (m.com1 ?? true) sb.push(com1());
  if (m.i8042 ?? true) sb.push(i8042());
  if (m.rtc ?? true) sb.push(rtc());
  (m.virtioMmio ?? []).forEach((d, i) => sb.push(virtioMmio(i, d)));
  const body = aml.concat([
    aml.name('\\_S5', aml.pkg([aml.integer(SLP_TYP_S5), aml.integer(SLP_TYP_S5), aml.integer(0), aml.integer(0)])),
    aml.scope('\\_SB', sb),
  ]);
  return sdt('DSDT', DSDT_REVISION, body);
}

/**
 * What the PCI host bridge needs from a function on its bus: configuration
 * reads and writes, and the handlers behind its BARs. The host maps each BAR
 * on the I/O bus wherever the guest programs it.
 */
import { MmioDevice, PioDevice } from '../bus';
import { PciConfigSpace } from './pci-config-space';

export interface PciDevice {
  readonly config: PciConfigSpace;
  /** Configuration read of 1, 2 or 4 bytes at `offset` (never crossing a dword). */
  configRead(offset: number, size: number): number;
  configWrite(offset: number, size: number, value: number): void;
  /** Handler for a memory BAR; offsets are relative to the BAR's base. */
  barMmio?(index: number): MmioDevice | undefined;
  /** Handler for an I/O BAR; offsets are relative to the BAR's base. */
  barPio?(index: number): PioDevice | undefined;
}

/** A function whose configuration space does everything: host bridges and the like. */
export class SimplePciFunction implements PciDevice {
  constructor(readonly config: PciConfigSpace) {}
  configRead(offset: number, size: number): number {
    return this.config.read(offset, size);
  }
  configWrite(offset: number, size: number, value: number): void {
    this.config.write(offset, size, value);
  }
}

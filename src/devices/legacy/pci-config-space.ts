/**
 * A PCI type-0 configuration space (256 bytes): the standard header, BARs
 * with sizing, the command register, a capability list and INTx.
 *
 * Guest writes pass through a per-byte write mask, so read-only fields stay
 * read-only without a case per register. BAR registers are special: the low
 * bits that encode the size read back as zero, which is how a driver sizes a
 * BAR (write all-ones, read back the mask).
 */
import { InterruptLine } from '../irq';

export const PCI_CONFIG_SIZE = 256;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_INTERRUPT = 0x8;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_CAP_ID_VENDOR = 0x09;
export const PCI_CAP_ID_MSIX = 0x11;

const OFF = {
  vendor: 0x00, device: 0x02, command: 0x04, status: 0x06, revision: 0x08, classCode: 0x09,
  headerType: 0x0e, bar0: 0x10, subsystemVendor: 0x2c, subsystem: 0x2e, capPointer: 0x34,
  interruptLine: 0x3c, interruptPin: 0x3d,
} as const;

export type BarKind = 'io' | 'mem32' | 'mem64';

export interface BarDefinition {
  kind: BarKind;
  /** Bytes; a power of two, at least 16 (memory) or 4 (I/O). */
  size: number;
  prefetchable?: boolean;
}

export interface PciHeader {
  vendorId: number;
  deviceId: number;
  /** 24 bits: class, subclass, programming interface. */
  classCode: number;
  revision?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 0 = no INTx, 1 = INTA ... 4 = INTD. */
  interruptPin?: number;
  headerType?: number;
}

/** Memory BARs above this are not placed anywhere (and cannot be represented exactly). */
const MAX_BAR_ADDRESS = 2 ** 52;

export class PciConfigSpace {
  readonly bytes = new Uint8Array(PCI_CONFIG_SIZE);
  private readonly writeMask = new Uint8Array(PCI_CONFIG_SIZE);
  private readonly bars: (BarDefinition | undefined)[] = new Array<BarDefinition | undefined>(6).fill(undefined);
  private readonly view = new DataView(this.bytes.buffer);
  private lastCap = 0;
  private nextCap = 0x40;
  private intx: InterruptLine | undefined;
  private intxLevel = false;

  constructor(header: PciHeader) {
    this.set16(OFF.vendor, header.vendorId);
    this.set16(OFF.device, header.deviceId);
    this.set8(OFF.revision, header.revision ?? 0);
    this.set8(OFF.classCode, header.classCode & 0xff);
    this.set16(OFF.classCode + 1, header.classCode >>> 8);
    this.set8(OFF.headerType, header.headerType ?? 0);
    this.set16(OFF.subsystemVendor, header.subsystemVendorId ?? 0);
    this.set16(OFF.subsystem, header.subsystemId ?? 0);
    this.set8(OFF.interruptPin, header.interruptPin ?? 0);
    this.writable(OFF.command, [0x07, 0x04]); // I/O, memory, bus master; INTx disable
    this.writable(OFF.interruptLine, [0xff]);
  }

  get interruptPin(): number {
    return this.bytes[OFF.interruptPin];
  }

  get command(): number {
    return this.view.getUint16(OFF.command, true);
  }

  defineBar(index: number, def: BarDefinition): void {
    const minimum = def.kind === 'io' ? 4 : 16;
    if (index < 0 || index > 5 || (def.kind === 'mem64' && index > 4)) throw new RangeError(`BAR ${index} cannot be ${def.kind}`);
    if (def.size < minimum || (def.size & (def.size - 1)) !== 0 || def.size > 0x80000000) throw new RangeError(`BAR size ${def.size} is not a power of two`);
    this.bars[index] = def;
    const typeBits = def.kind === 'io' ? 0x1 : (def.kind === 'mem64' ? 0x4 : 0) | (def.prefetchable ? 0x8 : 0);
    this.set32(OFF.bar0 + 4 * index, typeBits);
  }

  barDefinition(index: number): BarDefinition | undefined {
    return this.bars[index];
  }

  /** Where the BAR is decoded now, or undefined when decoding is off or the address is unusable. */
  barAddress(index: number): number | undefined {
    const def = this.bars[index];
    if (!def) return undefined;
    const low = this.view.getUint32(OFF.bar0 + 4 * index, true);
    if (def.kind === 'io') {
      const port = low & 0xfffc;
      if (!(this.command & PCI_COMMAND_IO) || port === 0 || (low >>> 16) !== 0 || port + def.size > 0x10000) return undefined;
      return port;
    }
    if (!(this.command & PCI_COMMAND_MEMORY)) return undefined;
    const high = def.kind === 'mem64' ? this.view.getUint32(OFF.bar0 + 4 * (index + 1), true) : 0;
    const addr = high * 0x100000000 + ((low & ~0xf) >>> 0);
    if (addr === 0 || addr + def.size > MAX_BAR_ADDRESS || (def.kind === 'mem32' && addr + def.size > 0x100000000)) return undefined;
    return addr;
  }

  /** Appends a capability of `length` bytes (including id and next) and returns its offset. */
  addCapability(id: number, length: number): number {
    const at = this.nextCap;
    if (at + length > PCI_CONFIG_SIZE) throw new RangeError('PCI capability list overflows config space');
    this.set8(at, id);
    this.set8(at + 1, 0);
    if (this.lastCap === 0) this.set8(OFF.capPointer, at);
    else this.set8(this.lastCap + 1, at);
    this.set16(OFF.status, this.view.getUint16(OFF.status, true) | PCI_STATUS_CAP_LIST);
    this.lastCap = at;
    this.nextCap = (at + length + 3) & ~3;
    return at;
  }

  /** Lets the guest write these bits (mask bytes starting at `offset`). */
  writable(offset: number, mask: number[]): void {
    mask.forEach((m, i) => { this.writeMask[offset + i] = m; });
  }

  read(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < PCI_CONFIG_SIZE ? this.bytes[offset + i] : 0xff);
    return v;
  }

  write(offset: number, size: number, value: number): void {
    const oldCommand = this.command;
    for (let i = 0; i < size && offset + i < PCI_CONFIG_SIZE; i++) {
      const at = offset + i;
      const byte = Math.floor(value / 2 ** (8 * i)) & 0xff;
      if (at >= OFF.bar0 && at < OFF.bar0 + 24) this.writeBarByte(at, byte);
      else this.bytes[at] = (this.bytes[at] & ~this.writeMask[at]) | (byte & this.writeMask[at]);
    }
    if ((oldCommand ^ this.command) & PCI_COMMAND_INTX_DISABLE) this.updateIntx();
  }

  /** Connects the function's INTx output (the host does this once it knows the slot's GSI). */
  attachIntx(line: InterruptLine, gsi: number): void {
    this.intx = line;
    this.set8(OFF.interruptLine, gsi); // what firmware would have written
    this.updateIntx();
  }

  /** The function wants INTx asserted or not; the INTx-disable bit may still hold it low. */
  setIntx(level: boolean): void {
    if (this.intxLevel === level) return;
    this.intxLevel = level;
    this.updateIntx();
  }

  set8(offset: number, v: number): void { this.bytes[offset] = v & 0xff; }
  set16(offset: number, v: number): void { this.view.setUint16(offset, v & 0xffff, true); }
  set32(offset: number, v: number): void { this.view.setUint32(offset, v >>> 0, true); }
  get16(offset: number): number { return this.view.getUint16(offset, true); }
  get32(offset: number): number { return this.view.getUint32(offset, true); }

  save(): { bytes: number[]; intxLevel: boolean } {
    return { bytes: [...this.bytes], intxLevel: this.intxLevel };
  }

  /** Restores guest-programmed registers (command, BARs, line, capability state). */
  restore(s: { bytes: number[]; intxLevel: boolean }): void {
    this.bytes.set(s.bytes.slice(0, PCI_CONFIG_SIZE));
    this.intxLevel = s.intxLevel;
    this.updateIntx();
  }

  private writeBarByte(at: number, byte: number): void {
    const rel = at - OFF.bar0;
    const index = rel >> 2;
    const shift = (rel & 3) * 8;
    const def = this.bars[index];
    const lowOf64 = index > 0 ? this.bars[index - 1] : undefined;
    let sizeMask: number;
    let fixedBits: number;
    if (def) {
      sizeMask = ~(def.size - 1) & (def.kind === 'io' ? ~0x3 : ~0xf);
      fixedBits = this.get32(OFF.bar0 + 4 * index) & (def.kind === 'io' ? 0x3 : 0xf);
    } else if (lowOf64?.kind === 'mem64') {
      sizeMask = 0xffffffff; // upper half of a 64-bit BAR under 4 GiB in size: all address bits
      fixedBits = 0;
    } else {
      return; // unimplemented BAR: reads as zero
    }
    const maskByte = (sizeMask >>> shift) & 0xff;
    const fixedByte = (fixedBits >>> shift) & 0xff;
    this.bytes[at] = (byte & maskByte) | fixedByte;
  }

  private updateIntx(): void {
    const asserted = this.intxLevel && !(this.command & PCI_COMMAND_INTX_DISABLE);
    const status = this.get16(OFF.status);
    this.set16(OFF.status, this.intxLevel ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT);
    this.intx?.set(asserted);
  }
}

/**
 * The I/O buses: port I/O (16-bit space) and MMIO (guest physical addresses).
 *
 * Devices register a range and receive accesses with the offset inside their
 * range. An access nobody claims reads all-ones and writes are dropped; each
 * unclaimed address is logged once, not per access, so a guest probing in a
 * loop cannot flood the log.
 */
import { Logger, defaultLogger } from '../log';

export type AccessSize = 1 | 2 | 4;

/** A device on the port I/O bus. Values are the low `size` bytes of a number. */
export interface PioDevice {
  pioRead(offset: number, size: AccessSize): number;
  pioWrite(offset: number, size: AccessSize, value: number): void;
}

/**
 * A device on the MMIO bus. `data` is the access itself (1, 2, 4 or 8 bytes,
 * little-endian), as KVM reports it: reads fill it, writes carry it. Byte
 * arrays avoid BigInt for 8-byte accesses on the hot path.
 */
export interface MmioDevice {
  mmioRead(offset: number, data: Uint8Array): void;
  mmioWrite(offset: number, data: Uint8Array): void;
}

export class BusError extends Error {
  override name = 'BusError';
}

interface Mapping<D> {
  readonly base: number;
  readonly length: number;
  readonly device: D;
  readonly name: string;
}

/** Sorted, non-overlapping address ranges with a last-hit cache. */
class RangeMap<D> {
  private mappings: Mapping<D>[] = [];
  private lastHit: Mapping<D> | undefined;

  constructor(private readonly busName: string) {}

  add(base: number, length: number, device: D, name: string): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length <= 0) {
      throw new BusError(`${this.busName}: bad range for ${name}: base=${base} length=${length}`);
    }
    for (const m of this.mappings) {
      if (base < m.base + m.length && m.base < base + length) {
        throw new BusError(
          `${this.busName}: ${name} at 0x${base.toString(16)}+0x${length.toString(16)} overlaps ${m.name} at 0x${m.base.toString(16)}+0x${m.length.toString(16)}`,
        );
      }
    }
    this.mappings.push({ base, length, device, name });
    this.mappings.sort((a, b) => a.base - b.base);
  }

  remove(device: D): void {
    this.mappings = this.mappings.filter((m) => m.device !== device);
    this.lastHit = undefined;
  }

  find(address: number): Mapping<D> | undefined {
    const hit = this.lastHit;
    if (hit && address >= hit.base && address < hit.base + hit.length) return hit;
    let lo = 0;
    let hi = this.mappings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.mappings[mid];
      if (address < m.base) hi = mid - 1;
      else if (address >= m.base + m.length) lo = mid + 1;
      else {
        this.lastHit = m;
        return m;
      }
    }
    return undefined;
  }

  list(): readonly Mapping<D>[] {
    return this.mappings;
  }
}

export class IoBus {
  private readonly pio = new RangeMap<PioDevice>('PIO bus');
  private readonly mmio = new RangeMap<MmioDevice>('MMIO bus');
  private readonly loggedUnclaimed = new Set<string>();

  constructor(private readonly log: Logger = defaultLogger) {}

  registerPio(base: number, length: number, device: PioDevice, name: string): void {
    if (base + length > 0x10000) throw new BusError(`PIO bus: ${name} extends past port 0xffff`);
    this.pio.add(base, length, device, name);
  }

  registerMmio(base: number, length: number, device: MmioDevice, name: string): void {
    this.mmio.add(base, length, device, name);
  }

  unregisterPio(device: PioDevice): void {
    this.pio.remove(device);
  }

  unregisterMmio(device: MmioDevice): void {
    this.mmio.remove(device);
  }

  pioRead(port: number, size: AccessSize): number {
    const m = this.pio.find(port);
    if (!m) {
      this.noteUnclaimed('pio', port, 'read');
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    return m.device.pioRead(port - m.base, size);
  }

  pioWrite(port: number, size: AccessSize, value: number): void {
    const m = this.pio.find(port);
    if (!m) {
      this.noteUnclaimed('pio', port, 'write');
      return;
    }
    m.device.pioWrite(port - m.base, size, value);
  }

  mmioRead(address: number, data: Uint8Array): void {
    const m = this.mmio.find(address);
    if (!m) {
      this.noteUnclaimed('mmio', address, 'read');
      data.fill(0xff);
      return;
    }
    m.device.mmioRead(address - m.base, data);
  }

  mmioWrite(address: number, data: Uint8Array): void {
    const m = this.mmio.find(address);
    if (!m) {
      this.noteUnclaimed('mmio', address, 'write');
      return;
    }
    m.device.mmioWrite(address - m.base, data);
  }

  /** Registered ranges, for `info mtree`-style listings and tests. */
  pioMappings(): readonly { base: number; length: number; name: string }[] {
    return this.pio.list();
  }

  mmioMappings(): readonly { base: number; length: number; name: string }[] {
    return this.mmio.list();
  }

  private noteUnclaimed(space: 'pio' | 'mmio', address: number, kind: 'read' | 'write'): void {
    const key = `${space}:${address}`;
    if (this.loggedUnclaimed.has(key)) return;
    // Bound the set so a guest sweeping the whole address space cannot grow it forever.
    if (this.loggedUnclaimed.size >= 4096) return;
    this.loggedUnclaimed.add(key);
    this.log.debug(`unclaimed ${space} ${kind} at 0x${address.toString(16)} (logged once per address)`);
  }
}

/**
 * Guest physical memory: a list of RAM regions, each backed by one host
 * ArrayBuffer (under KVM the addon's single mmap, so KVM, devices and the
 * software CPU share the same bytes with no copies).
 *
 * Guest physical addresses are JavaScript numbers: exact up to 2^53, far above
 * any RAM size we map. Every access from a device is bounds-checked here, so a
 * hostile guest address or length can never reach outside a region.
 */
export interface MemoryRegion {
  /** Guest physical address of the first byte. */
  readonly guestAddress: number;
  /** Host bytes; `bytes.length` is the region size. */
  readonly bytes: Uint8Array;
}

export class GuestMemoryError extends Error {
  override name = 'GuestMemoryError';
}

/** Told about guest RAM written behind the vCPUs' back (see GuestMemory.noteDmaWrite). */
export type DmaWriteListener = (address: number, length: number) => void;

export class GuestMemory {
  readonly regions: readonly MemoryRegion[];

  constructor(regions: MemoryRegion[]) {
    const sorted = [...regions].sort((a, b) => a.guestAddress - b.guestAddress);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (prev.guestAddress + prev.bytes.length > sorted[i].guestAddress) {
        throw new GuestMemoryError(`RAM regions overlap at 0x${sorted[i].guestAddress.toString(16)}`);
      }
    }
    this.regions = sorted;
  }

  private dmaListeners: DmaWriteListener[] = [];

  /**
   * Registers `listener` for device writes into guest RAM (the software CPU's
   * translation cache drops code cached from those pages). Returns a function
   * that unregisters it.
   */
  onDmaWrite(listener: DmaWriteListener): () => void {
    this.dmaListeners = [...this.dmaListeners, listener];
    return () => { this.dmaListeners = this.dmaListeners.filter((l) => l !== listener); };
  }

  /**
   * Announces that something other than a vCPU (device DMA through a view,
   * the VMM) wrote guest bytes [address, address+length). Writers through
   * write()/writeU* need not call it; writers through view() must, before the
   * guest can observe the bytes (virtqueues do it when they push a chain back).
   */
  noteDmaWrite(address: number, length: number): void {
    const ls = this.dmaListeners;
    for (let k = 0; k < ls.length; k++) ls[k](address, length);
  }

  /** Total bytes of RAM over all regions. */
  get size(): number {
    return this.regions.reduce((sum, r) => sum + r.bytes.length, 0);
  }

  /** The region holding [address, address+length), or undefined if the range is not wholly inside one region. */
  regionFor(address: number, length: number): MemoryRegion | undefined {
    if (!Number.isSafeInteger(address) || !Number.isSafeInteger(length) || address < 0 || length < 0) return undefined;
    for (const r of this.regions) {
      if (address >= r.guestAddress && address + length <= r.guestAddress + r.bytes.length) return r;
    }
    return undefined;
  }

  /** True if the whole range is RAM within a single region. */
  isRam(address: number, length: number): boolean {
    return this.regionFor(address, length) !== undefined;
  }

  /**
   * A view over guest bytes [address, address+length) without copying, or
   * undefined when the range is not wholly RAM. Devices use this for DMA.
   */
  view(address: number, length: number): Uint8Array | undefined {
    const r = this.regionFor(address, length);
    if (!r) return undefined;
    const off = address - r.guestAddress;
    return r.bytes.subarray(off, off + length);
  }

  /** Like view(), but throws a GuestMemoryError naming the range. For trusted VMM setup code. */
  mustView(address: number, length: number): Uint8Array {
    const v = this.view(address, length);
    if (!v) {
      throw new GuestMemoryError(`guest range 0x${address.toString(16)}+0x${length.toString(16)} is not RAM`);
    }
    return v;
  }

  write(address: number, data: Uint8Array): void {
    this.mustView(address, data.length).set(data);
    this.noteDmaWrite(address, data.length);
  }

  read(address: number, length: number): Uint8Array {
    return Uint8Array.from(this.mustView(address, length));
  }

  readU8(address: number): number { return this.mustView(address, 1)[0]; }
  readU16(address: number): number { const v = this.mustView(address, 2); return v[0] | (v[1] << 8); }
  readU32(address: number): number { return new DataView(this.mustView(address, 4).buffer, this.mustView(address, 4).byteOffset, 4).getUint32(0, true); }
  readU64(address: number): bigint { const v = this.mustView(address, 8); return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true); }
  writeU8(address: number, value: number): void { this.mustView(address, 1)[0] = value; this.noteDmaWrite(address, 1); }
  writeU16(address: number, value: number): void { const v = this.mustView(address, 2); v[0] = value; v[1] = value >>> 8; this.noteDmaWrite(address, 2); }
  writeU32(address: number, value: number): void {
    const v = this.mustView(address, 4);
    new DataView(v.buffer, v.byteOffset, 4).setUint32(0, value >>> 0, true);
    this.noteDmaWrite(address, 4);
  }
  writeU64(address: number, value: bigint): void {
    const v = this.mustView(address, 8);
    new DataView(v.buffer, v.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.noteDmaWrite(address, 8);
  }
}

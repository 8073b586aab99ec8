/**
 * The driver's side of virtio, for tests: guest memory over a plain
 * ArrayBuffer, split rings laid out the way Linux lays them out, and an MMIO
 * handshake. Tests use this to play a guest without a CPU.
 */
import { GuestMemory } from '../src/memory/guest-memory';
import { MmioDevice } from '../src/devices/bus';
import { REG } from '../src/devices/virtio/mmio/virtio-mmio';

export const RAM_BASE = 0;
export const RAM_SIZE = 4 * 1024 * 1024;

export function makeMemory(size = RAM_SIZE): GuestMemory {
  return new GuestMemory([{ guestAddress: RAM_BASE, bytes: new Uint8Array(new ArrayBuffer(size)) }]);
}

/** A bump allocator for guest buffers. */
export class GuestAllocator {
  constructor(private next: number, private readonly end: number) {}
  alloc(length: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + length > this.end) throw new Error('test guest out of memory');
    this.next = at + length;
    return at;
  }
}

export interface Segment {
  addr: number;
  len: number;
  write?: boolean;
}

export const F_NEXT = 1;
export const F_WRITE = 2;
export const F_INDIRECT = 4;

/** One split virtqueue as the driver sees it. */
export class DriverQueue {
  readonly descAddr: number;
  readonly availAddr: number;
  readonly usedAddr: number;
  private nextDesc = 0;
  availIdx = 0;
  lastUsed = 0;

  constructor(readonly mem: GuestMemory, alloc: GuestAllocator, readonly size: number) {
    this.descAddr = alloc.alloc(16 * size, 4096);
    this.availAddr = alloc.alloc(6 + 2 * size, 2);
    this.usedAddr = alloc.alloc(6 + 8 * size, 4096);
  }

  writeDesc(table: number, index: number, addr: number, len: number, flags: number, next: number): void {
    const at = table + 16 * index;
    this.mem.writeU64(at, BigInt(addr));
    this.mem.writeU32(at + 8, len);
    this.mem.writeU16(at + 12, flags);
    this.mem.writeU16(at + 14, next);
  }

  /** Writes a chain into free descriptors and returns its head (not yet published). */
  buildChain(segments: Segment[]): number {
    const indices = segments.map(() => this.takeDesc());
    segments.forEach((s, i) => {
      const last = i === segments.length - 1;
      this.writeDesc(this.descAddr, indices[i], s.addr, s.len, (s.write ? F_WRITE : 0) | (last ? 0 : F_NEXT), last ? 0 : indices[i + 1]);
    });
    return indices[0];
  }

  /** Writes `segments` into an indirect table at `tableAddr` and one descriptor pointing at it. */
  buildIndirect(tableAddr: number, segments: Segment[]): number {
    segments.forEach((s, i) => {
      const last = i === segments.length - 1;
      this.writeDesc(tableAddr, i, s.addr, s.len, (s.write ? F_WRITE : 0) | (last ? 0 : F_NEXT), last ? 0 : i + 1);
    });
    const head = this.takeDesc();
    this.writeDesc(this.descAddr, head, tableAddr, 16 * segments.length, F_INDIRECT, 0);
    return head;
  }

  publish(head: number): void {
    this.mem.writeU16(this.availAddr + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(this.availAddr + 2, this.availIdx);
  }

  add(segments: Segment[]): number {
    const head = this.buildChain(segments);
    this.publish(head);
    return head;
  }

  usedIdx(): number {
    return this.mem.readU16(this.usedAddr + 2);
  }

  /** Used entries not yet consumed, as [id, len]. */
  takeUsed(): [number, number][] {
    const out: [number, number][] = [];
    const idx = this.usedIdx();
    while (this.lastUsed !== idx) {
      const at = this.usedAddr + 4 + 8 * (this.lastUsed % this.size);
      out.push([this.mem.readU32(at), this.mem.readU32(at + 4)]);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  setUsedEvent(value: number): void {
    this.mem.writeU16(this.availAddr + 4 + 2 * this.size, value);
  }

  availEvent(): number {
    return this.mem.readU16(this.usedAddr + 4 + 8 * this.size);
  }

  setAvailFlags(flags: number): void {
    this.mem.writeU16(this.availAddr, flags);
  }

  private takeDesc(): number {
    const i = this.nextDesc;
    this.nextDesc = (this.nextDesc + 1) % this.size;
    return i;
  }
}

export function mmioRead32(dev: MmioDevice, offset: number): number {
  const d = new Uint8Array(4);
  dev.mmioRead(offset, d);
  return new DataView(d.buffer).getUint32(0, true);
}

export function mmioWrite32(dev: MmioDevice, offset: number, value: number): void {
  const d = new Uint8Array(4);
  new DataView(d.buffer).setUint32(0, value >>> 0, true);
  dev.mmioWrite(offset, d);
}

export function mmioReadConfig(dev: MmioDevice, offset: number, size: number): number {
  const d = new Uint8Array(size);
  dev.mmioRead(REG.Config + offset, d);
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + d[i];
  return v;
}

export function mmioDeviceFeatures(dev: MmioDevice): bigint {
  mmioWrite32(dev, REG.DeviceFeaturesSel, 0);
  const lo = mmioRead32(dev, REG.DeviceFeatures);
  mmioWrite32(dev, REG.DeviceFeaturesSel, 1);
  const hi = mmioRead32(dev, REG.DeviceFeatures);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * The Linux virtio-mmio probe: reset, ACKNOWLEDGE, DRIVER, features,
 * FEATURES_OK, queues, DRIVER_OK. Returns the driver's queues.
 */
export function mmioHandshake(dev: MmioDevice, mem: GuestMemory, alloc: GuestAllocator, opts: { features?: (offered: bigint) => bigint; queueSizes: number[] }): DriverQueue[] {
  mmioWrite32(dev, REG.Status, 0);
  mmioWrite32(dev, REG.Status, 1);
  mmioWrite32(dev, REG.Status, 1 | 2);
  const offered = mmioDeviceFeatures(dev);
  const accepted = opts.features ? opts.features(offered) : offered;
  mmioWrite32(dev, REG.DriverFeaturesSel, 0);
  mmioWrite32(dev, REG.DriverFeatures, Number(accepted & 0xffffffffn));
  mmioWrite32(dev, REG.DriverFeaturesSel, 1);
  mmioWrite32(dev, REG.DriverFeatures, Number(accepted >> 32n));
  mmioWrite32(dev, REG.Status, 1 | 2 | 8);
  if (!(mmioRead32(dev, REG.Status) & 8)) throw new Error('FEATURES_OK refused');
  const queues = opts.queueSizes.map((size, i) => {
    const q = new DriverQueue(mem, alloc, size);
    mmioWrite32(dev, REG.QueueSel, i);
    mmioWrite32(dev, REG.QueueNum, size);
    mmioWrite32(dev, REG.QueueDescLow, q.descAddr);
    mmioWrite32(dev, REG.QueueDescHigh, 0);
    mmioWrite32(dev, REG.QueueDriverLow, q.availAddr);
    mmioWrite32(dev, REG.QueueDriverHigh, 0);
    mmioWrite32(dev, REG.QueueDeviceLow, q.usedAddr);
    mmioWrite32(dev, REG.QueueDeviceHigh, 0);
    mmioWrite32(dev, REG.QueueReady, 1);
    return q;
  });
  mmioWrite32(dev, REG.Status, 1 | 2 | 8 | 4);
  return queues;
}

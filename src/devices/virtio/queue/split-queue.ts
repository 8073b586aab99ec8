/**
 * The split virtqueue (virtio 1.2, 2.7) seen from the device side.
 *
 * The transport fills in the size and the three ring addresses, then calls
 * enable(). From then on devices pop() descriptor chains and pushUsed() them
 * back. Everything the guest controls is checked: ring placement against RAM,
 * each descriptor's buffer against RAM, chain length against the queue size,
 * the available index against the queue size. A violation breaks this queue
 * only (pop() returns nothing until reset) and is reported once through
 * `onError`, which the transport turns into DEVICE_NEEDS_RESET. Nothing here
 * throws for guest input.
 *
 * Every byte the device writes into guest RAM (a chain's writable buffers,
 * the used ring, avail_event) is announced through GuestMemory.noteDmaWrite
 * before the driver can see it, so the software CPU drops code it cached
 * from those pages. Chains are remembered by head from pop() to pushUsed()
 * for that.
 *
 * Ring indices are read and written with Atomics so the loads and stores are
 * neither torn nor reordered by the JIT: the available idx is loaded before the
 * ring entries it covers, and a used entry is stored before the used idx that
 * publishes it. The host is assumed little-endian (x86-64, like the guest).
 */
import { GuestMemory } from '../../../memory/guest-memory';
import { DescriptorChain } from './descriptor-chain';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const MAX_QUEUE_SIZE = 32768;
const DESCRIPTOR_SIZE = 16;
/** Descriptors above 2^53 cannot be represented exactly; anything past this is no RAM of ours anyway. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

export interface SplitQueueState {
  size: number;
  ready: boolean;
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
  eventIdx: boolean;
  nextAvail: number;
  nextUsed: number;
  signalledUsed: number;
  broken: boolean;
}

export function isValidQueueSize(size: number, maxSize: number): boolean {
  return Number.isInteger(size) && size > 0 && size <= maxSize && size <= MAX_QUEUE_SIZE && (size & (size - 1)) === 0;
}

/** Whether the driver asked to be interrupted once the used idx moves from old to new past event (2.7.10). */
export function vringNeedEvent(event: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export class SplitQueue {
  size: number;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  private enabled = false;
  private eventIdx = false;
  private nextAvail = 0;
  private nextUsed = 0;
  private signalledUsed = 0;
  private broken = false;
  private desc: DataView | undefined;
  /** The available ring as u16s: [flags, idx, ring[size], used_event]. */
  private avail: Uint16Array | undefined;
  private used: DataView | undefined;
  /** The used ring as u16s, for the atomic idx store and avail_event. */
  private usedU16: Uint16Array | undefined;
  /** Chains popped and not yet pushed back, by head: their writable buffers are announced at pushUsed(). */
  private inFlight: (DescriptorChain | undefined)[] = [];
  /** Chains whose head was popped again while still in flight (a driver bug): kept so no write goes unannounced. */
  private inFlightExtra: DescriptorChain[] = [];

  constructor(
    readonly maxSize: number,
    private readonly memory: GuestMemory,
    private readonly onError: (reason: string) => void,
  ) {
    this.size = maxSize;
  }

  get ready(): boolean {
    return this.enabled;
  }

  get isBroken(): boolean {
    return this.broken;
  }

  /**
   * Checks the driver's configuration and maps the rings. Returns an error
   * message (and leaves the queue disabled) when the size or a ring does not fit.
   */
  enable(eventIdx: boolean): string | undefined {
    const size = this.size;
    if (!isValidQueueSize(size, this.maxSize)) return `queue size ${size} is not a power of two <= ${this.maxSize}`;
    if (this.descAddr % 16 !== 0 || this.driverAddr % 2 !== 0 || this.deviceAddr % 4 !== 0) {
      return 'ring addresses are misaligned';
    }
    const desc = this.memory.view(this.descAddr, DESCRIPTOR_SIZE * size);
    const avail = this.memory.view(this.driverAddr, 6 + 2 * size);
    const used = this.memory.view(this.deviceAddr, 6 + 8 * size);
    if (!desc || !avail || !used) return 'a ring lies outside guest RAM';
    if (avail.byteOffset % 2 !== 0 || used.byteOffset % 2 !== 0) return 'ring not aligned in host memory';
    this.desc = new DataView(desc.buffer, desc.byteOffset, desc.length);
    this.avail = new Uint16Array(avail.buffer, avail.byteOffset, 3 + size);
    this.used = new DataView(used.buffer, used.byteOffset, used.length);
    this.usedU16 = new Uint16Array(used.buffer, used.byteOffset, 3 + 4 * size);
    this.eventIdx = eventIdx;
    this.enabled = true;
    this.inFlight = new Array<DescriptorChain | undefined>(size).fill(undefined);
    this.inFlightExtra = [];
    return undefined;
  }

  /** Back to the reset state: disabled, indices zero, size at its maximum. */
  reset(): void {
    // Buffers handed back by no pushUsed() may still hold device writes.
    for (const c of this.inFlight) if (c !== undefined) this.announce(c);
    for (const c of this.inFlightExtra) this.announce(c);
    this.inFlight = [];
    this.inFlightExtra = [];
    this.size = this.maxSize;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.enabled = false;
    this.eventIdx = false;
    this.nextAvail = this.nextUsed = this.signalledUsed = 0;
    this.broken = false;
    this.desc = this.avail = this.used = this.usedU16 = undefined;
  }

  /** True when the driver has made chains available that we have not taken. */
  hasAvailable(): boolean {
    if (!this.enabled || this.broken || !this.avail) return false;
    return Atomics.load(this.avail, 1) !== this.nextAvail;
  }

  /** The next available chain, or undefined when there is none or the queue is broken. */
  pop(): DescriptorChain | undefined {
    const avail = this.avail;
    if (!this.enabled || this.broken || !avail) return undefined;
    const availIdx = Atomics.load(avail, 1);
    const pending = (availIdx - this.nextAvail) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > this.size) {
      return this.fail(`available index ${availIdx} is ${pending} entries ahead of ${this.nextAvail}, more than the queue size ${this.size}`);
    }
    const head = Atomics.load(avail, 2 + (this.nextAvail & (this.size - 1)));
    const chain = this.walk(head);
    if (!chain) return undefined;
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx && this.usedU16) {
      // avail_event: interrupt-free until the driver adds past what we have taken.
      Atomics.store(this.usedU16, 2 + 4 * this.size, this.nextAvail);
      this.memory.noteDmaWrite(this.deviceAddr + 4 + 8 * this.size, 2);
    }
    if (chain.writable.length > 0) {
      const prior = this.inFlight[head];
      if (prior !== undefined) {
        const extra = this.inFlightExtra;
        extra.push(prior);
        // Bounded however the driver misbehaves: the oldest is announced now instead.
        if (extra.length > this.size) this.announce(extra.shift() as DescriptorChain);
      }
      this.inFlight[head] = chain;
    }
    return chain;
  }

  /**
   * Puts back the last `count` chains taken, for a device that found them
   * too small for what it has to deliver and will wait for more buffers.
   */
  undoPop(count = 1): void {
    this.nextAvail = (this.nextAvail - count) & 0xffff;
    // They will be popped again as new chains: forget these (announcing whatever may have been written).
    const avail = this.avail;
    if (avail !== undefined) {
      for (let k = 0; k < count; k++) this.settle(Atomics.load(avail, 2 + ((this.nextAvail + k) & (this.size - 1))));
    }
    if (this.eventIdx && this.usedU16) {
      Atomics.store(this.usedU16, 2 + 4 * this.size, this.nextAvail);
      this.memory.noteDmaWrite(this.deviceAddr + 4 + 8 * this.size, 2);
    }
  }

  /**
   * Returns a chain to the driver with `length` bytes written into its
   * writable part. Its whole writable part is announced as written (a device
   * may write past `length`, e.g. virtio-blk's status byte after a short read).
   */
  pushUsed(head: number, length: number): void {
    const used = this.used;
    if (!this.enabled || !used || !this.usedU16) return;
    this.settle(head);
    const slot = 4 + 8 * (this.nextUsed & (this.size - 1));
    used.setUint32(slot, head, true);
    used.setUint32(slot + 4, length >>> 0, true);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    Atomics.store(this.usedU16, 1, this.nextUsed);
    this.memory.noteDmaWrite(this.deviceAddr + slot, 8);
    this.memory.noteDmaWrite(this.deviceAddr + 2, 2);
  }

  /** Announces the writes into the in-flight chain with this head (and any stale duplicate of it). */
  private settle(head: number): void {
    const chain = this.inFlight[head];
    if (chain !== undefined) {
      this.inFlight[head] = undefined;
      this.announce(chain);
    }
    const extra = this.inFlightExtra;
    if (extra.length === 0) return;
    for (let k = extra.length - 1; k >= 0; k--) {
      if (extra[k].head === head) { this.announce(extra[k]); extra.splice(k, 1); }
    }
  }

  private announce(chain: DescriptorChain): void {
    const addrs = chain.writableAddresses, segs = chain.writable;
    for (let k = 0; k < addrs.length; k++) this.memory.noteDmaWrite(addrs[k], segs[k].length);
  }

  /**
   * Whether the driver wants an interrupt for the used entries pushed since the
   * last time this returned. Honours VIRTQ_AVAIL_F_NO_INTERRUPT or, with
   * EVENT_IDX, the driver's used_event.
   */
  needsNotification(): boolean {
    const avail = this.avail;
    if (!this.enabled || !avail) return false;
    const oldIdx = this.signalledUsed;
    const newIdx = this.nextUsed;
    if (oldIdx === newIdx) return false;
    this.signalledUsed = newIdx;
    if (this.eventIdx) return vringNeedEvent(Atomics.load(avail, 2 + this.size), newIdx, oldIdx);
    return (Atomics.load(avail, 0) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  save(): SplitQueueState {
    return {
      size: this.size,
      ready: this.enabled,
      descAddr: this.descAddr,
      driverAddr: this.driverAddr,
      deviceAddr: this.deviceAddr,
      eventIdx: this.eventIdx,
      nextAvail: this.nextAvail,
      nextUsed: this.nextUsed,
      signalledUsed: this.signalledUsed,
      broken: this.broken,
    };
  }

  /** Restores a saved queue; returns an error message if its rings no longer fit this memory. */
  restore(s: SplitQueueState): string | undefined {
    this.reset();
    this.size = s.size;
    this.descAddr = s.descAddr;
    this.driverAddr = s.driverAddr;
    this.deviceAddr = s.deviceAddr;
    if (s.ready) {
      const err = this.enable(s.eventIdx);
      if (err) return err;
    }
    this.nextAvail = s.nextAvail & 0xffff;
    this.nextUsed = s.nextUsed & 0xffff;
    this.signalledUsed = s.signalledUsed & 0xffff;
    this.broken = s.broken;
    return undefined;
  }

  private fail(reason: string): undefined {
    this.broken = true;
    this.onError(reason);
    return undefined;
  }

  /** Follows a chain from `head`, through at most one indirect table, visiting at most `size` descriptors. */
  private walk(head: number): DescriptorChain | undefined {
    if (head >= this.size) return this.fail(`chain head ${head} is past the queue size ${this.size}`);
    const readable: Uint8Array[] = [];
    const writable: Uint8Array[] = [];
    const writableAddresses: number[] = [];
    let table = this.desc as DataView;
    let tableLength = this.size;
    let index = head;
    let visited = 0;
    let indirect = false;
    for (;;) {
      if (index >= tableLength) return this.fail(`descriptor index ${index} is past its table of ${tableLength}`);
      if (++visited > tableLength) return this.fail(`chain from head ${head} is longer than its table of ${tableLength} (a loop?)`);
      const at = index * DESCRIPTOR_SIZE;
      const high = table.getUint32(at + 4, true);
      const addr = high > MAX_SAFE_HIGH_WORD ? -1 : high * 0x100000000 + table.getUint32(at, true);
      const length = table.getUint32(at + 8, true);
      const flags = table.getUint16(at + 12, true);
      const next = table.getUint16(at + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (indirect) return this.fail('an indirect descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) return this.fail('an indirect descriptor with NEXT set');
        if (length === 0 || length % DESCRIPTOR_SIZE !== 0 || length / DESCRIPTOR_SIZE > this.size) {
          return this.fail(`indirect table length ${length} is not a multiple of 16 up to the queue size`);
        }
        const view = addr < 0 ? undefined : this.memory.view(addr, length);
        if (!view) return this.fail(`indirect table at 0x${addr.toString(16)}+0x${length.toString(16)} is not RAM`);
        table = new DataView(view.buffer, view.byteOffset, view.length);
        tableLength = length / DESCRIPTOR_SIZE;
        index = 0;
        indirect = true;
        // An indirect descriptor ends the direct chain; the table's entries get
        // their own budget so a full-size table (Linux blk: seg_max + 2) fits.
        visited = 0;
        continue;
      }
      if (length === 0) return this.fail(`descriptor ${index} has length 0`);
      const view = addr < 0 ? undefined : this.memory.view(addr, length);
      if (!view) return this.fail(`buffer at 0x${addr.toString(16)}+0x${length.toString(16)} is not RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) { writable.push(view); writableAddresses.push(addr); }
      else if (writable.length > 0) return this.fail('a device-readable descriptor after a device-writable one');
      else readable.push(view);
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      index = next;
    }
    return new DescriptorChain(head, readable, writable, writableAddresses);
  }
}

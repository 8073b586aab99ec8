/**
 * A KVM virtual machine: RAM slots, the in-kernel interrupt controllers and
 * PIT, interrupt injection, and the eventfd links (irqfd, ioeventfd) through
 * which devices talk to the guest without a vCPU exit.
 */
import { KvmBinding, kvmBinding } from './binding';
import { Kvm } from './kvm';

/** A RAM region mapped once in this process and given to KVM as one memory slot. */
export interface RamSlot {
  readonly slot: number;
  readonly guestAddress: number;
  /** The mapping itself (external ArrayBuffer: same bytes the guest sees). */
  readonly buffer: ArrayBuffer;
}

export type GsiRoute =
  | { gsi: number; kind: 'irqchip'; irqchip: number; pin: number }
  | { gsi: number; kind: 'msi'; address: number; data: number };

/** Which in-kernel irqchip a GSI route targets (KVM_IRQCHIP_*). */
export const IRQCHIP_PIC_MASTER = 0;
export const IRQCHIP_PIC_SLAVE = 1;
export const IRQCHIP_IOAPIC = 2;

export interface IoeventfdOptions {
  /** Port I/O instead of MMIO. */
  pio?: boolean;
  /** Only writes of this value signal the eventfd. */
  datamatch?: bigint | number;
}

const TWO_POW_32 = 0x1_0000_0000;

export class KvmVm {
  readonly fd: number;
  private readonly ram: RamSlot[] = [];
  private readonly b: KvmBinding = kvmBinding();

  constructor(readonly kvm: Kvm) {
    this.fd = this.b.createVm(kvm.fd);
  }

  get ramSlots(): readonly RamSlot[] {
    return this.ram;
  }

  /**
   * Maps `size` bytes of anonymous memory and makes it guest RAM at
   * `guestAddress` in the next free slot. Both must be page aligned.
   */
  addRam(guestAddress: number, size: number): RamSlot {
    if (guestAddress % 4096 !== 0 || size % 4096 !== 0 || size <= 0) {
      throw new RangeError(`RAM at 0x${guestAddress.toString(16)}+0x${size.toString(16)} is not page aligned`);
    }
    const buffer = this.b.mmapRam(size);
    const slot = this.ram.length;
    try {
      this.b.setUserMemoryRegion(this.fd, slot, 0, guestAddress, buffer);
    } catch (e) {
      this.b.releaseMapping(buffer);
      throw e;
    }
    const region = { slot, guestAddress, buffer };
    this.ram.push(region);
    return region;
  }

  /** The three pages KVM needs for its real-mode TSS on Intel; outside RAM. */
  setTssAddr(address: number): void {
    this.b.setTssAddr(this.fd, address);
  }

  /** One page for the identity-mapped page table KVM uses for real mode on Intel without EPT unrestricted guest. */
  setIdentityMapAddr(address: number): void {
    this.b.setIdentityMapAddr(this.fd, address);
  }

  /** In-kernel PIC, IOAPIC and per-vCPU LAPICs. Before creating vCPUs. */
  createIrqchip(): void {
    this.b.createIrqchip(this.fd);
  }

  /** In-kernel i8254 PIT; the speaker port is left to userspace as a dummy. */
  createPit2(): void {
    this.b.createPit2(this.fd, this.b.flags.PIT_SPEAKER_DUMMY);
  }

  irqLine(gsi: number, level: boolean): void {
    this.b.irqLine(this.fd, gsi, level ? 1 : 0);
  }

  /** Returns false when the guest has the interrupt masked/blocked. */
  signalMsi(address: number, data: number): boolean {
    const lo = address % TWO_POW_32;
    const hi = Math.floor(address / TWO_POW_32);
    return this.b.signalMsi(this.fd, lo, hi, data >>> 0) > 0;
  }

  /** Replaces the whole GSI routing table (KVM_SET_GSI_ROUTING). */
  setGsiRouting(routes: readonly GsiRoute[]): void {
    const size = this.b.structSizes.irqRoutingEntry;
    const raw = new Uint8Array(routes.length * size);
    const dv = new DataView(raw.buffer);
    routes.forEach((r, i) => {
      const off = i * size;
      dv.setUint32(off, r.gsi, true);
      if (r.kind === 'irqchip') {
        dv.setUint32(off + 4, this.b.flags.IRQ_ROUTING_IRQCHIP, true);
        dv.setUint32(off + 16, r.irqchip, true);
        dv.setUint32(off + 20, r.pin, true);
      } else {
        dv.setUint32(off + 4, this.b.flags.IRQ_ROUTING_MSI, true);
        dv.setUint32(off + 16, r.address % TWO_POW_32, true);
        dv.setUint32(off + 20, Math.floor(r.address / TWO_POW_32), true);
        dv.setUint32(off + 24, r.data >>> 0, true);
      }
    });
    this.b.setGsiRouting(this.fd, raw);
  }

  /** Writing the eventfd raises `gsi` (irqfd); `resampleFd` makes it level-triggered with EOI notification. */
  attachIrqfd(eventFd: number, gsi: number, resampleFd?: number): void {
    const flags = resampleFd === undefined ? 0 : this.b.flags.IRQFD_RESAMPLE;
    this.b.irqfd(this.fd, eventFd, gsi, flags, resampleFd ?? 0);
  }

  detachIrqfd(eventFd: number, gsi: number): void {
    this.b.irqfd(this.fd, eventFd, gsi, this.b.flags.IRQFD_DEASSIGN);
  }

  /** Guest writes to [address, address+length) signal the eventfd instead of exiting. */
  attachIoeventfd(eventFd: number, address: number, length: number, options: IoeventfdOptions = {}): void {
    this.b.ioeventfd(this.fd, eventFd, address, length, this.ioeventfdFlags(options), options.datamatch ?? 0);
  }

  detachIoeventfd(eventFd: number, address: number, length: number, options: IoeventfdOptions = {}): void {
    const flags = this.ioeventfdFlags(options) | this.b.flags.IOEVENTFD_DEASSIGN;
    this.b.ioeventfd(this.fd, eventFd, address, length, flags, options.datamatch ?? 0);
  }

  private ioeventfdFlags(options: IoeventfdOptions): number {
    let flags = 0;
    if (options.pio) flags |= this.b.flags.IOEVENTFD_PIO;
    if (options.datamatch !== undefined) flags |= this.b.flags.IOEVENTFD_DATAMATCH;
    return flags;
  }

  /** Unmaps RAM (detaching every view of it) and closes the VM fd. vCPUs must be destroyed first. */
  destroy(): void {
    this.b.closeFd(this.fd);
    for (const r of this.ram) this.b.releaseMapping(r.buffer);
    this.ram.length = 0;
  }
}

/** eventfd helpers for ioeventfd/irqfd users (the event loop polls these fds). */
export const eventfd = {
  create(options: { nonBlocking?: boolean; semaphore?: boolean; initialValue?: number } = {}): number {
    const flags = (options.nonBlocking ? 1 : 0) | (options.semaphore ? 2 : 0);
    return kvmBinding().eventfdCreate(options.initialValue ?? 0, flags);
  },
  /** The counter (reset to zero), or null when a non-blocking eventfd has nothing. */
  read(fd: number): bigint | null {
    return kvmBinding().eventfdRead(fd);
  },
  write(fd: number, value: bigint | number = 1): void {
    kvmBinding().eventfdWrite(fd, value);
  },
  close(fd: number): void {
    kvmBinding().closeFd(fd);
  },
};

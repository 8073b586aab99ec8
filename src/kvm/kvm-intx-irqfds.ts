/**
 * Level-triggered INTx lines (PCI) through irqfds with a resample fd
 * (KVM_IRQFD_FLAG_RESAMPLE), so raising one is an eventfd write rather than a
 * KVM_IRQ_LINE ioctl from the machine thread, and lowering one costs nothing.
 *
 * KVM holds the pin high for the irqfd until the guest EOIs its vector at the
 * IOAPIC; then it lowers the pin itself and signals the resample fd. What
 * happens next is the device's call: if its line is still asserted (a new
 * completion came in, or the guest's handler EOIed without clearing the
 * cause), the irqfd is written again and the guest gets another interrupt;
 * if the device lowered its line meanwhile, nothing is done. A device's
 * set(false) therefore only records the level: the pin is lowered at the EOI
 * that follows, which is when a level-triggered IOAPIC would look at it again.
 *
 * Edge-triggered lines (ISA devices, virtio-mmio) stay on KVM_IRQ_LINE: an
 * edge vector's EOI does not reach the IOAPIC, so a resampled pin would stay
 * high and swallow every later edge.
 */
import { InterruptLine } from '../devices/irq';
import { FdWatch, FdWatchBinding, fdWatchBinding, watchFd } from './fd-watch';
import { KvmVm, eventfd } from './vm';

interface Wire {
  readonly gsi: number;
  readonly triggerFd: number;
  readonly resampleFd: number;
  readonly watch: FdWatch;
  level: boolean;
}

export class KvmIntxIrqfds {
  private readonly wires = new Map<number, Wire>();
  /** Eventfd writes that raised a pin, resamples included (tests use them to tell the paths apart). */
  raised = 0;
  /** EOIs KVM reported through a resample fd. */
  resamples = 0;

  private constructor(private readonly vm: KvmVm, private readonly w: FdWatchBinding) {}

  /** Undefined when the addon cannot watch fds (the caller keeps KVM_IRQ_LINE). */
  static create(vm: KvmVm): KvmIntxIrqfds | undefined {
    const b = fdWatchBinding();
    return b ? new KvmIntxIrqfds(vm, b) : undefined;
  }

  /** The level-triggered line of `gsi` (an IOAPIC pin); one owner per GSI, as shared wires are OR-ed before here. */
  line(gsi: number): InterruptLine {
    if (this.wires.has(gsi)) throw new Error(`GSI ${gsi} already has a level-triggered line`);
    const wire = this.bind(gsi);
    this.wires.set(gsi, wire);
    return {
      set: (level) => {
        wire.level = level;
        if (level) this.raise(wire);
      },
    };
  }

  /** Before the VM fd closes. */
  destroy(): void {
    for (const wire of this.wires.values()) {
      wire.watch.close();
      try { this.vm.detachIrqfd(wire.triggerFd, wire.gsi); } finally {
        eventfd.close(wire.triggerFd);
        eventfd.close(wire.resampleFd);
      }
    }
    this.wires.clear();
  }

  private raise(wire: Wire): void {
    this.raised++;
    eventfd.write(wire.triggerFd, 1);
  }

  private bind(gsi: number): Wire {
    const triggerFd = eventfd.create();
    const resampleFd = eventfd.create({ nonBlocking: true });
    let watch: FdWatch | undefined;
    let attached = false;
    try {
      this.vm.attachIrqfd(triggerFd, gsi, resampleFd);
      attached = true;
      const wire: Wire = {
        gsi, triggerFd, resampleFd, level: false,
        watch: watchFd(this.w, resampleFd, () => {
          if (eventfd.read(resampleFd) === null) return;
          this.resamples++;
          if (wire.level) this.raise(wire);
        }),
      };
      watch = wire.watch;
      watch.start();
      return wire;
    } catch (e) {
      watch?.close();
      if (attached) this.vm.detachIrqfd(triggerFd, gsi);
      eventfd.close(triggerFd);
      eventfd.close(resampleFd);
      throw e;
    }
  }
}

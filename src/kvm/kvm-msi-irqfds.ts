/**
 * MSI delivery through irqfds: each distinct MSI message (address, data) the
 * devices send gets a GSI with a route of type MSI (KVM_SET_GSI_ROUTING) and
 * an eventfd bound to that GSI (KVM_IRQFD); sending the message is then one
 * eventfd write, which KVM turns into the interrupt without our vCPU thread
 * or an ioctl on it.
 *
 * Keyed by message rather than by device vector, so transports stay
 * accelerator-agnostic (MsixTable just sends). A guest that rewrites an
 * MSI-X entry or unmasks one (MsixTable keeps the pending bits and sends at
 * unmask) simply sends a new message, which gets a route of its own; masking
 * never reaches here. The pool is bounded: past its size the least recently
 * used slot is re-pointed at the new message, which rebuilds the table.
 */
import { GsiRoute, IRQCHIP_IOAPIC, IRQCHIP_PIC_MASTER, IRQCHIP_PIC_SLAVE, KvmVm, eventfd } from './vm';

/** The in-kernel IOAPIC has 24 pins; GSIs above are ours. */
const FIRST_MSI_GSI = 24;
const POOL_SIZE = 64;

interface Slot {
  gsi: number;
  fd: number;
  key: string;
  address: number;
  data: number;
}

/**
 * KVM's default routing (arch/x86/kvm/irq_comm.c): GSI 0-15 to both PICs and
 * the IOAPIC, 16-23 to the IOAPIC. KVM_SET_GSI_ROUTING replaces the whole
 * table, so these must be in every table we set or INTx and the PIT break.
 */
function defaultRoutes(): GsiRoute[] {
  const routes: GsiRoute[] = [];
  for (let gsi = 0; gsi < 24; gsi++) {
    if (gsi < 16) routes.push({ gsi, kind: 'irqchip', irqchip: gsi < 8 ? IRQCHIP_PIC_MASTER : IRQCHIP_PIC_SLAVE, pin: gsi % 8 });
    routes.push({ gsi, kind: 'irqchip', irqchip: IRQCHIP_IOAPIC, pin: gsi });
  }
  return routes;
}

export class KvmMsiIrqfds {
  /** Most recently used last. */
  private readonly slots = new Map<string, Slot>();
  private nextGsi = FIRST_MSI_GSI;
  /** Messages sent through an irqfd (tests use it to tell the paths apart). */
  sent = 0;

  constructor(private readonly vm: KvmVm) {}

  signal(address: number, data: number): void {
    const key = `${address}:${data >>> 0}`;
    let slot = this.slots.get(key);
    if (slot) {
      this.slots.delete(key);
    } else {
      slot = this.takeSlot(key, address, data >>> 0);
      this.vm.setGsiRouting([...defaultRoutes(), ...[...this.slots.values(), slot].map((s): GsiRoute => ({ gsi: s.gsi, kind: 'msi', address: s.address, data: s.data }))]);
    }
    this.slots.set(key, slot);
    this.sent++;
    eventfd.write(slot.fd, 1);
  }

  destroy(): void {
    for (const s of this.slots.values()) {
      try { this.vm.detachIrqfd(s.fd, s.gsi); } finally { eventfd.close(s.fd); }
    }
    this.slots.clear();
  }

  private takeSlot(key: string, address: number, data: number): Slot {
    if (this.slots.size < POOL_SIZE) {
      const gsi = this.nextGsi++;
      const fd = eventfd.create();
      try {
        // Bound before its route exists: KVM resolves the route at each injection, and the
        // routing update that follows covers this GSI.
        this.vm.attachIrqfd(fd, gsi);
      } catch (e) {
        eventfd.close(fd);
        throw e;
      }
      return { gsi, fd, key, address, data };
    }
    const oldest = this.slots.values().next();
    if (oldest.done) throw new Error('MSI irqfd pool is empty'); // POOL_SIZE > 0: cannot happen
    this.slots.delete(oldest.value.key);
    return { ...oldest.value, key, address, data };
  }
}

/**
 * The APIC bus: how interrupt messages from the IOAPIC, from MSIs and from
 * inter-processor interrupts (ICR writes) reach local APICs, and how a local
 * APIC's EOI for a level-triggered vector reaches the IOAPIC. It resolves
 * xAPIC destinations (physical ID, logical flat/cluster, broadcast, the ICR
 * shorthands) and picks one target for lowest-priority delivery.
 */

export const DELIVERY_FIXED = 0;
export const DELIVERY_LOWEST_PRIORITY = 1;
export const DELIVERY_SMI = 2;
export const DELIVERY_NMI = 4;
export const DELIVERY_INIT = 5;
export const DELIVERY_STARTUP = 6;
export const DELIVERY_EXTINT = 7;

export const SHORTHAND_NONE = 0;
export const SHORTHAND_SELF = 1;
export const SHORTHAND_ALL_INCLUDING_SELF = 2;
export const SHORTHAND_ALL_EXCLUDING_SELF = 3;

/** Physical destination 0xff (and logical 0xff) addresses every APIC in xAPIC mode. */
export const APIC_BROADCAST_ID = 0xff;

export interface ApicMessage {
  vector: number;
  deliveryMode: number;
  /** Logical destination mode (else physical). */
  logical: boolean;
  /** 8-bit xAPIC destination. */
  dest: number;
  /** Level-triggered (the target sets TMR and broadcasts EOI). */
  levelTriggered: boolean;
  /** Level: assert (true) or de-assert; an INIT de-assert is a no-op for modern CPUs. */
  assert: boolean;
  shorthand: number;
}

/** What the bus needs from a local APIC. */
export interface ApicBusTarget {
  readonly index: number;
  matchesDestination(dest: number, logical: boolean): boolean;
  /** Task priority, for lowest-priority arbitration. */
  arbitrationPriority(): number;
  /** Whether the APIC takes fixed/lowest-priority interrupts (enabled in hardware and software). */
  acceptsFixed(): boolean;
  accept(msg: ApicMessage): void;
}

export class ApicBus {
  private readonly targets: ApicBusTarget[] = [];
  private readonly eoiListeners: ((vector: number) => void)[] = [];

  attach(target: ApicBusTarget): void {
    this.targets.push(target);
  }

  /** Called for every EOI of a level-triggered vector (the IOAPIC clears remote IRR). */
  onEoiBroadcast(listener: (vector: number) => void): void {
    this.eoiListeners.push(listener);
  }

  broadcastEoi(vector: number): void {
    for (const l of this.eoiListeners) l(vector);
  }

  /** Deliver a message; `source` is the sender for ICR shorthands. */
  deliver(msg: ApicMessage, source?: ApicBusTarget): void {
    const recipients = this.resolve(msg, source);
    if (msg.deliveryMode === DELIVERY_LOWEST_PRIORITY && recipients.length > 1) {
      this.lowestPriority(recipients).accept(msg);
      return;
    }
    for (const r of recipients) r.accept(msg);
  }

  /**
   * An MSI: address 0xFEExxxxx with destination ID in bits 19:12 and the
   * destination mode in bit 2; data holds vector, delivery mode and trigger.
   * Writes outside the 0xFEE00000 window are not interrupts and are dropped.
   */
  deliverMsi(address: number, data: number): boolean {
    if (!Number.isFinite(address) || Math.floor(address / 0x100000) !== 0xfee) return false;
    const d = Number.isFinite(data) ? data >>> 0 : 0;
    this.deliver({
      vector: d & 0xff,
      deliveryMode: (d >> 8) & 7,
      logical: (address & 0x4) !== 0,
      dest: (address >>> 12) & 0xff,
      levelTriggered: (d & 0x8000) !== 0,
      assert: true,
      shorthand: SHORTHAND_NONE,
    });
    return true;
  }

  private resolve(msg: ApicMessage, source?: ApicBusTarget): ApicBusTarget[] {
    switch (msg.shorthand) {
      case SHORTHAND_SELF:
        return source ? [source] : [];
      case SHORTHAND_ALL_INCLUDING_SELF:
        return [...this.targets];
      case SHORTHAND_ALL_EXCLUDING_SELF:
        return this.targets.filter((t) => t !== source);
      default:
        return this.targets.filter((t) => t.matchesDestination(msg.dest, msg.logical));
    }
  }

  private lowestPriority(candidates: ApicBusTarget[]): ApicBusTarget {
    // Prefer APICs that would take the interrupt at all, then the lowest task priority; ties go to the lowest index.
    let best: ApicBusTarget | undefined;
    for (const c of candidates) {
      if (!c.acceptsFixed()) continue;
      if (!best || c.arbitrationPriority() < best.arbitrationPriority()) best = c;
    }
    return best ?? candidates[0];
  }
}

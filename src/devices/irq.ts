/**
 * How devices raise interrupts without knowing the accelerator. A device gets
 * an InterruptLine bound to its GSI; the machine wires it to KVM_IRQ_LINE
 * (KVM's in-kernel PIC/IOAPIC) or to the software PIC/IOAPIC (TCG).
 */
export interface InterruptLine {
  /** Drive a level-triggered line; edge-triggered users call set(true) then set(false). */
  set(level: boolean): void;
}

/** Where interrupt lines and MSIs end up: one per machine. */
export interface InterruptRouter {
  setIrq(gsi: number, level: boolean): void;
  /** Deliver a message-signalled interrupt (PCI MSI/MSI-X). */
  signalMsi(address: number, data: number): void;
}

export function lineFor(router: InterruptRouter, gsi: number): InterruptLine {
  return { set: (level) => router.setIrq(gsi, level) };
}

/** A line that records its level, for device unit tests. */
export class RecordingLine implements InterruptLine {
  level = false;
  edges = 0;
  set(level: boolean): void {
    if (level && !this.level) this.edges++;
    this.level = level;
  }
}

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
  /**
   * A level-triggered line (PCI INTx) the interrupt controller may lower by
   * itself when the guest EOIs, asking the device again (KVM's resample
   * irqfds). Absent where setIrq serves level lines as well.
   */
  levelTriggeredLine?(gsi: number): InterruptLine;
}

export function lineFor(router: InterruptRouter, gsi: number): InterruptLine {
  return { set: (level) => router.setIrq(gsi, level) };
}

/** The router's own level-triggered line for `gsi` where it has one, else a setIrq line. */
export function levelTriggeredLineFor(router: InterruptRouter, gsi: number): InterruptLine {
  return router.levelTriggeredLine?.(gsi) ?? lineFor(router, gsi);
}

/**
 * Lines several devices share, as PCI INTx wires are (four wires for 32
 * slots): a wire is asserted while any device on it asserts, like an
 * open-drain line on a board. Each device gets a line of its own; the wire's
 * line sees only the OR, and only its changes.
 */
export class SharedIrqWires {
  private readonly wires = new Map<number, { line: InterruptLine; asserted: number }>();

  constructor(private readonly wireFor: (gsi: number) => InterruptLine) {}

  connect(gsi: number): InterruptLine {
    let wire = this.wires.get(gsi);
    if (!wire) {
      wire = { line: this.wireFor(gsi), asserted: 0 };
      this.wires.set(gsi, wire);
    }
    const shared = wire;
    let level = false;
    return {
      set: (next) => {
        if (next === level) return;
        level = next;
        shared.asserted += next ? 1 : -1;
        if (shared.asserted === (next ? 1 : 0)) shared.line.set(next);
      },
    };
  }
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

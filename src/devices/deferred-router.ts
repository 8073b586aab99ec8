/**
 * An InterruptRouter whose target is attached later. Devices are created
 * before the accelerator is chosen (KVM's in-kernel irqchip or the software
 * PIC/IOAPIC), so they get lines bound to this and the machine attaches the
 * real router once the accelerator exists. Interrupts raised before that are
 * remembered as levels and replayed.
 */
import { InterruptLine, InterruptRouter, levelTriggeredLineFor, lineFor } from './irq';

export class DeferredInterruptRouter implements InterruptRouter {
  private target: InterruptRouter | undefined;
  private readonly earlyLevels = new Map<number, boolean>();

  attach(target: InterruptRouter): void {
    this.target = target;
    for (const [gsi, level] of this.earlyLevels) target.setIrq(gsi, level);
    this.earlyLevels.clear();
  }

  setIrq(gsi: number, level: boolean): void {
    if (this.target) this.target.setIrq(gsi, level);
    else this.earlyLevels.set(gsi, level);
  }

  /** The target's own level-triggered line once attached; before that, a setIrq line (levels replayed at attach). */
  levelTriggeredLine(gsi: number): InterruptLine {
    return this.target ? levelTriggeredLineFor(this.target, gsi) : lineFor(this, gsi);
  }

  signalMsi(address: number, data: number): void {
    // An MSI before the accelerator exists has nowhere to go; a driver cannot be running yet.
    this.target?.signalMsi(address, data);
  }
}

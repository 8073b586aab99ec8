/**
 * The contract between the interrupt controllers and the software CPU, and
 * its implementation for one vCPU: its local APIC plus, on the BSP, the PIC
 * behind LINT0 (virtual wire) or behind an APIC disabled in hardware.
 */
import { APIC_SVR, Lapic } from './lapic';
import { PicPair } from './pic';
import { InterruptChanges } from './cpu-interrupt-port';

export interface CpuInterruptSource {
  /** Bumped on every change that can make an interrupt deliverable (see InterruptChanges). */
  readonly changes?: InterruptChanges;
  /** True when an external interrupt is deliverable if RFLAGS.IF=1 (LAPIC with PPR rules, or PIC via LINT0 ExtINT / no LAPIC). */
  hasPendingInterrupt(): boolean;
  /** The CPU takes the interrupt: returns the vector and moves it to in-service (IRR->ISR). Call only after hasPendingInterrupt(). */
  acknowledgeInterrupt(): number;
  /** NMI pending (LINT1/ICR NMI); taking it clears the latch. */
  takeNmi(): boolean;
  /** INIT / SIPI for AP bring-up: the CPU polls these when it is in wait-for-SIPI state. */
  takeInit(): boolean;
  takeStartup(): number | undefined; // SIPI vector
  /** CR8 <-> TPR. */
  getTpr(): number;
  setTpr(value: number): void;
}

/** The APIC MSRs the CPU forwards: IA32_APIC_BASE (0x1b) and IA32_TSC_DEADLINE (0x6e0). */
export interface CpuApicMsrs {
  /** The value, or undefined when the MSR is not the APIC's (the CPU handles it or raises #GP). */
  readMsr(index: number): bigint | undefined;
  /** False when the CPU must raise #GP (not an APIC MSR, reserved bits, x2APIC enable). */
  writeMsr(index: number, value: bigint): boolean;
}

export class VcpuInterruptSource implements CpuInterruptSource, CpuApicMsrs {
  /** The LAPIC's count, which the PIC wired to this vCPU bumps too. */
  readonly changes: InterruptChanges;

  /** `pic` only for the vCPU whose LINT0 the PIC's INTR is wired to (the BSP). */
  constructor(readonly lapic: Lapic, private readonly pic?: PicPair) {
    this.changes = lapic.changes;
    if (pic !== undefined) pic.changes = lapic.changes;
  }

  private picDeliverable(): boolean {
    const pic = this.pic;
    return pic !== undefined && pic.hasInterrupt() && (this.lapic.acceptsPicInterrupts() || this.lapic.extIntPending);
  }

  hasPendingInterrupt(): boolean {
    // ExtINT bypasses the APIC's priority logic, so the PIC is asked first (as KVM does).
    return this.picDeliverable() || this.lapic.hasDeliverableInterrupt();
  }

  acknowledgeInterrupt(): number {
    if (this.picDeliverable()) {
      this.lapic.extIntPending = false;
      return (this.pic as PicPair).acknowledge();
    }
    const v = this.lapic.acknowledge();
    // Called with nothing deliverable: the APIC answers with its spurious vector, which needs no EOI.
    return v >= 0 ? v : this.lapic.readRegister(APIC_SVR) & 0xff;
  }

  takeNmi(): boolean {
    return this.lapic.takeNmi();
  }

  takeInit(): boolean {
    return this.lapic.takeInit();
  }

  takeStartup(): number | undefined {
    return this.lapic.takeStartup();
  }

  /** CR8 holds TPR bits 7:4. */
  getTpr(): number {
    return this.lapic.getTaskPriority() >> 4;
  }

  setTpr(value: number): void {
    this.lapic.setTaskPriority((value & 0xf) << 4);
  }

  readMsr(index: number): bigint | undefined {
    return this.lapic.readMsr(index);
  }

  writeMsr(index: number, value: bigint): boolean {
    return this.lapic.writeMsr(index, value);
  }
}

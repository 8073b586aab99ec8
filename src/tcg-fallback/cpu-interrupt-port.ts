/**
 * What the CPU needs from the interrupt controllers (the LAPIC helper's
 * CpuInterruptSource in interrupt-source.ts has exactly this shape; it is
 * repeated here so the CPU compiles on its own and stays structurally typed).
 */
/**
 * Counts changes in an interrupt controller that can make an interrupt
 * deliverable to its CPU: a request accepted, an NMI latched, a register or
 * MSR written (priority, EOI, masks, enables), the PIC's output rising or
 * falling, a restore. While the count stands where it was when nothing was
 * deliverable, the CPU need not ask again (Cpu.takeInterrupt): it asks at
 * every block boundary, which is most of the time nothing.
 */
export class InterruptChanges {
  count = 0;
}

export interface CpuInterruptSource {
  /** When present, bumped on every change that can make an interrupt deliverable (see InterruptChanges). */
  readonly changes?: InterruptChanges;
  /** An interrupt is deliverable if RFLAGS.IF = 1. */
  hasPendingInterrupt(): boolean;
  /** Vector of the highest-priority pending interrupt; moves it from IRR to ISR. */
  acknowledgeInterrupt(): number;
  takeNmi(): boolean;
  takeInit(): boolean;
  /** SIPI vector, if a startup IPI arrived. */
  takeStartup(): number | undefined;
  getTpr(): number;
  setTpr(value: number): void;
}

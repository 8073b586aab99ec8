/**
 * What the CPU needs from the interrupt controllers (the LAPIC helper's
 * CpuInterruptSource in interrupt-source.ts has exactly this shape; it is
 * repeated here so the CPU compiles on its own and stays structurally typed).
 */
export interface CpuInterruptSource {
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

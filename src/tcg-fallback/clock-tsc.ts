/**
 * The guest's time-stamp counter, derived from the VirtualClock so RDTSC,
 * the PIT (which Linux calibrates the TSC against) and the LAPIC's
 * TSC-deadline timer all agree. The CPU uses read()/write() for RDTSC and
 * IA32_TSC; the LAPIC converts deadlines with nsAt().
 */
import { VirtualClock } from './clock';

export const DEFAULT_TSC_HZ = 2_000_000_000;

export interface TscState {
  offset: string; // bigint as decimal: JSON has no bigint
}

export class TscClock {
  /** TSC value = floor(virtual ns * hz / 1e9) + offset. */
  private offset = 0n;
  readonly hz: number;
  private readonly hzBig: bigint;

  constructor(private readonly clock: VirtualClock, hz: number = DEFAULT_TSC_HZ) {
    this.hz = Number.isFinite(hz) && hz >= 1_000_000 ? Math.trunc(hz) : DEFAULT_TSC_HZ;
    this.hzBig = BigInt(this.hz);
  }

  read(): bigint {
    return this.tscAt(this.clock.now());
  }

  /** A guest write to IA32_TSC: moves the offset, not the clock. */
  write(value: bigint): void {
    const v = BigInt.asUintN(64, value);
    this.offset = v - this.ticksAt(this.clock.now());
  }

  tscAt(ns: number): bigint {
    return BigInt.asUintN(64, this.ticksAt(ns) + this.offset);
  }

  /** The virtual time at which the TSC reaches `tsc` (the past if it already has). */
  nsAt(tsc: bigint): number {
    const ticks = BigInt.asUintN(64, tsc) - this.offset;
    if (ticks <= 0n) return 0;
    // ceil(ticks * 1e9 / hz) so the timer never fires before the TSC reads >= deadline.
    const ns = (ticks * 1_000_000_000n + this.hzBig - 1n) / this.hzBig;
    return Number(ns);
  }

  private ticksAt(ns: number): bigint {
    const whole = Math.floor(ns);
    return (BigInt(whole) * this.hzBig) / 1_000_000_000n;
  }

  save(): TscState {
    return { offset: this.offset.toString() };
  }

  restore(state: TscState): void {
    try {
      this.offset = BigInt(state.offset);
    } catch {
      this.offset = 0n;
    }
  }
}

/**
 * Where guest time comes from under the software CPU: the instructions it
 * retires while it runs, host time while every vCPU is idle.
 *
 * Following host time while running (the first design) ties the guest's
 * timer tick to the host's clock: 250 ticks per host second, each a few
 * thousand guest instructions of scheduler and timekeeping work, which on a
 * CPU a hundred times slower than hardware ate a fifth of a Linux boot, and
 * made the guest's watchdogs ("hrtimer: interrupt took 24 ms", the
 * clocksource watchdog) see a CPU that keeps stalling. Counting instructions
 * instead (as QEMU's -icount does) gives the guest the view of a steady CPU
 * at INSTRUCTIONS_PER_SECOND: ticks cost what they cost on hardware, and
 * busy-wait delays (udelay) take the instructions they take on hardware.
 *
 * While every vCPU is halted no instructions retire, so time would stop and
 * a sleeping guest would never wake: then guest time follows the host, so
 * `sleep 1` in an idle guest takes one host second and an idle guest costs
 * no host CPU (QEMU's icount with sleep=on behaves the same way).
 *
 * Before attach() (and under KVM, which never attaches) it is plain host time.
 */
import { HostTimeSource, hostMonotonicNs } from './clock';

/** The rate guest time assumes: an in-order CPU near 1 instruction per cycle at the TSC's 2 GHz. */
export const INSTRUCTIONS_PER_SECOND = 2e9;

export class GuestTime {
  private retired: (() => number) | undefined;
  private nsPerInstruction = 1e9 / INSTRUCTIONS_PER_SECOND;
  private baseNs = 0;
  private markRetired = 0;
  private markHost: number;
  private idle = true;

  constructor(private readonly host: HostTimeSource = hostMonotonicNs) {
    this.markHost = host();
  }

  /** Guest nanoseconds, monotonic; the VirtualClock's source. */
  readonly now: HostTimeSource = () => {
    if (this.retired === undefined || this.idle) return this.baseNs + (this.host() - this.markHost);
    return this.baseNs + (this.retired() - this.markRetired) * this.nsPerInstruction;
  };

  /** From now on, running time is counted in instructions (`retired`: the machine's total so far, monotonic). */
  attach(retired: () => number, instructionsPerSecond = INSTRUCTIONS_PER_SECOND): void {
    this.rebase();
    this.retired = retired;
    this.nsPerInstruction = 1e9 / instructionsPerSecond;
    this.idle = true;
    this.rebase();
  }

  get countsInstructions(): boolean {
    return this.retired !== undefined;
  }

  /** Every vCPU halted: follow the host until one runs again. */
  enterIdle(): void {
    if (this.idle) return;
    this.rebase();
    this.idle = true;
  }

  /** A vCPU ran: count its instructions again. */
  leaveIdle(): void {
    if (!this.idle) return;
    this.rebase();
    this.idle = false;
  }

  /**
   * Instructions to retire before `ns` guest nanoseconds pass, while time
   * counts instructions; undefined while it follows the host.
   */
  instructionsFor(ns: number): number | undefined {
    if (this.retired === undefined || this.idle) return undefined;
    return Math.ceil(ns / this.nsPerInstruction);
  }

  /** Folds the time so far into baseNs and restarts both marks, so switching modes never jumps. */
  private rebase(): void {
    this.baseNs = this.now();
    this.markHost = this.host();
    if (this.retired !== undefined) this.markRetired = this.retired();
  }
}

/** TSVISOR_TCG_CLOCK=host keeps guest time on the host clock under the software CPU (the old behaviour, for comparison). */
export function guestTimeFromEnv(): 'instructions' | 'host' {
  return process.env.TSVISOR_TCG_CLOCK === 'host' ? 'host' : 'instructions';
}

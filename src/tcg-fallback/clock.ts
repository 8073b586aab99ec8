/**
 * VirtualClock: the guest's notion of time under the software CPU, and the
 * timer queue the emulated PIT, LAPIC timers and RTC run on.
 *
 * Virtual time is nanoseconds as a plain number (exact to 2^53 ns, about
 * 104 days of guest uptime; numbers keep the per-block check free of BigInt
 * allocation). It follows the host's monotonic clock while the VM runs and
 * stands still while it is paused, so a paused guest sees no time jump and
 * its timers do not all fire on resume.
 *
 * The CPU loop calls runExpired() between translated blocks, so the common
 * case (nothing due) is one comparison against a cached next deadline plus
 * one host clock read.
 */

/** Host monotonic time in nanoseconds. Injected so tests drive time by hand. */
export type HostTimeSource = () => number;

export const hostMonotonicNs: HostTimeSource = () => performance.now() * 1e6;

/** A host time source that only moves when told to, for deterministic tests. */
export class ManualTimeSource {
  ns = 0;
  readonly now: HostTimeSource = () => this.ns;
  advance(ns: number): void {
    this.ns += ns;
  }
}

export interface TimerHandle {
  readonly deadlineNs: number;
  /** False once the timer ran or was cancelled. */
  readonly active: boolean;
}

class Timer implements TimerHandle {
  active = true;
  constructor(readonly deadlineNs: number, readonly seq: number, readonly callback: (nowNs: number) => void) {}
}

export interface VirtualClockState {
  nowNs: number;
}

/** Bounds one runExpired() call so a timer that keeps re-arming in the past cannot hang the CPU loop. */
const MAX_CALLBACKS_PER_RUN = 10_000;

export class VirtualClock {
  private baseNs = 0; // virtual time at the last resume (or pause)
  private hostAtResume = 0;
  private running = false;
  private heap: Timer[] = [];
  private seq = 0;

  constructor(private readonly host: HostTimeSource = hostMonotonicNs) {}

  /** Current virtual time in nanoseconds. */
  now(): number {
    return this.running ? this.baseNs + (this.host() - this.hostAtResume) : this.baseNs;
  }

  isRunning(): boolean {
    return this.running;
  }

  /** Start following host time (the VM starts or continues). */
  resume(): void {
    if (this.running) return;
    this.hostAtResume = this.host();
    this.running = true;
  }

  /** Freeze virtual time (the VM stops). */
  pause(): void {
    if (!this.running) return;
    this.baseNs = this.now();
    this.running = false;
  }

  /**
   * Move virtual time forward by hand, running or paused: tests, and a
   * machine whose vCPUs all halt may skip straight to the next deadline
   * instead of sleeping (the guest cannot tell the difference).
   */
  advance(ns: number): void {
    if (!(ns > 0)) return;
    this.baseNs += ns;
  }

  /** Run `callback(nowNs)` once virtual time reaches `deadlineNs`. */
  schedule(deadlineNs: number, callback: (nowNs: number) => void): TimerHandle {
    const deadline = Number.isFinite(deadlineNs) ? deadlineNs : Number.MAX_VALUE;
    const timer = new Timer(deadline, this.seq++, callback);
    this.push(timer);
    return timer;
  }

  cancel(handle: TimerHandle | undefined): void {
    // Cancelled timers stay in the heap and are skipped when they surface.
    if (handle instanceof Timer) handle.active = false;
  }

  /** Deadline of the earliest active timer, or undefined when none is armed. */
  nextDeadline(): number | undefined {
    this.dropCancelledHead();
    return this.heap.length > 0 ? this.heap[0].deadlineNs : undefined;
  }

  /** Nanoseconds until the next timer (0 if one is due), or undefined. */
  nsUntilNextDeadline(): number | undefined {
    const d = this.nextDeadline();
    return d === undefined ? undefined : Math.max(0, d - this.now());
  }

  /** Runs every timer whose deadline has passed, earliest first. Returns how many ran. */
  runExpired(): number {
    if (this.heap.length === 0) return 0;
    let ran = 0;
    let now = this.now();
    while (this.heap.length > 0 && ran < MAX_CALLBACKS_PER_RUN) {
      const top = this.heap[0];
      if (!top.active) {
        this.pop();
        continue;
      }
      if (top.deadlineNs > now) break;
      this.pop();
      top.active = false;
      top.callback(now);
      ran++;
      now = this.now();
    }
    return ran;
  }

  save(): VirtualClockState {
    return { nowNs: this.now() };
  }

  /** Restores virtual time; devices re-arm their own timers in their restore(). */
  restore(state: VirtualClockState): void {
    const ns = typeof state.nowNs === 'number' && Number.isFinite(state.nowNs) && state.nowNs >= 0 ? state.nowNs : 0;
    this.baseNs = ns;
    this.hostAtResume = this.host();
    for (const t of this.heap) t.active = false;
    this.heap = [];
  }

  // ---- binary min-heap ordered by (deadline, seq) ----

  private less(a: Timer, b: Timer): boolean {
    return a.deadlineNs < b.deadlineNs || (a.deadlineNs === b.deadlineNs && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Timer;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }

  private dropCancelledHead(): void {
    while (this.heap.length > 0 && !this.heap[0].active) this.pop();
  }
}

/**
 * A re-armable single timer on a VirtualClock: what a device holds for each
 * of its counters (arm replaces any earlier deadline).
 */
export class DeviceTimer {
  private handle: TimerHandle | undefined;

  constructor(private readonly clock: VirtualClock, private readonly onExpire: (nowNs: number) => void) {}

  arm(deadlineNs: number): void {
    this.clock.cancel(this.handle);
    this.handle = this.clock.schedule(deadlineNs, (now) => {
      this.handle = undefined;
      this.onExpire(now);
    });
  }

  disarm(): void {
    this.clock.cancel(this.handle);
    this.handle = undefined;
  }

  isArmed(): boolean {
    return this.handle?.active === true;
  }

  deadline(): number | undefined {
    return this.handle?.active ? this.handle.deadlineNs : undefined;
  }
}

/**
 * What a timer-driven legacy device (the CMOS RTC) needs from time: a
 * monotonic nanosecond clock and one-shot timers. The software CPU's
 * VirtualClock provides exactly this; under KVM, HostTimerScheduler does it
 * with the host clock and the event loop.
 */
export interface TimerHandleLike {
  readonly active: boolean;
}

export interface TimerScheduler {
  /** Monotonic nanoseconds (guest-visible time). */
  now(): number;
  schedule(deadlineNs: number, callback: (nowNs: number) => void): TimerHandleLike;
  cancel(handle: TimerHandleLike | undefined): void;
}

class HostTimer implements TimerHandleLike {
  active = true;
  timeout: ReturnType<typeof setTimeout> | undefined;
}

/** Host monotonic time and setTimeout: for devices that run beside KVM on the event loop. */
export class HostTimerScheduler implements TimerScheduler {
  private readonly origin = performance.now();

  now(): number {
    return (performance.now() - this.origin) * 1e6;
  }

  schedule(deadlineNs: number, callback: (nowNs: number) => void): TimerHandleLike {
    const timer = new HostTimer();
    const delayMs = Math.max(0, (deadlineNs - this.now()) / 1e6);
    timer.timeout = setTimeout(() => {
      if (!timer.active) return;
      timer.active = false;
      callback(this.now());
    }, delayMs);
    // Guest timers alone must not keep the process alive.
    timer.timeout.unref?.();
    return timer;
  }

  cancel(handle: TimerHandleLike | undefined): void {
    if (!(handle instanceof HostTimer)) return;
    handle.active = false;
    if (handle.timeout !== undefined) clearTimeout(handle.timeout);
  }
}

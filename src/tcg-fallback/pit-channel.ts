/**
 * One 8254 counter: its count, mode, gate and the byte-wise read/write
 * protocol. Time is virtual nanoseconds; the counter is never stepped, its
 * value is computed from when counting started, so reading it is exact at
 * any moment (Linux calibrates the TSC against these reads).
 */

export const PIT_HZ = 1_193_182;
const NS_PER_S = 1_000_000_000;

export const PIT_ACCESS_LATCH = 0;
export const PIT_ACCESS_LOBYTE = 1;
export const PIT_ACCESS_HIBYTE = 2;
export const PIT_ACCESS_WORD = 3;

/** Whole PIT ticks in `dtNs` nanoseconds (exact: the sub-second part stays below 2^53). */
export function pitTicksIn(dtNs: number): number {
  if (!(dtNs > 0)) return 0;
  const s = Math.floor(dtNs / NS_PER_S);
  const rem = dtNs - s * NS_PER_S;
  return s * PIT_HZ + Math.floor((rem * PIT_HZ) / NS_PER_S);
}

/** Nanoseconds until tick number `ticks` begins (the smallest dt with pitTicksIn(dt) >= ticks). */
export function pitNsForTicks(ticks: number): number {
  if (!(ticks > 0)) return 0;
  const s = Math.floor(ticks / PIT_HZ);
  const rem = ticks - s * PIT_HZ;
  let ns = s * NS_PER_S + Math.ceil((rem * NS_PER_S) / PIT_HZ);
  // Guard against float rounding: a timer set for this tick must see it counted.
  while (pitTicksIn(ns) < ticks) ns++;
  return ns;
}

export function toBcd16(v: number): number {
  let out = 0;
  for (let shift = 0; shift < 16; shift += 4) {
    out |= (v % 10) << shift;
    v = Math.floor(v / 10);
  }
  return out;
}

export function fromBcd16(v: number): number {
  let out = 0;
  for (let shift = 12; shift >= 0; shift -= 4) out = out * 10 + Math.min(9, (v >> shift) & 0xf);
  return out;
}

export interface PitChannelState {
  mode: number;
  access: number;
  bcd: boolean;
  gate: boolean;
  loaded: boolean;
  started: boolean;
  paused: boolean;
  count: number;
  loadTimeNs: number;
  frozenTicks: number;
  writeHighNext: boolean;
  writeLow: number;
  readHighNext: boolean;
  latchedCount: number[];
  latchedStatus: number | null;
  nullCount: boolean;
}

export class PitChannel {
  mode = 0;
  access = PIT_ACCESS_WORD;
  bcd = false;
  gate: boolean;
  /** A count has been written since the last control word. */
  loaded = false;
  /** Counting has begun (modes 1 and 5 wait for a gate trigger). */
  private started = false;
  /** Gate low in a mode where that suspends counting. */
  private paused = false;
  /** Initial count N as a number of ticks (1..65536, or 1..10000 in BCD). */
  count = 0x10000;
  /** Virtual time counting (re)started, and ticks counted before that (across gate pauses). */
  private loadTimeNs = 0;
  private frozenTicks = 0;
  private writeHighNext = false;
  private writeLow = 0;
  private readHighNext = false;
  private latchedCount: number[] = [];
  private latchedStatus: number | null = null;
  private nullCount = true;

  constructor(readonly index: number, gate: boolean) {
    this.gate = gate;
  }

  /** Ticks counted since the count was loaded (or the trigger), at `now`. */
  elapsedTicks(now: number): number {
    if (!this.loaded || !this.started) return 0;
    if (this.paused) return this.frozenTicks;
    return this.frozenTicks + pitTicksIn(now - this.loadTimeNs);
  }

  /** Virtual time at which elapsedTicks reaches `ticks`, or undefined while not counting. */
  timeOfTick(ticks: number): number | undefined {
    if (!this.loaded || !this.started || this.paused) return undefined;
    return this.loadTimeNs + pitNsForTicks(ticks - this.frozenTicks);
  }

  private periodic(): boolean {
    return this.mode === 2 || this.mode === 3;
  }

  /** The counter's current value (binary, before BCD encoding). */
  currentCount(now: number): number {
    if (!this.loaded) return this.count & 0xffff;
    const n = this.count;
    const d = this.elapsedTicks(now);
    const modulus = this.bcd ? 10000 : 0x10000;
    switch (this.mode) {
      case 2:
        return n - (d % n);
      case 3:
        // The square-wave counter decrements by two per tick.
        return n - ((2 * d) % n);
      default:
        return (((n - d) % modulus) + modulus) % modulus;
    }
  }

  /** The OUT pin at `now`. */
  output(now: number): boolean {
    if (!this.loaded) return this.mode !== 0;
    const n = this.count;
    const d = this.elapsedTicks(now);
    switch (this.mode) {
      case 0:
        return this.started && d >= n;
      case 1:
        return !this.started || d >= n;
      case 2:
        // Low for the one tick in which the count is 1.
        return !this.gate || d % n !== n - 1;
      case 3:
        return !this.gate || d % n < Math.ceil(n / 2);
      case 4:
      case 5:
        return !this.started || d !== n;
      default:
        return true;
    }
  }

  /**
   * The next tick at which this counter raises an interrupt on channel 0
   * (the OUT rising edge a PC's IRQ0 reacts to), after `ticks`.
   */
  nextInterruptTick(ticks: number): number | undefined {
    if (!this.loaded || !this.started || this.paused) return undefined;
    const n = this.count;
    if (this.periodic()) return (Math.floor(ticks / n) + 1) * n;
    return ticks < n ? n : undefined;
  }

  /** Whether the interrupt for `tick` keeps OUT high afterwards (modes 0, 1) rather than pulsing. */
  holdsOutputHigh(): boolean {
    return this.mode === 0 || this.mode === 1;
  }

  writeControl(v: number, now: number): void {
    const access = (v >> 4) & 3;
    if (access === PIT_ACCESS_LATCH) {
      this.latchCount(now);
      return;
    }
    this.access = access;
    let mode = (v >> 1) & 7;
    if (mode > 5) mode -= 4; // 6 and 7 are aliases of 2 and 3
    this.mode = mode;
    this.bcd = (v & 1) !== 0;
    this.loaded = false;
    this.started = false;
    this.paused = false;
    this.frozenTicks = 0;
    this.writeHighNext = false;
    this.readHighNext = false;
    this.latchedCount = [];
    this.latchedStatus = null;
    this.nullCount = true;
  }

  /** Counter latch: freeze the current value for the next read(s), unless one is already latched. */
  latchCount(now: number): void {
    if (this.latchedCount.length > 0) return;
    const v = this.encoded(now);
    switch (this.access) {
      case PIT_ACCESS_LOBYTE: this.latchedCount = [v & 0xff]; break;
      case PIT_ACCESS_HIBYTE: this.latchedCount = [v >> 8]; break;
      default: this.latchedCount = [v & 0xff, v >> 8]; break;
    }
  }

  /** Read-back status byte: OUT, null count, access, mode, BCD. */
  latchStatus(now: number): void {
    if (this.latchedStatus !== null) return;
    this.latchedStatus =
      (this.output(now) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.access << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  readData(now: number): number {
    if (this.latchedStatus !== null) {
      const s = this.latchedStatus;
      this.latchedStatus = null;
      return s;
    }
    if (this.latchedCount.length > 0) return this.latchedCount.shift() as number;
    const v = this.encoded(now);
    switch (this.access) {
      case PIT_ACCESS_LOBYTE: return v & 0xff;
      case PIT_ACCESS_HIBYTE: return v >> 8;
      default: {
        const high = this.readHighNext;
        this.readHighNext = !high;
        return high ? v >> 8 : v & 0xff;
      }
    }
  }

  /** Returns true when this write completed a new count (the caller re-arms timers). */
  writeData(v: number, now: number): boolean {
    let value: number;
    switch (this.access) {
      case PIT_ACCESS_LOBYTE: value = v; break;
      case PIT_ACCESS_HIBYTE: value = v << 8; break;
      default:
        if (!this.writeHighNext) {
          this.writeLow = v;
          this.writeHighNext = true;
          return false;
        }
        this.writeHighNext = false;
        value = this.writeLow | (v << 8);
        break;
    }
    this.loadCount(value, now);
    return true;
  }

  private loadCount(raw: number, now: number): void {
    let n = this.bcd ? fromBcd16(raw) : raw & 0xffff;
    if (n === 0) n = this.bcd ? 10000 : 0x10000;
    // Modes 2 and 3 cannot divide by one; treat it as two rather than dividing by zero later.
    if (this.periodic() && n < 2) n = 2;
    this.count = n;
    this.loaded = true;
    this.nullCount = false;
    this.frozenTicks = 0;
    this.loadTimeNs = now;
    // Modes 1 and 5 wait for a gate rising edge; the others count while the gate is high.
    this.started = !(this.mode === 1 || this.mode === 5);
    this.paused = this.started && !this.gate;
  }

  setGate(level: boolean, now: number): void {
    if (level === this.gate) return;
    this.gate = level;
    if (!this.loaded) return;
    if (level) {
      if (this.mode === 1 || this.mode === 5 || this.periodic()) {
        // Rising edge (re)triggers: counting restarts from N.
        this.started = true;
        this.paused = false;
        this.frozenTicks = 0;
        this.loadTimeNs = now;
      } else if (this.paused) {
        this.paused = false;
        this.loadTimeNs = now;
      }
    } else if (this.mode === 0 || this.mode === 4 || this.periodic()) {
      this.frozenTicks = this.elapsedTicks(now);
      this.paused = true;
    }
  }

  private encoded(now: number): number {
    const v = this.currentCount(now) & 0xffff;
    return this.bcd ? toBcd16(v) : v;
  }

  save(): PitChannelState {
    return {
      mode: this.mode, access: this.access, bcd: this.bcd, gate: this.gate, loaded: this.loaded,
      started: this.started, paused: this.paused, count: this.count, loadTimeNs: this.loadTimeNs,
      frozenTicks: this.frozenTicks, writeHighNext: this.writeHighNext, writeLow: this.writeLow,
      readHighNext: this.readHighNext, latchedCount: [...this.latchedCount], latchedStatus: this.latchedStatus,
      nullCount: this.nullCount,
    };
  }

  restore(s: PitChannelState): void {
    const num = (n: unknown, lo: number, hi: number, dflt: number) =>
      typeof n === 'number' && Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.trunc(n))) : dflt;
    this.mode = num(s.mode, 0, 5, 0);
    this.access = num(s.access, 1, 3, 3);
    this.bcd = s.bcd === true;
    this.gate = s.gate !== false;
    this.loaded = s.loaded === true;
    this.started = s.started === true;
    this.paused = s.paused === true;
    this.count = num(s.count, 1, 0x10000, 0x10000);
    if ((this.mode === 2 || this.mode === 3) && this.count < 2) this.count = 2;
    this.loadTimeNs = num(s.loadTimeNs, 0, Number.MAX_SAFE_INTEGER, 0);
    this.frozenTicks = num(s.frozenTicks, 0, Number.MAX_SAFE_INTEGER, 0);
    this.writeHighNext = s.writeHighNext === true;
    this.writeLow = num(s.writeLow, 0, 0xff, 0);
    this.readHighNext = s.readHighNext === true;
    this.latchedCount = (Array.isArray(s.latchedCount) ? s.latchedCount : []).slice(0, 2).map((b) => num(b, 0, 0xff, 0));
    this.latchedStatus = s.latchedStatus === null ? null : num(s.latchedStatus, 0, 0xff, 0);
    this.nullCount = s.nullCount === true;
  }
}

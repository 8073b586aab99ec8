/**
 * MC146818 CMOS real-time clock and its 128 bytes of CMOS memory, at ports
 * 0x70 (index; bit 7 masks NMI) and 0x71 (data), interrupting on ISA IRQ 8.
 *
 * Time is the wall-clock time at start plus the guest-visible monotonic
 * time since (the injected TimerScheduler: the VirtualClock under the
 * software CPU, the host clock under KVM), so a paused guest's clock stops
 * too. The clock runs in UTC, as Linux on x86 VMs expects by default.
 *
 * Time is kept as whole guest seconds anchored to the monotonic clock plus a
 * phase, never as epoch nanoseconds, which a double cannot hold exactly.
 * Register values are computed when read, so there is no per-second work
 * unless the guest enabled update or alarm interrupts.
 */
import { AccessSize, PioDevice } from '../bus';
import { InterruptLine } from '../irq';
import { Logger, defaultLogger } from '../../log';
import { TimerHandleLike, TimerScheduler } from './timer-scheduler';

export const RTC_PORT = 0x70;
export const RTC_PORT_COUNT = 2;
export const RTC_IRQ = 8;
export const CMOS_SIZE = 128;

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
/** Century byte, where QEMU and SeaBIOS keep it (ACPI FADT "century" points here). */
export const RTC_CENTURY = 0x32;

export const REG_A_UIP = 0x80;
const REG_A_RATE_MASK = 0x0f;
/** Divider on (32.768 kHz time base), 1024 Hz periodic rate: the power-on value firmware sets. */
const REG_A_DEFAULT = 0x26;
export const REG_B_SET = 0x80;
export const REG_B_PIE = 0x40;
export const REG_B_AIE = 0x20;
export const REG_B_UIE = 0x10;
export const REG_B_DM_BINARY = 0x04;
export const REG_B_24H = 0x02;
const REG_B_DEFAULT = REG_B_24H;
export const REG_C_IRQF = 0x80;
export const REG_C_PF = 0x40;
export const REG_C_AF = 0x20;
export const REG_C_UF = 0x10;
export const REG_D_VRT = 0x80;
/** Alarm bytes with the top two bits set match any value. */
const ALARM_DONT_CARE = 0xc0;

const NS_PER_S = 1_000_000_000;
/** UIP is set for the last 244 us before each update (plus the ~2 ms update itself on real parts). */
const UIP_WINDOW_NS = 244_000;
const RTC_BASE_HZ = 32_768;

export interface RtcOptions {
  irq: InterruptLine;
  timers: TimerScheduler;
  /** Wall-clock time (ms since the epoch) at the moment the device is created; default Date.now(). */
  startTimeMs?: number;
  log?: Logger;
}

export interface RtcState {
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  regA: number;
  regB: number;
  flags: number;
  /** Guest time at save: whole seconds since the epoch and the fraction. */
  seconds: number;
  fractionNs: number;
}

interface DateFields {
  sec: number; min: number; hour: number; dom: number; month: number; year: number;
}

export class CmosRtc implements PioDevice {
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiMasked = false;
  private regA = REG_A_DEFAULT;
  private regB = REG_B_DEFAULT;
  /** Latched PF/AF/UF bits of register C. */
  private flags = 0;
  /** Guest seconds = baseSeconds + floor((now + phaseNs) / 1e9) while running. */
  private baseSeconds = 0;
  private phaseNs = 0;
  /** Time held while register B's SET bit stops the clock. */
  private frozenSeconds = 0;
  /** Last time register C flags were brought up to date. */
  private flagsCheckedNs: number;
  private irqLevel = false;
  private updateTimer: TimerHandleLike | undefined;
  private periodicTimer: TimerHandleLike | undefined;
  private readonly irq: InterruptLine;
  private readonly timers: TimerScheduler;
  private readonly log: Logger;

  constructor(opts: RtcOptions) {
    this.irq = opts.irq;
    this.timers = opts.timers;
    this.log = opts.log ?? defaultLogger;
    const startMs = opts.startTimeMs ?? Date.now();
    const now = this.timers.now();
    this.anchor(Math.floor(startMs / 1000), Math.round((startMs % 1000) * 1e6), now);
    this.flagsCheckedNs = now;
  }

  // ---- the machine's side ----

  /** Firmware-visible CMOS bytes (memory sizes, boot order, ...). Clock registers cannot be set this way. */
  setCmosByte(index: number, value: number): boolean {
    if (!Number.isInteger(index) || index < RTC_REG_D + 1 || index >= CMOS_SIZE || index === RTC_CENTURY) return false;
    this.cmos[index] = value & 0xff;
    return true;
  }

  getCmosByte(index: number): number {
    return Number.isInteger(index) && index >= 0 && index < CMOS_SIZE ? this.readRegister(index, false) : 0xff;
  }

  /** Guest time as seconds since the epoch (for QMP query-rtc style reporting). */
  guestSeconds(): number {
    return this.secondsAt(this.timers.now());
  }

  // ---- ports ----

  pioRead(offset: number, _size: AccessSize): number {
    if (offset === 1) return this.readRegister(this.index, true);
    return 0xff; // the index port is write-only
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    const v = (Number.isFinite(value) ? value : 0) & 0xff;
    if (offset === 0) {
      this.index = v & 0x7f;
      this.nmiMasked = (v & 0x80) !== 0;
    } else if (offset === 1) {
      this.writeRegister(this.index, v);
    }
  }

  /** NMI mask bit from the last index write (NMIs are not generated in this VM; kept for snapshots and tests). */
  isNmiMasked(): boolean {
    return this.nmiMasked;
  }

  // ---- time keeping ----

  private setMode(): boolean {
    return (this.regB & REG_B_SET) !== 0;
  }

  /** Anchor the running clock so that it reads `seconds` + `fractionNs` at monotonic time `now`. */
  private anchor(seconds: number, fractionNs: number, now: number): void {
    const frac = Math.min(NS_PER_S - 1, Math.max(0, Math.trunc(fractionNs)));
    this.phaseNs = (((frac - now) % NS_PER_S) + NS_PER_S) % NS_PER_S;
    this.baseSeconds = seconds - Math.floor((now + this.phaseNs) / NS_PER_S);
    this.frozenSeconds = seconds;
  }

  private secondsAt(now: number): number {
    if (this.setMode()) return this.frozenSeconds;
    return this.baseSeconds + Math.floor((now + this.phaseNs) / NS_PER_S);
  }

  private fractionAt(now: number): number {
    return (now + this.phaseNs) % NS_PER_S;
  }

  /** Monotonic time of the first update (second boundary) after `now`. */
  private nextUpdateAt(now: number): number {
    return now + (NS_PER_S - this.fractionAt(now));
  }

  private fields(seconds: number): DateFields {
    const d = new Date(seconds * 1000);
    return {
      sec: d.getUTCSeconds(), min: d.getUTCMinutes(), hour: d.getUTCHours(),
      dom: d.getUTCDate(), month: d.getUTCMonth() + 1, year: d.getUTCFullYear(),
    };
  }

  // ---- register encoding ----

  private binary(): boolean {
    return (this.regB & REG_B_DM_BINARY) !== 0;
  }

  private encode(v: number): number {
    return this.binary() ? v & 0xff : (((Math.floor(v / 10) % 10) << 4) | (v % 10)) & 0xff;
  }

  private decode(v: number): number {
    return this.binary() ? v : ((v >> 4) & 0xf) * 10 + (v & 0xf);
  }

  private encodeHour(h: number): number {
    if (this.regB & REG_B_24H) return this.encode(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | (h >= 12 ? 0x80 : 0);
  }

  private decodeHour(v: number): number {
    if (this.regB & REG_B_24H) return this.decode(v);
    const h12 = this.decode(v & 0x7f) % 12;
    return h12 + (v & 0x80 ? 12 : 0);
  }

  // ---- registers ----

  private readRegister(index: number, guestRead: boolean): number {
    const now = this.timers.now();
    switch (index) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_WEEK:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case RTC_CENTURY:
        return this.readTimeRegister(index, this.secondsAt(now));
      case RTC_REG_A: {
        const uip = !this.setMode() && this.fractionAt(now) >= NS_PER_S - UIP_WINDOW_NS;
        return (this.regA & 0x7f) | (uip ? REG_A_UIP : 0);
      }
      case RTC_REG_B:
        return this.regB;
      case RTC_REG_C: {
        this.catchUpFlags(now);
        const v = this.flags | (this.irqFlag() ? REG_C_IRQF : 0);
        if (guestRead) {
          this.flags = 0;
          this.updateIrq();
        }
        return v;
      }
      case RTC_REG_D:
        return REG_D_VRT; // the battery is fine
      default:
        return this.cmos[index & 0x7f];
    }
  }

  private readTimeRegister(index: number, seconds: number): number {
    const f = this.fields(seconds);
    switch (index) {
      case RTC_SECONDS: return this.encode(f.sec);
      case RTC_MINUTES: return this.encode(f.min);
      case RTC_HOURS: return this.encodeHour(f.hour);
      case RTC_DAY_OF_WEEK: return this.encode(new Date(seconds * 1000).getUTCDay() + 1);
      case RTC_DAY_OF_MONTH: return this.encode(f.dom);
      case RTC_MONTH: return this.encode(f.month);
      case RTC_YEAR: return this.encode(f.year % 100);
      default: return this.encode(Math.floor(f.year / 100)); // century
    }
  }

  private writeRegister(index: number, v: number): void {
    const now = this.timers.now();
    switch (index) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case RTC_CENTURY:
        this.writeTimeRegister(index, v, now);
        return;
      case RTC_DAY_OF_WEEK:
        return; // derived from the date
      case RTC_REG_A:
        this.regA = v & 0x7f;
        this.rearm(now);
        return;
      case RTC_REG_B:
        this.writeRegB(v, now);
        return;
      case RTC_REG_C:
      case RTC_REG_D:
        return; // read-only
      default:
        // Alarm bytes and plain CMOS memory.
        this.cmos[index & 0x7f] = v;
        return;
    }
  }

  private writeTimeRegister(index: number, v: number, now: number): void {
    const seconds = this.secondsAt(now);
    const f = this.fields(seconds);
    const century = Math.floor(f.year / 100);
    switch (index) {
      case RTC_SECONDS: f.sec = this.decode(v); break;
      case RTC_MINUTES: f.min = this.decode(v); break;
      case RTC_HOURS: f.hour = this.decodeHour(v); break;
      case RTC_DAY_OF_MONTH: f.dom = this.decode(v); break;
      case RTC_MONTH: f.month = this.decode(v); break;
      case RTC_YEAR: f.year = century * 100 + (this.decode(v) % 100); break;
      default: f.year = this.decode(v) * 100 + (f.year % 100); break;
    }
    // Garbage (BCD digits above 9, month 0, ...) is clamped into range rather than rolling the date over.
    const clamp = (x: number, lo: number, hi: number) => (Number.isFinite(x) ? Math.min(hi, Math.max(lo, x)) : lo);
    const ms = Date.UTC(clamp(f.year, 1900, 9999), clamp(f.month, 1, 12) - 1, clamp(f.dom, 1, 31),
      clamp(f.hour, 0, 23), clamp(f.min, 0, 59), clamp(f.sec, 0, 59));
    const newSeconds = Math.floor(ms / 1000);
    if (this.setMode()) {
      this.frozenSeconds = newSeconds;
    } else {
      // Setting the time restarts the divider chain: the next update is a full second away.
      this.anchor(newSeconds, 0, now);
      this.flagsCheckedNs = now;
      this.rearm(now);
    }
  }

  private writeRegB(v: number, now: number): void {
    const wasSet = this.setMode();
    let b = v;
    if (b & REG_B_SET) b &= ~REG_B_UIE; // SET clears UIE on the MC146818
    if (!wasSet && b & REG_B_SET) {
      this.catchUpFlags(now);
      this.frozenSeconds = this.secondsAt(now);
    }
    this.regB = b;
    if (wasSet && !(b & REG_B_SET)) {
      this.anchor(this.frozenSeconds, 0, now);
      this.flagsCheckedNs = now;
    }
    this.rearm(now);
    this.updateIrq();
  }

  // ---- interrupts ----

  private periodNs(): number | undefined {
    let rate = this.regA & REG_A_RATE_MASK;
    if (rate === 0) return undefined;
    if (rate <= 2) rate += 7; // rates 1 and 2 alias 256 Hz and 128 Hz on a 32.768 kHz base
    return ((1 << (rate - 1)) * NS_PER_S) / RTC_BASE_HZ;
  }

  private irqFlag(): boolean {
    return ((this.flags & REG_C_PF) !== 0 && (this.regB & REG_B_PIE) !== 0)
      || ((this.flags & REG_C_AF) !== 0 && (this.regB & REG_B_AIE) !== 0)
      || ((this.flags & REG_C_UF) !== 0 && (this.regB & REG_B_UIE) !== 0);
  }

  private updateIrq(): void {
    const level = this.irqFlag();
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** Set PF/UF/AF for periods and updates that passed since the last check. */
  private catchUpFlags(now: number): void {
    const since = this.flagsCheckedNs;
    if (now <= since) return;
    this.flagsCheckedNs = now;
    const period = this.periodNs();
    if (period !== undefined && Math.floor(now / period) > Math.floor(since / period)) this.flags |= REG_C_PF;
    if (this.setMode()) return;
    const secondsThen = this.baseSeconds + Math.floor((since + this.phaseNs) / NS_PER_S);
    const secondsNow = this.secondsAt(now);
    if (secondsNow > secondsThen) {
      this.flags |= REG_C_UF;
      if (this.alarmMatches(secondsNow)) this.flags |= REG_C_AF;
    }
  }

  private alarmMatches(seconds: number): boolean {
    const f = this.fields(seconds);
    const match = (alarm: number, current: number) => (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === current;
    return match(this.cmos[RTC_SECONDS_ALARM], this.encode(f.sec))
      && match(this.cmos[RTC_MINUTES_ALARM], this.encode(f.min))
      && match(this.cmos[RTC_HOURS_ALARM], this.encodeHour(f.hour));
  }

  /** Timers run only for enabled interrupts; flags without them are computed when register C is read. */
  private rearm(now: number): void {
    this.timers.cancel(this.updateTimer);
    this.timers.cancel(this.periodicTimer);
    this.updateTimer = undefined;
    this.periodicTimer = undefined;
    if (!this.setMode() && this.regB & (REG_B_UIE | REG_B_AIE)) {
      this.updateTimer = this.timers.schedule(this.nextUpdateAt(now), (t) => this.onTimer(t));
    }
    const period = this.periodNs();
    if (period !== undefined && this.regB & REG_B_PIE) {
      const next = (Math.floor(now / period) + 1) * period;
      this.periodicTimer = this.timers.schedule(next, (t) => this.onTimer(t));
    }
  }

  private onTimer(now: number): void {
    this.catchUpFlags(now);
    this.updateIrq();
    this.rearm(now);
  }

  // ---- snapshots ----

  save(): RtcState {
    const now = this.timers.now();
    this.catchUpFlags(now);
    return {
      cmos: Array.from(this.cmos),
      index: this.index,
      nmiMasked: this.nmiMasked,
      regA: this.regA,
      regB: this.regB,
      flags: this.flags,
      seconds: this.secondsAt(now),
      fractionNs: this.setMode() ? 0 : this.fractionAt(now),
    };
  }

  /** Guest time resumes from the saved instant (no time passes while the snapshot sits on disk). */
  restore(s: RtcState): void {
    const byte = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n & 0xff : 0);
    for (let i = 0; i < CMOS_SIZE; i++) this.cmos[i] = Array.isArray(s.cmos) ? byte(s.cmos[i]) : 0;
    this.index = byte(s.index) & 0x7f;
    this.nmiMasked = s.nmiMasked === true;
    this.regA = byte(s.regA) & 0x7f;
    this.regB = byte(s.regB);
    this.flags = byte(s.flags) & (REG_C_PF | REG_C_AF | REG_C_UF);
    const now = this.timers.now();
    const seconds = typeof s.seconds === 'number' && Number.isFinite(s.seconds) ? Math.trunc(s.seconds) : Math.floor(Date.now() / 1000);
    this.anchor(seconds, typeof s.fractionNs === 'number' ? s.fractionNs : 0, now);
    this.flagsCheckedNs = now;
    this.irqLevel = this.irqFlag();
    this.irq.set(this.irqLevel);
    this.rearm(now);
    this.log.debug(`rtc: restored at ${new Date(seconds * 1000).toISOString()}`);
  }
}

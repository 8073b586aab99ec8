/**
 * A local APIC in xAPIC mode, one per vCPU, for the software CPU.
 *
 * The guest reaches it through the 4 KiB MMIO page at IA32_APIC_BASE
 * (0xfee00000 after reset; LapicMmioRouter sends each access to the current
 * vCPU's APIC) and through two MSRs: IA32_APIC_BASE (0x1b) and
 * IA32_TSC_DEADLINE (0x6e0). x2APIC is not implemented: setting
 * APIC_BASE.EXTD is refused and the x2APIC MSRs 0x800-0x8ff are not handled,
 * so the CPU must not report CPUID.1:ECX.x2APIC[bit 21]. It may report
 * TSC-deadline (CPUID.1:ECX[bit 24]).
 *
 * The timer counts at `busHz` (1 GHz by default, as KVM's APIC bus) divided
 * by the divide configuration, on the VirtualClock.
 */
import { InterruptChanges } from './cpu-interrupt-port';
import { Logger, defaultLogger } from '../log';
import { VirtualClock, DeviceTimer } from './clock';
import { TscClock } from './clock-tsc';
import { VectorSet } from './lapic-vectors';
import {
  ApicBus, ApicBusTarget, ApicMessage, APIC_BROADCAST_ID, DELIVERY_EXTINT, DELIVERY_FIXED, DELIVERY_INIT,
  DELIVERY_LOWEST_PRIORITY, DELIVERY_NMI, DELIVERY_SMI, DELIVERY_STARTUP, SHORTHAND_NONE, SHORTHAND_SELF,
} from './lapic-bus';

export const LAPIC_DEFAULT_BASE = 0xfee00000;
export const LAPIC_MMIO_SIZE = 0x1000;
/** Version 0x14 (integrated APIC), max LVT entry 5 (six LVTs: timer, thermal, perf, LINT0, LINT1, error). */
export const LAPIC_VERSION = 0x00050014;
export const DEFAULT_APIC_BUS_HZ = 1_000_000_000;

export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const APIC_BASE_BSP = 1n << 8n;
export const APIC_BASE_EXTD = 1n << 10n;
export const APIC_BASE_ENABLE = 1n << 11n;
/** Physical address bits of the base (36-bit MAXPHYADDR is enough for a VM's APIC page). */
const APIC_BASE_ADDRESS_MASK = 0xffffff000n;

// Register offsets in the MMIO page.
export const APIC_ID = 0x20;
export const APIC_VERSION_REG = 0x30;
export const APIC_TPR = 0x80;
export const APIC_APR = 0x90;
export const APIC_PPR = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_RRD = 0xc0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SVR = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_ICR_LOW = 0x300;
export const APIC_ICR_HIGH = 0x310;
export const APIC_LVT_TIMER = 0x320;
export const APIC_LVT_THERMAL = 0x330;
export const APIC_LVT_PERF = 0x340;
export const APIC_LVT_LINT0 = 0x350;
export const APIC_LVT_LINT1 = 0x360;
export const APIC_LVT_ERROR = 0x370;
export const APIC_TIMER_INITIAL = 0x380;
export const APIC_TIMER_CURRENT = 0x390;
export const APIC_TIMER_DIVIDE = 0x3e0;

export const SVR_ENABLE = 0x100;
const SVR_WRITABLE = 0x3ff; // vector, APIC enable, focus-check disable
export const LVT_MASKED = 1 << 16;
export const LVT_DELIVERY_SHIFT = 8;
export const LVT_LEVEL = 1 << 15;
export const LVT_TIMER_PERIODIC = 1 << 17;
export const LVT_TIMER_TSC_DEADLINE = 2 << 17;
const LVT_TIMER_MODE_MASK = 3 << 17;
export const ICR_DEST_LOGICAL = 1 << 11;
export const ICR_LEVEL_ASSERT = 1 << 14;
export const ICR_TRIGGER_LEVEL = 1 << 15;
const ICR_LOW_WRITABLE = 0x000ccfff; // vector, mode, dest mode, level, trigger, shorthand
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

/** Index into the LVT array by register. */
const LVT_INDEX: Record<number, number> = {
  [APIC_LVT_TIMER]: 0, [APIC_LVT_THERMAL]: 1, [APIC_LVT_PERF]: 2,
  [APIC_LVT_LINT0]: 3, [APIC_LVT_LINT1]: 4, [APIC_LVT_ERROR]: 5,
};
const LVT_WRITABLE = [
  0x000700ff, // timer: vector, mask, mode (incl. TSC-deadline)
  0x000107ff, // thermal: vector, delivery mode, mask
  0x000107ff, // perf
  0x0001a7ff, // LINT0: vector, mode, polarity, trigger, mask (remote IRR is read-only)
  0x0001a7ff, // LINT1
  0x000100ff, // error: vector, mask
];
const LVT_TIMER = 0;
const LVT_LINT0 = 3;
const LVT_LINT1 = 4;
const LVT_ERROR = 5;

/** Periodic timer interrupts are never scheduled closer than this. */
export const LAPIC_MIN_PERIOD_NS = 100_000;

export interface LapicOptions {
  index: number;
  bus: ApicBus;
  clock: VirtualClock;
  tsc: TscClock;
  /** The bootstrap processor: APIC_BASE.BSP set, LINT0 in ExtINT (virtual wire) after reset, as QEMU does. */
  isBsp?: boolean;
  busHz?: number;
  log?: Logger;
  /** Called whenever something becomes pending for this CPU (to wake it from HLT). */
  onPending?: () => void;
}

export interface LapicState {
  apicBase: string;
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  isr: number[];
  tmr: number[];
  irr: number[];
  esr: number;
  esrPending: number;
  icrLow: number;
  icrHigh: number;
  lvt: number[];
  timerInitial: number;
  timerDivide: number;
  timerStartNs: number;
  timerRunning: boolean;
  tscDeadline: string;
  nmiPending: boolean;
  initPending: boolean;
  sipiVector: number | null;
  extIntPending: boolean;
}

export class Lapic implements ApicBusTarget {
  readonly index: number;
  private readonly bus: ApicBus;
  private readonly clock: VirtualClock;
  private readonly tsc: TscClock;
  private readonly isBsp: boolean;
  private readonly busHz: number;
  private readonly log: Logger;
  private readonly onPending: (() => void) | undefined;
  private readonly timer: DeviceTimer;

  private apicBase: bigint;
  private id: number;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  readonly isr = new VectorSet();
  readonly tmr = new VectorSet();
  readonly irr = new VectorSet();
  private esr = 0;
  private esrPending = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly lvt = new Array<number>(6).fill(LVT_MASKED);
  private timerInitial = 0;
  private timerDivide = 0;
  private timerStartNs = 0;
  private timerRunning = false;
  private tscDeadline = 0n;
  private nmiPending = false;
  private initPending = false;
  private sipiVector: number | undefined;
  /** An ExtINT message arrived (IOAPIC virtual wire): the PIC supplies the vector. */
  extIntPending = false;
  /** Bumped by every change that can make an interrupt deliverable (see InterruptChanges). */
  readonly changes = new InterruptChanges();

  constructor(opts: LapicOptions) {
    this.index = opts.index;
    this.bus = opts.bus;
    this.clock = opts.clock;
    this.tsc = opts.tsc;
    this.isBsp = opts.isBsp ?? opts.index === 0;
    this.busHz = opts.busHz && opts.busHz > 0 ? opts.busHz : DEFAULT_APIC_BUS_HZ;
    this.log = opts.log ?? defaultLogger;
    this.onPending = opts.onPending;
    this.timer = new DeviceTimer(this.clock, (now) => this.onTimerExpired(now));
    this.apicBase = BigInt(LAPIC_DEFAULT_BASE) | APIC_BASE_ENABLE | (this.isBsp ? APIC_BASE_BSP : 0n);
    this.id = opts.index & 0xff;
    this.resetRegisters();
    this.bus.attach(this);
  }

  /** Power-on / INIT state of everything but the ID and the base MSR. */
  private resetRegisters(): void {
    this.changes.count++;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.isr.clearAll();
    this.tmr.clearAll();
    this.irr.clearAll();
    this.esr = 0;
    this.esrPending = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvt.fill(LVT_MASKED);
    // Firmware puts the BSP's LINT0 in ExtINT ("virtual wire") so PIC interrupts reach it; QEMU does so at reset.
    if (this.isBsp) this.lvt[LVT_LINT0] = DELIVERY_EXTINT << LVT_DELIVERY_SHIFT;
    this.timerInitial = 0;
    this.timerDivide = 0;
    this.timerRunning = false;
    this.tscDeadline = 0n;
    this.timer.disarm();
    this.extIntPending = false;
  }

  // ---- state the CPU and the PIC path need ----

  hardwareEnabled(): boolean {
    return (this.apicBase & APIC_BASE_ENABLE) !== 0n;
  }

  softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  /** MMIO base the guest chose. */
  baseAddress(): number {
    return Number(this.apicBase & APIC_BASE_ADDRESS_MASK);
  }

  /** Whether PIC interrupts reach this CPU: APIC off in hardware, or LINT0 unmasked in ExtINT mode. */
  acceptsPicInterrupts(): boolean {
    if (!this.hardwareEnabled()) return true;
    const lint0 = this.lvt[LVT_LINT0];
    return (lint0 & LVT_MASKED) === 0 && ((lint0 >> LVT_DELIVERY_SHIFT) & 7) === DELIVERY_EXTINT;
  }

  processorPriority(): number {
    const isrv = Math.max(0, this.isr.highest());
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr & 0xff : isrv & 0xf0;
  }

  /** A fixed interrupt outranks the processor priority. */
  hasDeliverableInterrupt(): boolean {
    const v = this.irr.highest();
    return v >= 0 && (v & 0xf0) > (this.processorPriority() & 0xf0);
  }

  /** IRR -> ISR for the highest pending vector; returns it, or -1 when nothing is deliverable. */
  acknowledge(): number {
    if (!this.hasDeliverableInterrupt()) return -1;
    const v = this.irr.highest();
    this.irr.clear(v);
    this.isr.set(v);
    return v;
  }

  takeNmi(): boolean {
    const p = this.nmiPending;
    this.nmiPending = false;
    return p;
  }

  takeInit(): boolean {
    const p = this.initPending;
    this.initPending = false;
    return p;
  }

  takeStartup(): number | undefined {
    const v = this.sipiVector;
    this.sipiVector = undefined;
    return v;
  }

  getTaskPriority(): number {
    return this.tpr;
  }

  setTaskPriority(value: number): void {
    this.changes.count++;
    this.tpr = value & 0xff;
  }

  // ---- ApicBusTarget ----

  matchesDestination(dest: number, logical: boolean): boolean {
    if (!this.hardwareEnabled()) return false;
    if (!logical) return dest === APIC_BROADCAST_ID || dest === this.id;
    if (dest === APIC_BROADCAST_ID) return true;
    const ldr = this.ldr >>> 24;
    const flat = this.dfr >>> 28 === 0xf;
    if (flat) return (ldr & dest) !== 0;
    // Cluster model: high nibble is the cluster, low nibble a bitmask within it.
    return (ldr >> 4) === (dest >> 4) && (ldr & dest & 0xf) !== 0;
  }

  arbitrationPriority(): number {
    return this.tpr & 0xf0;
  }

  acceptsFixed(): boolean {
    return this.hardwareEnabled() && this.softwareEnabled();
  }

  accept(msg: ApicMessage): void {
    this.changes.count++;
    switch (msg.deliveryMode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST_PRIORITY:
        this.acceptFixed(msg.vector, msg.levelTriggered);
        break;
      case DELIVERY_NMI:
        this.nmiPending = true;
        this.onPending?.();
        break;
      case DELIVERY_INIT:
        // A level-triggered de-assert INIT only synchronised arbitration IDs on old parts.
        if (msg.levelTriggered && !msg.assert) return;
        this.resetRegisters();
        this.initPending = true;
        this.sipiVector = undefined;
        this.nmiPending = false;
        this.onPending?.();
        break;
      case DELIVERY_STARTUP:
        this.sipiVector = msg.vector & 0xff;
        this.onPending?.();
        break;
      case DELIVERY_EXTINT:
        this.extIntPending = true;
        this.onPending?.();
        break;
      case DELIVERY_SMI:
        this.log.debug(`lapic${this.index}: SMI ignored (no SMM)`);
        break;
      default:
        break; // reserved delivery modes
    }
  }

  private acceptFixed(vector: number, levelTriggered: boolean): void {
    if (!this.acceptsFixed()) return;
    if (vector < 16) {
      this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    this.irr.set(vector);
    this.changes.count++;
    if (levelTriggered) this.tmr.set(vector);
    else this.tmr.clear(vector);
    this.onPending?.();
  }

  private raiseError(bits: number): void {
    this.esrPending |= bits;
    const lvt = this.lvt[LVT_ERROR];
    if (!(lvt & LVT_MASKED) && (lvt & 0xff) >= 16) this.acceptFixed(lvt & 0xff, false);
  }

  // ---- local interrupt pins ----

  /** LINT1 (wired to NMI on PCs) or LINT0 asserted by the platform; fixed/NMI modes only (ExtINT goes through the PIC path). */
  raiseLocalInterrupt(pin: 0 | 1): void {
    this.changes.count++;
    const lvt = this.lvt[pin === 0 ? LVT_LINT0 : LVT_LINT1];
    if (lvt & LVT_MASKED || !this.hardwareEnabled()) return;
    const mode = (lvt >> LVT_DELIVERY_SHIFT) & 7;
    if (mode === DELIVERY_NMI) {
      this.nmiPending = true;
      this.onPending?.();
    } else if (mode === DELIVERY_FIXED) {
      this.acceptFixed(lvt & 0xff, (lvt & LVT_LEVEL) !== 0);
    }
  }

  // ---- EOI and IPIs ----

  private eoi(): void {
    const v = this.isr.highest();
    if (v < 0) return;
    this.isr.clear(v);
    if (this.tmr.has(v)) {
      this.tmr.clear(v);
      this.bus.broadcastEoi(v);
    }
  }

  private sendIpi(): void {
    const low = this.icrLow;
    const mode = (low >> 8) & 7;
    const vector = low & 0xff;
    const shorthand = (low >> 18) & 3;
    if ((mode === DELIVERY_FIXED || mode === DELIVERY_LOWEST_PRIORITY) && vector < 16) {
      this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    const msg: ApicMessage = {
      vector,
      deliveryMode: mode,
      logical: (low & ICR_DEST_LOGICAL) !== 0,
      dest: this.icrHigh >>> 24,
      levelTriggered: (low & ICR_TRIGGER_LEVEL) !== 0,
      assert: (low & ICR_LEVEL_ASSERT) !== 0,
      shorthand,
    };
    // Self IPIs may only be fixed.
    if (shorthand === SHORTHAND_SELF && mode !== DELIVERY_FIXED) return;
    this.bus.deliver(msg, shorthand === SHORTHAND_NONE ? undefined : this);
  }

  // ---- timer ----

  private timerMode(): number {
    return this.lvt[LVT_TIMER] & LVT_TIMER_MODE_MASK;
  }

  private divisor(): number {
    const code = (this.timerDivide & 3) | ((this.timerDivide >> 1) & 4);
    return code === 7 ? 1 : 2 << code;
  }

  /** Nanoseconds for `ticks` counts at the current divisor. */
  private ticksToNs(ticks: number): number {
    return Math.ceil((ticks * this.divisor() * 1e9) / this.busHz);
  }

  private elapsedTicks(now: number): number {
    return Math.floor(((now - this.timerStartNs) * this.busHz) / 1e9 / this.divisor());
  }

  private startTimer(now: number): void {
    this.timer.disarm();
    this.timerRunning = false;
    if (this.timerMode() === LVT_TIMER_TSC_DEADLINE || this.timerInitial === 0) return;
    this.timerStartNs = now;
    this.timerRunning = true;
    this.armNextExpiry(now);
  }

  private armNextExpiry(now: number): void {
    const period = this.ticksToNs(this.timerInitial);
    if (this.timerMode() === LVT_TIMER_PERIODIC) {
      // Missed periods are coalesced into one interrupt; tiny periods are stretched for scheduling only.
      const step = Math.max(period, LAPIC_MIN_PERIOD_NS);
      const k = Math.floor((now - this.timerStartNs) / step) + 1;
      this.timer.arm(this.timerStartNs + k * step);
    } else {
      this.timer.arm(this.timerStartNs + period);
    }
  }

  private onTimerExpired(now: number): void {
    const lvt = this.lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED)) this.acceptFixed(lvt & 0xff, false);
    const mode = this.timerMode();
    if (mode === LVT_TIMER_TSC_DEADLINE) {
      this.tscDeadline = 0n; // the MSR reads 0 once the deadline has fired
    } else if (mode === LVT_TIMER_PERIODIC && this.timerRunning) {
      this.armNextExpiry(now);
    } else {
      this.timerRunning = false;
    }
  }

  private currentCount(now: number): number {
    if (!this.timerRunning || this.timerMode() === LVT_TIMER_TSC_DEADLINE || this.timerInitial === 0) return 0;
    const elapsed = this.elapsedTicks(now);
    if (this.timerMode() === LVT_TIMER_PERIODIC) return this.timerInitial - (elapsed % this.timerInitial);
    return elapsed >= this.timerInitial ? 0 : this.timerInitial - elapsed;
  }

  // ---- MSRs ----

  /** Returns the MSR's value, or undefined if this is not an APIC MSR (the CPU raises #GP or handles it). */
  readMsr(index: number): bigint | undefined {
    if (index === MSR_IA32_APIC_BASE) return this.apicBase;
    if (index === MSR_IA32_TSC_DEADLINE) return this.timerMode() === LVT_TIMER_TSC_DEADLINE ? this.tscDeadline : 0n;
    return undefined;
  }

  /** Returns false when the write must raise #GP (not an APIC MSR, or an unsupported value such as x2APIC enable). */
  writeMsr(index: number, value: bigint): boolean {
    this.changes.count++;
    if (index === MSR_IA32_APIC_BASE) return this.writeApicBase(value);
    if (index === MSR_IA32_TSC_DEADLINE) {
      this.writeTscDeadline(value);
      return true;
    }
    return false;
  }

  /** Called by the router when the base moves, so it can remap the MMIO page. */
  onBaseChange: ((base: number) => void) | undefined;

  private writeApicBase(value: bigint): boolean {
    const v = BigInt.asUintN(64, value);
    if (v & APIC_BASE_EXTD) return false; // x2APIC not supported
    if (v & ~(APIC_BASE_ADDRESS_MASK | APIC_BASE_ENABLE | APIC_BASE_BSP)) return false; // reserved bits
    const oldBase = this.baseAddress();
    const wasEnabled = this.hardwareEnabled();
    // The BSP flag is read-only.
    this.apicBase = (v & (APIC_BASE_ADDRESS_MASK | APIC_BASE_ENABLE)) | (this.isBsp ? APIC_BASE_BSP : 0n);
    if (wasEnabled && !this.hardwareEnabled()) {
      // Disabling in hardware resets the APIC to its power-up state (SDM 10.4.3).
      this.resetRegisters();
      this.svr &= ~SVR_ENABLE;
    }
    if (this.baseAddress() !== oldBase) this.onBaseChange?.(this.baseAddress());
    return true;
  }

  private writeTscDeadline(value: bigint): void {
    if (this.timerMode() !== LVT_TIMER_TSC_DEADLINE) return; // ignored outside TSC-deadline mode
    this.tscDeadline = BigInt.asUintN(64, value);
    if (this.tscDeadline === 0n) {
      this.timer.disarm();
      return;
    }
    this.timer.arm(Math.max(this.tsc.nsAt(this.tscDeadline), 0));
  }

  // ---- MMIO registers ----

  readRegister(offset: number): number {
    const now = this.clock.now();
    switch (offset) {
      case APIC_ID: return (this.id << 24) >>> 0;
      case APIC_VERSION_REG: return LAPIC_VERSION;
      case APIC_TPR: return this.tpr;
      case APIC_APR: return this.tpr & 0xf0;
      case APIC_PPR: return this.processorPriority();
      case APIC_LDR: return this.ldr >>> 0;
      case APIC_DFR: return this.dfr >>> 0;
      case APIC_SVR: return this.svr;
      case APIC_ESR: return this.esr;
      case APIC_ICR_LOW: return this.icrLow; // delivery status always idle: IPIs are delivered at once
      case APIC_ICR_HIGH: return this.icrHigh >>> 0;
      case APIC_TIMER_INITIAL: return this.timerInitial >>> 0;
      case APIC_TIMER_CURRENT: return this.currentCount(now) >>> 0;
      case APIC_TIMER_DIVIDE: return this.timerDivide;
      default:
        break;
    }
    if (offset in LVT_INDEX) return this.lvt[LVT_INDEX[offset]] >>> 0;
    if (offset >= APIC_ISR && offset < APIC_ISR + 0x80) return this.isr.words[(offset - APIC_ISR) >> 4];
    if (offset >= APIC_TMR && offset < APIC_TMR + 0x80) return this.tmr.words[(offset - APIC_TMR) >> 4];
    if (offset >= APIC_IRR && offset < APIC_IRR + 0x80) return this.irr.words[(offset - APIC_IRR) >> 4];
    return 0;
  }

  writeRegister(offset: number, value: number): void {
    this.changes.count++;
    const v = value >>> 0;
    const now = this.clock.now();
    switch (offset) {
      case APIC_ID:
        // Writable on P6-family xAPICs; Linux never changes it but tolerates it being writable.
        this.id = v >>> 24;
        return;
      case APIC_TPR:
        this.tpr = v & 0xff;
        return;
      case APIC_EOI:
        this.eoi();
        return;
      case APIC_LDR:
        this.ldr = (v & 0xff000000) >>> 0;
        return;
      case APIC_DFR:
        this.dfr = (v | 0x0fffffff) >>> 0;
        return;
      case APIC_SVR:
        this.svr = v & SVR_WRITABLE;
        if (!this.softwareEnabled()) for (let i = 0; i < this.lvt.length; i++) this.lvt[i] |= LVT_MASKED;
        return;
      case APIC_ESR:
        // A write moves the errors seen since the last write into the readable register.
        this.esr = this.esrPending;
        this.esrPending = 0;
        return;
      case APIC_ICR_HIGH:
        this.icrHigh = (v & 0xff000000) >>> 0;
        return;
      case APIC_ICR_LOW:
        this.icrLow = v & ICR_LOW_WRITABLE;
        this.sendIpi();
        return;
      case APIC_TIMER_INITIAL:
        this.timerInitial = v;
        this.startTimer(now);
        return;
      case APIC_TIMER_DIVIDE:
        this.timerDivide = v & 0xb;
        return;
      default:
        break;
    }
    if (offset in LVT_INDEX) {
      this.writeLvt(LVT_INDEX[offset], v, now);
      return;
    }
    // Read-only and reserved registers: the write is ignored (as KVM does, without flagging ESR).
  }

  private writeLvt(i: number, v: number, now: number): void {
    const old = this.lvt[i];
    let next = (v & LVT_WRITABLE[i]) | (old & ~LVT_WRITABLE[i] & (1 << 14)); // keep remote IRR
    if (!this.softwareEnabled()) next |= LVT_MASKED;
    this.lvt[i] = next >>> 0;
    if (i === LVT_TIMER && ((old ^ next) & LVT_TIMER_MODE_MASK) !== 0) {
      // Switching between TSC-deadline and counting modes disarms the timer.
      this.timer.disarm();
      this.timerRunning = false;
      this.tscDeadline = 0n;
      if ((next & LVT_TIMER_MODE_MASK) !== LVT_TIMER_TSC_DEADLINE && this.timerInitial !== 0) this.startTimer(now);
    }
  }

  // ---- snapshots ----

  save(): LapicState {
    return {
      apicBase: this.apicBase.toString(),
      id: this.id,
      tpr: this.tpr,
      ldr: this.ldr,
      dfr: this.dfr,
      svr: this.svr,
      isr: this.isr.toArray(),
      tmr: this.tmr.toArray(),
      irr: this.irr.toArray(),
      esr: this.esr,
      esrPending: this.esrPending,
      icrLow: this.icrLow,
      icrHigh: this.icrHigh,
      lvt: [...this.lvt],
      timerInitial: this.timerInitial,
      timerDivide: this.timerDivide,
      timerStartNs: this.timerStartNs,
      timerRunning: this.timerRunning,
      tscDeadline: this.tscDeadline.toString(),
      nmiPending: this.nmiPending,
      initPending: this.initPending,
      sipiVector: this.sipiVector ?? null,
      extIntPending: this.extIntPending,
    };
  }

  /** Restore after the VirtualClock and TscClock; re-arms the timer. */
  restore(s: LapicState): void {
    this.changes.count++;
    const u32 = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n >>> 0 : 0);
    const big = (n: unknown, dflt: bigint) => {
      try {
        return typeof n === 'string' ? BigInt.asUintN(64, BigInt(n)) : dflt;
      } catch {
        return dflt;
      }
    };
    const base = big(s.apicBase, BigInt(LAPIC_DEFAULT_BASE) | APIC_BASE_ENABLE);
    this.apicBase = (base & (APIC_BASE_ADDRESS_MASK | APIC_BASE_ENABLE)) | (this.isBsp ? APIC_BASE_BSP : 0n);
    this.id = u32(s.id) & 0xff;
    this.tpr = u32(s.tpr) & 0xff;
    this.ldr = (u32(s.ldr) & 0xff000000) >>> 0;
    this.dfr = (u32(s.dfr) | 0x0fffffff) >>> 0;
    this.svr = u32(s.svr) & SVR_WRITABLE;
    this.isr.load(s.isr);
    this.tmr.load(s.tmr);
    this.irr.load(s.irr);
    this.esr = u32(s.esr) & 0xff;
    this.esrPending = u32(s.esrPending) & 0xff;
    this.icrLow = u32(s.icrLow) & ICR_LOW_WRITABLE;
    this.icrHigh = (u32(s.icrHigh) & 0xff000000) >>> 0;
    for (let i = 0; i < 6; i++) this.lvt[i] = Array.isArray(s.lvt) ? (u32(s.lvt[i]) & (LVT_WRITABLE[i] | (1 << 14))) >>> 0 : LVT_MASKED;
    this.timerInitial = u32(s.timerInitial);
    this.timerDivide = u32(s.timerDivide) & 0xb;
    this.timerStartNs = typeof s.timerStartNs === 'number' && Number.isFinite(s.timerStartNs) ? s.timerStartNs : 0;
    this.timerRunning = s.timerRunning === true && this.timerInitial !== 0;
    this.tscDeadline = big(s.tscDeadline, 0n);
    this.nmiPending = s.nmiPending === true;
    this.initPending = s.initPending === true;
    this.sipiVector = typeof s.sipiVector === 'number' ? s.sipiVector & 0xff : undefined;
    this.extIntPending = s.extIntPending === true;
    this.timer.disarm();
    const now = this.clock.now();
    if (this.timerMode() === LVT_TIMER_TSC_DEADLINE) {
      if (this.tscDeadline !== 0n) this.timer.arm(this.tsc.nsAt(this.tscDeadline));
    } else if (this.timerRunning) {
      if (this.timerMode() === LVT_TIMER_PERIODIC) this.armNextExpiry(now);
      else if (this.currentCount(now) > 0) this.armNextExpiry(now);
      else this.timerRunning = false;
    }
  }
}

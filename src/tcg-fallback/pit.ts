/**
 * The 8254 programmable interval timer at ports 0x40-0x43 for the software
 * CPU (KVM has its own in the kernel).
 *
 * Channel 0 drives IRQ 0: each OUT rising edge becomes a pulse on the
 * interrupt line (set(true) then set(false)), scheduled on the VirtualClock.
 * Missed periods are coalesced: if the CPU loop comes back late, one
 * interrupt is delivered and the next is scheduled for the next period
 * boundary after now, as KVM's PIT does by default. Channel 1 (DRAM refresh)
 * counts but drives nothing. Channel 2's gate and output are reached through
 * port 0x61 (SystemControlPort in src/devices/legacy/system-control-port.ts),
 * which this class serves through the Channel2Timer interface.
 */
import { AccessSize, IoBus, PioDevice } from '../devices/bus';
import { InterruptLine } from '../devices/irq';
import { VirtualClock, DeviceTimer } from './clock';
import { PitChannel, PitChannelState } from './pit-channel';
import { Channel2Timer } from '../devices/legacy/system-control-port';

export { PIT_HZ } from './pit-channel';
export const PIT_BASE_PORT = 0x40;
export const PIT_PORT_COUNT = 4;
export const PIT_CONTROL = 3;
export const PIT_IRQ = 0;
/** Periodic interrupts are never scheduled closer than this (a guest may program a divisor of 2). */
export const PIT_MIN_IRQ_PERIOD_NS = 100_000;

export interface PitOptions {
  clock: VirtualClock;
  /** ISA IRQ 0. */
  irq: InterruptLine;
}

export interface PitState {
  channels: PitChannelState[];
  /** Channel 0's OUT as last driven onto IRQ 0 (modes 0/1 hold it high). */
  irqHeld: boolean;
}

export class Pit implements PioDevice, Channel2Timer {
  readonly channels = [new PitChannel(0, true), new PitChannel(1, true), new PitChannel(2, false)];
  private readonly clock: VirtualClock;
  private readonly irq: InterruptLine;
  private readonly timer: DeviceTimer;
  private irqHeld = false;
  /** Last tick for which an interrupt was delivered, so a late timer does not deliver it twice. */
  private lastIrqTime = -1;

  constructor(opts: PitOptions) {
    this.clock = opts.clock;
    this.irq = opts.irq;
    this.timer = new DeviceTimer(this.clock, (now) => this.onTimer(now));
  }

  register(bus: IoBus): void {
    bus.registerPio(PIT_BASE_PORT, PIT_PORT_COUNT, this, 'pit (8254)');
  }

  pioRead(offset: number, size: AccessSize): number {
    const v = offset < PIT_CONTROL ? this.channels[offset].readData(this.clock.now()) : 0xff;
    // 8-bit registers: a wide read sees 0xff above the low byte.
    return size === 1 ? v : (v | (size === 2 ? 0xff00 : 0xffffff00)) >>> 0;
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    const v = (Number.isFinite(value) ? value : 0) & 0xff;
    const now = this.clock.now();
    if (offset === PIT_CONTROL) this.writeControl(v, now);
    else if (offset >= 0 && offset < PIT_CONTROL) {
      if (this.channels[offset].writeData(v, now) && offset === 0) this.rearm(now);
    }
  }

  private writeControl(v: number, now: number): void {
    const select = v >> 6;
    if (select === 3) {
      this.readBack(v, now);
      return;
    }
    const ch = this.channels[select];
    ch.writeControl(v, now);
    if (select === 0 && ((v >> 4) & 3) !== 0) {
      // A new mode resets OUT (low in mode 0, high otherwise); only a rise interrupts, so just drop a held level.
      this.setIrqHeld(false);
      this.timer.disarm();
      this.lastIrqTime = -1;
    }
  }

  /** Read-back command: latch count and/or status of the selected channels. */
  private readBack(v: number, now: number): void {
    const latchCount = (v & 0x20) === 0;
    const latchStatus = (v & 0x10) === 0;
    for (let i = 0; i < 3; i++) {
      if ((v & (2 << i)) === 0) continue;
      if (latchStatus) this.channels[i].latchStatus(now);
      if (latchCount) this.channels[i].latchCount(now);
    }
  }

  // ---- Channel2Timer (port 0x61) ----

  setChannel2Gate(level: boolean): void {
    this.channels[2].setGate(level, this.clock.now());
  }

  channel2Gate(): boolean {
    return this.channels[2].gate;
  }

  channel2Output(): boolean {
    return this.channels[2].output(this.clock.now());
  }

  // ---- channel 0 -> IRQ 0 ----

  private rearm(now: number): void {
    const ch = this.channels[0];
    const next = ch.nextInterruptTick(ch.elapsedTicks(now));
    if (next === undefined) {
      this.timer.disarm();
      return;
    }
    let at = ch.timeOfTick(next);
    if (at === undefined) {
      this.timer.disarm();
      return;
    }
    if (!ch.holdsOutputHigh() && this.lastIrqTime >= 0) at = Math.max(at, this.lastIrqTime + PIT_MIN_IRQ_PERIOD_NS);
    this.timer.arm(at);
  }

  private onTimer(now: number): void {
    const ch = this.channels[0];
    if (ch.holdsOutputHigh()) {
      this.setIrqHeld(true); // stays high until the next control word
    } else {
      this.irq.set(true);
      this.irq.set(false);
    }
    this.lastIrqTime = now;
    this.rearm(now);
  }

  private setIrqHeld(level: boolean): void {
    if (level === this.irqHeld) return;
    this.irqHeld = level;
    this.irq.set(level);
  }

  save(): PitState {
    return { channels: this.channels.map((c) => c.save()), irqHeld: this.irqHeld };
  }

  /** Restore after the VirtualClock: channel times are absolute virtual nanoseconds. */
  restore(s: PitState): void {
    (Array.isArray(s.channels) ? s.channels : []).slice(0, 3).forEach((c, i) => this.channels[i].restore(c));
    this.irqHeld = s.irqHeld === true;
    this.irq.set(this.irqHeld);
    this.lastIrqTime = -1;
    this.rearm(this.clock.now());
  }
}

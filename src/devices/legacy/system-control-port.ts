/**
 * Port 0x61, "system control port B" of the PC: PIT channel 2's gate (bit 0),
 * the speaker data enable (bit 1), the parity/IOCHK check enables (bits 2-3),
 * the DRAM refresh toggle (bit 4) and PIT channel 2's output (bit 5).
 *
 * Ownership: the PIT owns channel 2 (counter, gate, output); this device only
 * maps those onto the port's bits through the Channel2Timer interface. Under
 * KVM with the in-kernel PIT the kernel handles port 0x61 itself and this
 * device is not registered. Linux calibrates the TSC by gating channel 2
 * here and polling bit 5, so bit 5 is computed from the virtual clock at the
 * moment of the read.
 */
import { AccessSize, PioDevice } from '../bus';

export const SYSTEM_CONTROL_PORT_B = 0x61;

export const PORTB_PIT2_GATE = 0x01;
export const PORTB_SPEAKER_DATA = 0x02;
export const PORTB_PARITY_CHECK_DISABLE = 0x04;
export const PORTB_IOCHK_DISABLE = 0x08;
export const PORTB_REFRESH_TOGGLE = 0x10;
export const PORTB_PIT2_OUT = 0x20;
const PORTB_WRITABLE = 0x0f;

/** The refresh request bit toggles every 15.085 us on real PCs; some BIOS delay loops count its edges. */
const REFRESH_PERIOD_NS = 15_085;

/** What port 0x61 needs from the PIT. */
export interface Channel2Timer {
  setChannel2Gate(level: boolean): void;
  channel2Gate(): boolean;
  channel2Output(): boolean;
}

export interface SystemControlPortOptions {
  pit: Channel2Timer;
  /** Virtual time in nanoseconds (for the refresh toggle). */
  nowNs: () => number;
}

export interface SystemControlPortState {
  control: number;
}

export class SystemControlPort implements PioDevice {
  /** Bits 1-3 as last written; bit 0 is the PIT's gate. */
  private control = 0;
  private readonly pit: Channel2Timer;
  private readonly nowNs: () => number;

  constructor(opts: SystemControlPortOptions) {
    this.pit = opts.pit;
    this.nowNs = opts.nowNs;
  }

  pioRead(offset: number, _size: AccessSize): number {
    if (offset !== 0) return 0xff;
    let v = this.control & (PORTB_WRITABLE & ~PORTB_PIT2_GATE);
    if (this.pit.channel2Gate()) v |= PORTB_PIT2_GATE;
    if (Math.floor(this.nowNs() / REFRESH_PERIOD_NS) % 2 === 1) v |= PORTB_REFRESH_TOGGLE;
    if (this.pit.channel2Output()) v |= PORTB_PIT2_OUT;
    return v;
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset !== 0) return;
    const v = (Number.isFinite(value) ? value : 0) & PORTB_WRITABLE;
    this.control = v;
    this.pit.setChannel2Gate((v & PORTB_PIT2_GATE) !== 0);
  }

  save(): SystemControlPortState {
    return { control: this.control };
  }

  /** The gate itself is part of the PIT's state. */
  restore(s: SystemControlPortState): void {
    this.control = (typeof s.control === 'number' ? s.control : 0) & PORTB_WRITABLE;
  }
}

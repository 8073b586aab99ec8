/**
 * An 82093AA-style I/O APIC (version 0x20, 24 pins) at MMIO 0xfec00000:
 * IOREGSEL at +0x00, IOWIN at +0x10, and the EOI register at +0x40 that
 * version-0x20 parts add. Each pin's redirection entry turns an input level
 * into an APIC bus message.
 *
 * Inputs are logical assertion levels: the machine's InterruptLine already
 * says "asserted", so the polarity bit is stored for the guest but does not
 * invert anything (KVM and QEMU do the same).
 *
 * Level-triggered pins set Remote IRR when delivered and are not delivered
 * again until the LAPIC's EOI for that vector clears it; if the line is
 * still asserted then, the interrupt is delivered again. An edge seen while
 * the pin is masked is remembered and delivered on unmask.
 */
import { MmioDevice, IoBus } from '../devices/bus';
import { fillMmio, mmioValue } from '../devices/legacy/byte-registers';
import { ApicBus, ApicMessage, SHORTHAND_NONE } from './lapic-bus';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_MMIO_SIZE = 0x1000;
export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x20;

// MMIO offsets.
export const IOAPIC_REGSEL = 0x00;
export const IOAPIC_WINDOW = 0x10;
export const IOAPIC_EOI = 0x40;

// Indirect register indices.
export const IOAPIC_REG_ID = 0x00;
export const IOAPIC_REG_VERSION = 0x01;
export const IOAPIC_REG_ARBITRATION = 0x02;
export const IOAPIC_REG_REDIRECTION = 0x10;

// Redirection entry (low dword) bits.
export const REDIR_VECTOR_MASK = 0xff;
export const REDIR_DELIVERY_SHIFT = 8;
export const REDIR_DEST_LOGICAL = 1 << 11;
export const REDIR_DELIVERY_STATUS = 1 << 12;
export const REDIR_POLARITY_LOW = 1 << 13;
export const REDIR_REMOTE_IRR = 1 << 14;
export const REDIR_LEVEL = 1 << 15;
export const REDIR_MASKED = 1 << 16;
const REDIR_LOW_WRITABLE = 0x1afff; // all but delivery status (12) and remote IRR (14)
const REDIR_HIGH_WRITABLE = 0xff000000; // destination in bits 56-63

export interface IoApicState {
  id: number;
  selector: number;
  redirLow: number[];
  redirHigh: number[];
  lineLevels: number;
  irr: number;
}

export class IoApic implements MmioDevice {
  private id = 0;
  private selector = 0;
  private readonly redirLow = new Array<number>(IOAPIC_PINS).fill(REDIR_MASKED);
  private readonly redirHigh = new Array<number>(IOAPIC_PINS).fill(0);
  /** Input line levels, one bit per pin. */
  private lineLevels = 0;
  /** Requests not yet delivered (edge while masked) or asserted level lines. */
  private irr = 0;

  constructor(private readonly bus: ApicBus) {
    bus.onEoiBroadcast((vector) => this.handleEoi(vector));
  }

  register(ioBus: IoBus, base: number = IOAPIC_BASE): void {
    ioBus.registerMmio(base, IOAPIC_MMIO_SIZE, this, 'ioapic');
  }

  /** Drive input `pin`. Out-of-range pins are ignored. */
  setIrq(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) return;
    const bit = 1 << pin;
    const wasHigh = (this.lineLevels & bit) !== 0;
    if (level) this.lineLevels |= bit;
    else this.lineLevels &= ~bit;
    if (this.redirLow[pin] & REDIR_LEVEL) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !wasHigh) {
      this.irr |= bit;
    }
    this.service(pin);
  }

  /** Deliver `pin` if it is requested, unmasked and (for level) not awaiting EOI. */
  private service(pin: number): void {
    const bit = 1 << pin;
    const low = this.redirLow[pin];
    if ((this.irr & bit) === 0 || low & REDIR_MASKED) return;
    const level = (low & REDIR_LEVEL) !== 0;
    if (level) {
      if (low & REDIR_REMOTE_IRR) return;
      this.redirLow[pin] = low | REDIR_REMOTE_IRR;
    } else {
      this.irr &= ~bit;
    }
    this.bus.deliver(this.messageFor(pin));
  }

  private messageFor(pin: number): ApicMessage {
    const low = this.redirLow[pin];
    return {
      vector: low & REDIR_VECTOR_MASK,
      deliveryMode: (low >> REDIR_DELIVERY_SHIFT) & 7,
      logical: (low & REDIR_DEST_LOGICAL) !== 0,
      dest: this.redirHigh[pin] >>> 24,
      levelTriggered: (low & REDIR_LEVEL) !== 0,
      assert: true,
      shorthand: SHORTHAND_NONE,
    };
  }

  /** EOI broadcast from a LAPIC (or a write to the EOI register): clear Remote IRR of level pins with this vector. */
  handleEoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = this.redirLow[pin];
      if ((low & REDIR_VECTOR_MASK) !== vector || !(low & REDIR_LEVEL) || !(low & REDIR_REMOTE_IRR)) continue;
      this.redirLow[pin] = low & ~REDIR_REMOTE_IRR;
      this.service(pin);
    }
  }

  // ---- registers ----

  readRegister(index: number): number {
    switch (index) {
      case IOAPIC_REG_ID:
      case IOAPIC_REG_ARBITRATION:
        return (this.id & 0xf) << 24;
      case IOAPIC_REG_VERSION:
        return (((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION) >>> 0;
      default: {
        const entry = index - IOAPIC_REG_REDIRECTION;
        if (entry < 0 || entry >= IOAPIC_PINS * 2) return 0;
        const pin = entry >> 1;
        return (entry & 1 ? this.redirHigh[pin] : this.redirLow[pin]) >>> 0;
      }
    }
  }

  writeRegister(index: number, value: number): void {
    const v = value >>> 0;
    if (index === IOAPIC_REG_ID) {
      this.id = (v >>> 24) & 0xf;
      return;
    }
    const entry = index - IOAPIC_REG_REDIRECTION;
    if (entry < 0 || entry >= IOAPIC_PINS * 2) return;
    const pin = entry >> 1;
    if (entry & 1) {
      this.redirHigh[pin] = (v & REDIR_HIGH_WRITABLE) >>> 0;
      return;
    }
    const old = this.redirLow[pin];
    let low = (v & REDIR_LOW_WRITABLE) | (old & REDIR_REMOTE_IRR);
    if (!(low & REDIR_LEVEL)) low &= ~REDIR_REMOTE_IRR; // edge pins have no remote IRR
    this.redirLow[pin] = low;
    // Switching trigger mode re-derives the request from the line.
    const bit = 1 << pin;
    if ((old ^ low) & REDIR_LEVEL) {
      if (low & REDIR_LEVEL) {
        if (this.lineLevels & bit) this.irr |= bit;
        else this.irr &= ~bit;
      } else {
        this.irr &= ~bit;
      }
    }
    this.service(pin);
  }

  mmioRead(offset: number, data: Uint8Array): void {
    const reg = offset & ~3;
    let v = 0;
    if (reg === IOAPIC_REGSEL) v = this.selector;
    else if (reg === IOAPIC_WINDOW) v = this.readRegister(this.selector);
    fillMmio(data, Math.floor(v / 2 ** ((offset & 3) * 8)));
  }

  mmioWrite(offset: number, data: Uint8Array): void {
    const v = mmioValue(data);
    if (offset === IOAPIC_REGSEL) this.selector = v & 0xff;
    else if (offset === IOAPIC_WINDOW) this.writeRegister(this.selector, v);
    else if (offset === IOAPIC_EOI) this.handleEoi(v & 0xff);
    // Other offsets (and unaligned accesses) are ignored.
  }

  save(): IoApicState {
    return {
      id: this.id,
      selector: this.selector,
      redirLow: [...this.redirLow],
      redirHigh: [...this.redirHigh],
      lineLevels: this.lineLevels,
      irr: this.irr,
    };
  }

  restore(s: IoApicState): void {
    const u32 = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n >>> 0 : 0);
    this.id = u32(s.id) & 0xf;
    this.selector = u32(s.selector) & 0xff;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      this.redirLow[pin] = Array.isArray(s.redirLow) && pin < s.redirLow.length ? u32(s.redirLow[pin]) & (REDIR_LOW_WRITABLE | REDIR_REMOTE_IRR) : REDIR_MASKED;
      this.redirHigh[pin] = Array.isArray(s.redirHigh) && pin < s.redirHigh.length ? (u32(s.redirHigh[pin]) & REDIR_HIGH_WRITABLE) >>> 0 : 0;
    }
    this.lineLevels = u32(s.lineLevels) & 0xffffff;
    this.irr = u32(s.irr) & 0xffffff;
  }
}

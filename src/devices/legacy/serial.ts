/**
 * 16550A UART, as the PC's COM ports.
 *
 * A pure state machine in the style of vm-superio's serial.rs: the guest
 * reads and writes byte registers, the host feeds input with enqueueInput()
 * and receives output through an injected writer, and the interrupt output
 * is a level on an InterruptLine.
 *
 * Transmission is instantaneous (there is no baud-rate timing): a byte
 * written to THR goes straight to the writer, so THR and the transmitter are
 * always empty again by the time the guest looks. For the same reason the
 * receiver raises its "data available" interrupt as soon as any byte is in
 * the FIFO, reporting it as a character timeout (IIR 0x0C) while the FIFO is
 * below the trigger level, which is what a real chip would do a few
 * character times later.
 */
import { AccessSize, PioDevice } from '../bus';
import { InterruptLine } from '../irq';
import { Logger, defaultLogger } from '../../log';
import { ByteQueue } from './byte-queue';
import { readBytesSplit, writeBytesSplit } from './byte-registers';

/** Standard PC COM port bases and ISA IRQs. */
export const COM1_PORT = 0x3f8;
export const COM2_PORT = 0x2f8;
export const COM3_PORT = 0x3e8;
export const COM4_PORT = 0x2e8;
export const COM1_IRQ = 4;
export const COM2_IRQ = 3;
export const COM3_IRQ = 4;
export const COM4_IRQ = 3;
/** Ports each UART decodes. */
export const SERIAL_PORT_COUNT = 8;

// Register offsets. DATA and IER are the divisor latch when LCR.DLAB is set.
export const UART_DATA = 0; // RBR on read, THR on write; DLL with DLAB
export const UART_IER = 1; // DLM with DLAB
export const UART_IIR = 2; // IIR on read, FCR on write
export const UART_FCR = 2;
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

// IER bits.
export const IER_RDA = 0x01; // received data available
export const IER_THRE = 0x02; // transmitter holding register empty
export const IER_RLS = 0x04; // receiver line status
export const IER_MS = 0x08; // modem status
const IER_MASK = 0x0f; // the upper four bits read as zero on a 16550A (Linux probes this)

// IIR values (interrupt identification), highest priority first.
export const IIR_NO_INT = 0x01;
export const IIR_RLS = 0x06;
export const IIR_RDA = 0x04;
export const IIR_RX_TIMEOUT = 0x0c;
export const IIR_THRE = 0x02;
export const IIR_MS = 0x00;
export const IIR_FIFO_ENABLED = 0xc0;

// FCR bits.
export const FCR_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;
const FCR_TRIGGER_SHIFT = 6;
const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;

// LCR bits.
export const LCR_DLAB = 0x80;

// MCR bits.
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;

// LSR bits.
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;

// MSR bits: deltas in the low nibble, line states in the high nibble.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
const MSR_DELTA_MASK = 0x0f;

export const UART_FIFO_SIZE = 16;
/** Default bound on bytes the host may queue ahead of the guest. */
export const DEFAULT_HOST_INPUT_LIMIT = 64 * 1024;

/** Divisor for 9600 baud at the PC's 1.8432 MHz clock: firmware's usual reset value is 12. */
const RESET_DIVISOR = 12;

export interface SerialOptions {
  irq: InterruptLine;
  /** Receives every byte the guest transmits (not called in loopback mode). */
  output: (bytes: Uint8Array) => void;
  log?: Logger;
  /** Bytes the host may queue beyond the 16-byte FIFO before input is dropped. */
  hostInputLimit?: number;
}

export interface SerialState {
  dll: number;
  dlm: number;
  ier: number;
  fcr: number;
  lcr: number;
  mcr: number;
  scr: number;
  /** Sticky overrun error, cleared by reading LSR. */
  overrun: boolean;
  /** Modem status line states (high nibble) and latched deltas (low nibble). */
  msr: number;
  /** THR-empty interrupt latched and not yet acknowledged. */
  thrEmptyPending: boolean;
  rxFifo: number[];
  hostInput: number[];
}

export class Serial16550 implements PioDevice {
  private dll = RESET_DIVISOR;
  private dlm = 0;
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private overrun = false;
  private msr = 0;
  private thrEmptyPending = false;
  private readonly rxFifo = new ByteQueue(UART_FIFO_SIZE);
  private readonly hostInput: ByteQueue;
  private irqLevel = false;
  private droppingInput = false;
  private readonly irq: InterruptLine;
  private readonly output: (bytes: Uint8Array) => void;
  private readonly log: Logger;

  constructor(opts: SerialOptions) {
    this.irq = opts.irq;
    this.output = opts.output;
    this.log = opts.log ?? defaultLogger;
    this.hostInput = new ByteQueue(Math.max(0, Math.trunc(opts.hostInputLimit ?? DEFAULT_HOST_INPUT_LIMIT)));
    this.msr = this.modemInputs();
  }

  // ---- PioDevice ----

  pioRead(offset: number, size: AccessSize): number {
    return readBytesSplit(this.registers, offset, size, SERIAL_PORT_COUNT);
  }

  pioWrite(offset: number, size: AccessSize, value: number): void {
    writeBytesSplit(this.registers, offset, size, value, SERIAL_PORT_COUNT);
  }

  private readonly registers = {
    readByte: (offset: number) => this.readRegister(offset),
    writeByte: (offset: number, value: number) => this.writeRegister(offset, value),
  };

  // ---- host side ----

  /** True while the host buffer has room: callers pause their input source when false. */
  canAcceptInput(): boolean {
    return this.hostInput.free > 0;
  }

  /**
   * Queues bytes for the guest. The 16-byte FIFO fills first and the host
   * buffer holds the rest; bytes beyond the bound are dropped with a warning
   * (once per overflow episode). Returns how many bytes were accepted.
   */
  enqueueInput(bytes: Uint8Array): number {
    this.refillRxFifo();
    const cap = this.rxCapacity();
    let accepted = 0;
    for (const b of bytes) {
      // Straight into the FIFO while nothing older waits in the host buffer.
      const direct = !this.loopback() && this.hostInput.isEmpty() && this.rxFifo.length < cap;
      if (direct) this.rxFifo.push(b);
      else if (!this.hostInput.push(b)) break;
      accepted++;
    }
    if (accepted < bytes.length) {
      if (!this.droppingInput) {
        this.log.warn(`serial: host input buffer full, dropping ${bytes.length - accepted} byte(s)`);
        this.droppingInput = true;
      }
    }
    this.refillRxFifo();
    this.updateInterrupt();
    return accepted;
  }

  /** Bytes waiting for the guest (FIFO plus host buffer). */
  pendingInput(): number {
    return this.rxFifo.length + this.hostInput.length;
  }

  // ---- registers ----

  readRegister(offset: number): number {
    switch (offset) {
      case UART_DATA:
        return this.dlab() ? this.dll : this.readRbr();
      case UART_IER:
        return this.dlab() ? this.dlm : this.ier;
      case UART_IIR:
        return this.readIir();
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return this.readLsr();
      case UART_MSR:
        return this.readMsr();
      case UART_SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  writeRegister(offset: number, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case UART_DATA:
        if (this.dlab()) this.dll = v;
        else this.writeThr(v);
        break;
      case UART_IER:
        if (this.dlab()) this.dlm = v;
        else this.writeIer(v);
        break;
      case UART_FCR:
        this.writeFcr(v);
        break;
      case UART_LCR:
        this.lcr = v;
        break;
      case UART_MCR:
        this.writeMcr(v);
        break;
      case UART_LSR:
        break; // LSR is read-only (writes are a factory-test feature on real parts)
      case UART_MSR:
        break;
      case UART_SCR:
        this.scr = v;
        break;
      default:
        break;
    }
  }

  private dlab(): boolean {
    return (this.lcr & LCR_DLAB) !== 0;
  }

  private fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  /** Without FIFOs the receiver holds a single character (16450 mode). */
  private rxCapacity(): number {
    return this.fifoEnabled() ? UART_FIFO_SIZE : 1;
  }

  private rxTriggerLevel(): number {
    return RX_TRIGGER_LEVELS[(this.fcr >> FCR_TRIGGER_SHIFT) & 3];
  }

  private readRbr(): number {
    const b = this.rxFifo.shift() ?? 0;
    this.refillRxFifo();
    this.updateInterrupt();
    return b;
  }

  private writeThr(v: number): void {
    // The write acknowledges a pending THRE interrupt; the byte then leaves at
    // once, so THR is empty again and a new THRE interrupt is due.
    if (this.loopback()) {
      if (this.rxFifo.length >= this.rxCapacity() || !this.rxFifo.push(v)) this.overrun = true;
    } else {
      this.output(Uint8Array.of(v));
    }
    this.thrEmptyPending = true;
    this.updateInterrupt();
  }

  private writeIer(v: number): void {
    const enablingThre = (v & IER_THRE) !== 0 && (this.ier & IER_THRE) === 0;
    this.ier = v & IER_MASK;
    // Enabling the THRE interrupt while THR is empty raises it at once; Linux's
    // 8250 startup tests for exactly this (UART_BUG_TXEN) and its TX path relies on it.
    if (enablingThre) this.thrEmptyPending = true;
    this.updateInterrupt();
  }

  private writeFcr(v: number): void {
    const wasEnabled = this.fifoEnabled();
    const enable = (v & FCR_ENABLE) !== 0;
    // Bits 4-5 are reserved on a 16550A (64-byte mode is a 16750 feature Linux probes for).
    this.fcr = v & (FCR_ENABLE | (3 << FCR_TRIGGER_SHIFT));
    if (wasEnabled !== enable || (v & FCR_CLEAR_RX) !== 0) {
      this.rxFifo.clear();
      this.overrun = false;
    }
    // FCR_CLEAR_TX: the transmitter is always empty already.
    this.refillRxFifo();
    this.updateInterrupt();
  }

  private writeMcr(v: number): void {
    const oldInputs = this.msr & 0xf0;
    this.mcr = v & MCR_MASK;
    const newInputs = this.modemInputs();
    this.msr = (this.msr & MSR_DELTA_MASK) | newInputs | this.modemDeltas(oldInputs, newInputs);
    this.refillRxFifo();
    this.updateInterrupt();
  }

  /**
   * Modem status inputs: in loopback the MCR outputs drive them
   * (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD); otherwise a cable that is
   * always connected and ready (DCD, DSR, CTS asserted, no ring).
   */
  private modemInputs(): number {
    if (!this.loopback()) return MSR_DCD | MSR_DSR | MSR_CTS;
    let s = 0;
    if (this.mcr & MCR_RTS) s |= MSR_CTS;
    if (this.mcr & MCR_DTR) s |= MSR_DSR;
    if (this.mcr & MCR_OUT1) s |= MSR_RI;
    if (this.mcr & MCR_OUT2) s |= MSR_DCD;
    return s;
  }

  private modemDeltas(oldInputs: number, newInputs: number): number {
    const changed = oldInputs ^ newInputs;
    let d = 0;
    if (changed & MSR_CTS) d |= MSR_DCTS;
    if (changed & MSR_DSR) d |= MSR_DDSR;
    if (changed & MSR_DCD) d |= MSR_DDCD;
    // TERI flags only the trailing edge of ring (RI going inactive).
    if (oldInputs & MSR_RI && !(newInputs & MSR_RI)) d |= MSR_TERI;
    return d;
  }

  private readLsr(): number {
    let lsr = LSR_THRE | LSR_TEMT;
    if (!this.rxFifo.isEmpty()) lsr |= LSR_DR;
    if (this.overrun) lsr |= LSR_OE;
    // Error bits are cleared by the read that reports them.
    this.overrun = false;
    this.updateInterrupt();
    return lsr;
  }

  private readMsr(): number {
    const v = this.msr;
    this.msr &= ~MSR_DELTA_MASK;
    this.updateInterrupt();
    return v;
  }

  private readIir(): number {
    const id = this.interruptId();
    // Reading IIR acknowledges a THRE interrupt, but only when it is the one reported.
    if (id === IIR_THRE) {
      this.thrEmptyPending = false;
      this.updateInterrupt();
    }
    return id | (this.fifoEnabled() ? IIR_FIFO_ENABLED : 0);
  }

  /** The highest-priority pending, enabled interrupt source (IIR bits 0-3). */
  private interruptId(): number {
    if (this.ier & IER_RLS && this.overrun) return IIR_RLS;
    if (this.ier & IER_RDA && !this.rxFifo.isEmpty()) {
      return this.fifoEnabled() && this.rxFifo.length < this.rxTriggerLevel() ? IIR_RX_TIMEOUT : IIR_RDA;
    }
    if (this.ier & IER_THRE && this.thrEmptyPending) return IIR_THRE;
    if (this.ier & IER_MS && this.msr & MSR_DELTA_MASK) return IIR_MS;
    return IIR_NO_INT;
  }

  private refillRxFifo(): void {
    // In loopback the receiver is disconnected from the line, so host input waits.
    if (this.loopback()) return;
    const cap = this.rxCapacity();
    while (this.rxFifo.length < cap && !this.hostInput.isEmpty()) {
      this.rxFifo.push(this.hostInput.shift() as number);
    }
    if (this.droppingInput && this.hostInput.free > 0) this.droppingInput = false;
  }

  /**
   * On a PC the UART's INTR pin reaches the PIC through a gate driven by
   * MCR.OUT2, and loopback mode forces the OUT pins inactive. Linux sets OUT2
   * when it wants interrupts and relies on the line staying quiet otherwise.
   */
  private updateInterrupt(force = false): void {
    const pending = this.interruptId() !== IIR_NO_INT;
    const level = pending && (this.mcr & MCR_OUT2) !== 0 && !this.loopback();
    if (force || level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  // ---- snapshots ----

  save(): SerialState {
    return {
      dll: this.dll,
      dlm: this.dlm,
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      overrun: this.overrun,
      msr: this.msr,
      thrEmptyPending: this.thrEmptyPending,
      rxFifo: this.rxFifo.toArray(),
      hostInput: this.hostInput.toArray(),
    };
  }

  restore(state: SerialState): void {
    const byte = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n & 0xff : 0);
    this.dll = byte(state.dll);
    this.dlm = byte(state.dlm);
    this.ier = byte(state.ier) & IER_MASK;
    this.fcr = byte(state.fcr) & (FCR_ENABLE | (3 << FCR_TRIGGER_SHIFT));
    this.lcr = byte(state.lcr);
    this.mcr = byte(state.mcr) & MCR_MASK;
    this.scr = byte(state.scr);
    this.overrun = state.overrun === true;
    this.msr = (byte(state.msr) & MSR_DELTA_MASK) | this.modemInputs();
    this.thrEmptyPending = state.thrEmptyPending === true;
    this.rxFifo.clear();
    for (const b of (state.rxFifo ?? []).slice(0, this.rxCapacity())) this.rxFifo.push(byte(b));
    this.hostInput.clear();
    for (const b of state.hostInput ?? []) if (!this.hostInput.push(byte(b))) break;
    this.updateInterrupt(true);
  }
}

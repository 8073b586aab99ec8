/**
 * The PC's cascaded 8259A pair (master at 0x20/0x21, slave at 0xa0/0xa1 on
 * master input 2) and the ELCR edge/level registers at 0x4d0/0x4d1.
 *
 * Lines come in as ISA IRQ numbers 0-15 via setIrq(); the CPU side asks
 * hasInterrupt() and takes a vector with acknowledge() (the INTA cycle).
 * Under KVM the kernel has its own PIC; this one serves the software CPU.
 */
import { AccessSize, IoBus, PioDevice } from '../devices/bus';
import { PicChip, PicChipState } from './pic-chip';
import type { InterruptChanges } from './cpu-interrupt-port';

export const PIC_MASTER_COMMAND = 0x20;
export const PIC_MASTER_DATA = 0x21;
export const PIC_SLAVE_COMMAND = 0xa0;
export const PIC_SLAVE_DATA = 0xa1;
export const ELCR_PORT = 0x4d0; // 0x4d0 master, 0x4d1 slave
/** Master input the slave's INT output is wired to. */
export const PIC_CASCADE_IRQ = 2;
/** Inputs that can never be level triggered on a PC: timer, keyboard, cascade (master); RTC and FPU (slave). */
const ELCR_MASTER_MASK = 0xf8;
const ELCR_SLAVE_MASK = 0xde;

export interface PicPairState {
  master: PicChipState;
  slave: PicChipState;
}

export class PicPair {
  readonly master = new PicChip(true, ELCR_MASTER_MASK);
  readonly slave = new PicChip(false, ELCR_SLAVE_MASK);
  private outputLevel = false;
  /** The count of the LAPIC this PIC's output is wired to, bumped as the output changes (see InterruptChanges). */
  changes: InterruptChanges | undefined;
  /** Called when the master's INT output changes (for a CPU that sleeps in HLT). */
  onOutputChange: ((level: boolean) => void) | undefined;

  /** Drive ISA input `irq` (0-15). Out-of-range numbers are ignored. */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) return;
    if (irq === PIC_CASCADE_IRQ) return; // wired to the slave on a PC; ISA IRQ2 devices appear as IRQ9
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    this.update();
  }

  /** True when the master is asserting INT to the CPU. */
  hasInterrupt(): boolean {
    return this.outputLevel;
  }

  /**
   * The INTA cycle: returns the vector and moves the request to in-service.
   * When the request has gone away since INT was raised (an edge too short,
   * or a level dropped), the 8259A answers with IR7 of the chip concerned and
   * sets no ISR bit: the spurious IRQ7 / IRQ15 that Linux counts.
   */
  acknowledge(): number {
    const irq = this.master.pendingIrq();
    let vector: number;
    if (irq < 0) {
      vector = this.master.vectorBase + 7;
    } else {
      this.master.acknowledge(irq);
      if (irq === PIC_CASCADE_IRQ) {
        const slaveIrq = this.slave.pendingIrq();
        if (slaveIrq >= 0) {
          this.slave.acknowledge(slaveIrq);
          vector = this.slave.vectorBase + slaveIrq;
        } else {
          vector = this.slave.vectorBase + 7;
        }
      } else {
        vector = this.master.vectorBase + irq;
      }
    }
    this.update();
    return vector;
  }

  /** Recompute the cascade line and the master output after any change. */
  private update(): void {
    this.master.setCascadeInput(PIC_CASCADE_IRQ, this.slave.pendingIrq() >= 0);
    const level = this.master.pendingIrq() >= 0;
    if (level !== this.outputLevel) {
      this.outputLevel = level;
      if (this.changes !== undefined) this.changes.count++;
      this.onOutputChange?.(level);
    }
  }

  readPort(port: number): number {
    switch (port) {
      case PIC_MASTER_COMMAND: return this.after(this.master.readCommand());
      case PIC_MASTER_DATA: return this.after(this.master.readData());
      case PIC_SLAVE_COMMAND: return this.after(this.slave.readCommand());
      case PIC_SLAVE_DATA: return this.after(this.slave.readData());
      case ELCR_PORT: return this.master.elcr;
      case ELCR_PORT + 1: return this.slave.elcr;
      default: return 0xff;
    }
  }

  writePort(port: number, value: number): void {
    const v = (Number.isFinite(value) ? value : 0) & 0xff;
    switch (port) {
      case PIC_MASTER_COMMAND: this.master.writeCommand(v); break;
      case PIC_MASTER_DATA: this.master.writeData(v); break;
      case PIC_SLAVE_COMMAND: this.slave.writeCommand(v); break;
      case PIC_SLAVE_DATA: this.slave.writeData(v); break;
      case ELCR_PORT: this.master.elcr = v & ELCR_MASTER_MASK; break;
      case ELCR_PORT + 1: this.slave.elcr = v & ELCR_SLAVE_MASK; break;
      default: return;
    }
    this.update();
  }

  /** A read can be a poll (an acknowledge), so the output may change. */
  private after(v: number): number {
    this.update();
    return v;
  }

  /** Registers the three port ranges on the bus. */
  register(bus: IoBus): void {
    bus.registerPio(PIC_MASTER_COMMAND, 2, this.portRange(PIC_MASTER_COMMAND), 'pic master');
    bus.registerPio(PIC_SLAVE_COMMAND, 2, this.portRange(PIC_SLAVE_COMMAND), 'pic slave');
    bus.registerPio(ELCR_PORT, 2, this.portRange(ELCR_PORT), 'elcr');
  }

  /** A PioDevice for the range starting at `base`. The registers are 8-bit: a wide access uses the low byte and reads 0xff above it. */
  portRange(base: number): PioDevice {
    return {
      pioRead: (offset: number, size: AccessSize) => {
        const v = this.readPort(base + offset);
        const upper = size === 1 ? 0 : size === 2 ? 0xff00 : 0xffffff00;
        return (v | upper) >>> 0;
      },
      pioWrite: (offset: number, _size: AccessSize, value: number) => this.writePort(base + offset, value),
    };
  }

  save(): PicPairState {
    return { master: this.master.save(), slave: this.slave.save() };
  }

  restore(s: PicPairState): void {
    if (this.changes !== undefined) this.changes.count++;
    this.master.restore(s.master);
    this.slave.restore(s.slave);
    this.outputLevel = false;
    this.update();
  }
}

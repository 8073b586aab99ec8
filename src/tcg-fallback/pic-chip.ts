/**
 * One 8259A programmable interrupt controller: eight request inputs, the
 * IRR/ISR/IMR registers, rotating or fixed priority, and the ICW/OCW
 * programming protocol. The master/slave pair and the ELCR live in pic.ts.
 *
 * Edge inputs latch IRR on a rising edge; level inputs (ELCR or ICW1.LTIM)
 * keep IRR equal to the line. An interrupt is requested from the CPU when
 * the highest-priority unmasked IRR bit outranks everything in service.
 */

export const PIC_ICW1 = 0x10; // command-port bit: this is ICW1
export const PIC_ICW1_ICW4 = 0x01; // ICW4 follows
export const PIC_ICW1_SINGLE = 0x02; // no cascade, no ICW3
export const PIC_ICW1_LTIM = 0x08; // all inputs level triggered
export const PIC_OCW3 = 0x08; // command-port bit (with ICW1 bit clear): OCW3, else OCW2
export const PIC_OCW3_READ_ISR = 0x03; // RR | RIS
export const PIC_OCW3_READ_IRR = 0x02; // RR
export const PIC_OCW3_POLL = 0x04;
export const PIC_OCW3_SMM_SET = 0x68; // ESMM | SMM
export const PIC_OCW3_SMM_CLEAR = 0x48; // ESMM
export const PIC_OCW2_EOI = 0x20; // non-specific EOI
export const PIC_OCW2_SPECIFIC_EOI = 0x60;
export const PIC_OCW2_ROTATE_EOI = 0xa0;
export const PIC_OCW2_ROTATE_SPECIFIC_EOI = 0xe0;
export const PIC_OCW2_SET_PRIORITY = 0xc0;
export const PIC_OCW2_ROTATE_AUTO_EOI_SET = 0x80;
export const PIC_OCW2_ROTATE_AUTO_EOI_CLEAR = 0x00;
export const PIC_ICW4_AEOI = 0x02;
export const PIC_ICW4_SFNM = 0x10;

/** Where the initialization sequence stands: 0 = operational, else the ICW expected next on the data port. */
const enum InitStep {
  Done = 0,
  Icw2 = 2,
  Icw3 = 3,
  Icw4 = 4,
}

export interface PicChipState {
  irr: number;
  isr: number;
  imr: number;
  lineLevels: number;
  elcr: number;
  levelTriggeredAll: boolean;
  vectorBase: number;
  priorityAdd: number;
  initStep: number;
  icw4Expected: boolean;
  singleMode: boolean;
  icw3: number;
  autoEoi: boolean;
  rotateOnAutoEoi: boolean;
  specialFullyNested: boolean;
  specialMask: boolean;
  readIsr: boolean;
  poll: boolean;
}

export class PicChip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current level of each input line (for edge detection and level mode). */
  lineLevels = 0;
  /** Edge/level control: a set bit makes that input level triggered. */
  elcr = 0;
  levelTriggeredAll = false;
  vectorBase = 0;
  /** Rotation: the input with priority 0 is `priorityAdd`. */
  priorityAdd = 0;
  private initStep = InitStep.Done;
  private icw4Expected = false;
  private singleMode = false;
  icw3 = 0;
  autoEoi = false;
  private rotateOnAutoEoi = false;
  specialFullyNested = false;
  private specialMask = false;
  private readIsr = false;
  private poll = false;

  constructor(readonly isMaster: boolean, readonly elcrMask: number) {}

  setLine(irq: number, level: boolean): void {
    const bit = 1 << (irq & 7);
    if (this.isLevelTriggered(irq)) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && (this.lineLevels & bit) === 0) {
      this.irr |= bit;
    }
    if (level) this.lineLevels |= bit;
    else this.lineLevels &= ~bit;
  }

  /**
   * The slave's INT output on master input 2. It is treated as a level:
   * when the slave's request goes away before INTA the master withdraws too,
   * instead of latching an edge that could only end in a spurious IRQ15.
   */
  setCascadeInput(irq: number, level: boolean): void {
    const bit = 1 << (irq & 7);
    if (level) {
      this.irr |= bit;
      this.lineLevels |= bit;
    } else {
      this.irr &= ~bit;
      this.lineLevels &= ~bit;
    }
  }

  isLevelTriggered(irq: number): boolean {
    return this.levelTriggeredAll || (this.elcr & (1 << (irq & 7))) !== 0;
  }

  /** Priority number (0 = highest) of the best bit in `mask`, 8 when empty. */
  private priorityOf(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** The input this chip would present to the CPU now, or -1. */
  pendingIrq(): number {
    const requested = this.priorityOf(this.irr & ~this.imr);
    if (requested === 8) return -1;
    let inService = this.isr;
    // Special mask mode: masked in-service levels no longer block lower priorities.
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested: the slave may interrupt while one of its inputs is in service.
    if (this.specialFullyNested && this.isMaster) inService &= ~(1 << 2);
    const current = this.priorityOf(inService);
    return requested < current ? (requested + this.priorityAdd) & 7 : -1;
  }

  /** INTA for input `irq`: IRR -> ISR (or straight to done in auto-EOI mode). */
  acknowledge(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    // A level input stays requested as long as the line is high.
    if (!this.isLevelTriggered(irq)) this.irr &= ~bit;
  }

  /** The input this cascade input is wired to on the master (ICW3 of the slave holds its ID). */
  slaveId(): number {
    return this.icw3 & 7;
  }

  writeCommand(v: number): void {
    if (v & PIC_ICW1) {
      this.initialize(v);
    } else if (v & PIC_OCW3) {
      if (v & PIC_OCW3_POLL) this.poll = true;
      if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
    } else {
      this.writeOcw2(v);
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case InitStep.Done:
        this.imr = v;
        break;
      case InitStep.Icw2:
        // In 8086 mode the low three bits of the vector come from the input number.
        this.vectorBase = v & 0xf8;
        this.initStep = this.singleMode ? this.afterIcw3() : InitStep.Icw3;
        break;
      case InitStep.Icw3:
        this.icw3 = v;
        this.initStep = this.afterIcw3();
        break;
      case InitStep.Icw4:
        this.autoEoi = (v & PIC_ICW4_AEOI) !== 0;
        this.specialFullyNested = (v & PIC_ICW4_SFNM) !== 0;
        this.initStep = InitStep.Done;
        break;
    }
  }

  /** Command port read: poll result, or IRR/ISR per OCW3. */
  readCommand(): number {
    if (this.poll) return this.pollRead();
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    if (this.poll) return this.pollRead();
    return this.imr;
  }

  /** Poll command: the read acts as an INTA and returns 0x80 | level, or 0 when nothing is pending. */
  private pollRead(): number {
    this.poll = false;
    const irq = this.pendingIrq();
    if (irq < 0) return 0;
    this.acknowledge(irq);
    return 0x80 | irq;
  }

  private afterIcw3(): InitStep {
    return this.icw4Expected ? InitStep.Icw4 : InitStep.Done;
  }

  private initialize(icw1: number): void {
    // ICW1 resets the chip: IMR and ISR clear, IR7 lowest priority, edge
    // detection re-armed (an input already high must go low before it counts again),
    // special mask off, status read back to IRR. Level-mode requests survive.
    this.imr = 0;
    this.isr = 0;
    this.priorityAdd = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.icw4Expected = (icw1 & PIC_ICW1_ICW4) !== 0;
    this.singleMode = (icw1 & PIC_ICW1_SINGLE) !== 0;
    this.levelTriggeredAll = (icw1 & PIC_ICW1_LTIM) !== 0;
    const levelMask = this.levelTriggeredAll ? 0xff : this.elcr;
    this.irr &= levelMask & this.lineLevels;
    this.initStep = InitStep.Icw2;
  }

  private writeOcw2(v: number): void {
    const command = v & 0xe0;
    const level = v & 7;
    switch (command) {
      case PIC_OCW2_ROTATE_AUTO_EOI_CLEAR:
      case PIC_OCW2_ROTATE_AUTO_EOI_SET:
        this.rotateOnAutoEoi = command === PIC_OCW2_ROTATE_AUTO_EOI_SET;
        break;
      case PIC_OCW2_EOI:
      case PIC_OCW2_ROTATE_EOI: {
        const p = this.priorityOf(this.isr);
        if (p === 8) break;
        const irq = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << irq);
        if (command === PIC_OCW2_ROTATE_EOI) this.priorityAdd = (irq + 1) & 7;
        break;
      }
      case PIC_OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        break;
      case PIC_OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        this.priorityAdd = (level + 1) & 7;
        break;
      case PIC_OCW2_SET_PRIORITY:
        // The named level becomes the lowest priority.
        this.priorityAdd = (level + 1) & 7;
        break;
      default:
        break; // 0x40: no operation
    }
  }

  save(): PicChipState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      lineLevels: this.lineLevels,
      elcr: this.elcr,
      levelTriggeredAll: this.levelTriggeredAll,
      vectorBase: this.vectorBase,
      priorityAdd: this.priorityAdd,
      initStep: this.initStep,
      icw4Expected: this.icw4Expected,
      singleMode: this.singleMode,
      icw3: this.icw3,
      autoEoi: this.autoEoi,
      rotateOnAutoEoi: this.rotateOnAutoEoi,
      specialFullyNested: this.specialFullyNested,
      specialMask: this.specialMask,
      readIsr: this.readIsr,
      poll: this.poll,
    };
  }

  restore(s: PicChipState): void {
    const byte = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n & 0xff : 0);
    this.irr = byte(s.irr);
    this.isr = byte(s.isr);
    this.imr = byte(s.imr);
    this.lineLevels = byte(s.lineLevels);
    this.elcr = byte(s.elcr) & this.elcrMask;
    this.levelTriggeredAll = s.levelTriggeredAll === true;
    this.vectorBase = byte(s.vectorBase) & 0xf8;
    this.priorityAdd = byte(s.priorityAdd) & 7;
    const step = byte(s.initStep);
    this.initStep = step === 2 || step === 3 || step === 4 ? step : InitStep.Done;
    this.icw4Expected = s.icw4Expected === true;
    this.singleMode = s.singleMode === true;
    this.icw3 = byte(s.icw3);
    this.autoEoi = s.autoEoi === true;
    this.rotateOnAutoEoi = s.rotateOnAutoEoi === true;
    this.specialFullyNested = s.specialFullyNested === true;
    this.specialMask = s.specialMask === true;
    this.readIsr = s.readIsr === true;
    this.poll = s.poll === true;
  }
}

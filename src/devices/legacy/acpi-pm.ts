/**
 * The ACPI fixed-hardware power-management registers the FADT points at:
 * the PM1a event block (status/enable) and the PM1a control block. This is
 * how a guest powers off (SLP_TYP=S5 with SLP_EN) and how the host presses
 * the power button (QMP system_powerdown): PWRBTN_STS raises the SCI.
 *
 * ACPI mode is always on (SCI_EN reads 1): the FADT declares no SMI command
 * port, so the OS never has to switch from legacy mode.
 */
import { AccessSize, PioDevice } from '../bus';
import { InterruptLine } from '../irq';
import {
  PM1_CNT_SCI_EN, PM1_CNT_SLP_EN, PM1_PWRBTN_EN, PM1_PWRBTN_STS, PM1_WAK_STS, PM_IO_LENGTH, isPoweroffWrite,
} from '../../machine/acpi/pm';

// Offsets inside the PM I/O block (see src/machine/acpi/pm.ts for the ports).
const OFF_PM1_STS = 0;
const OFF_PM1_EN = 2;
const OFF_PM1_CNT = 4;

/** Status bits this device can set; the rest read as zero. */
const STS_IMPLEMENTED = PM1_PWRBTN_STS | PM1_WAK_STS;
/**
 * Enable bits that read back what was written: TMR_EN, GBL_EN, PWRBTN_EN,
 * SLPBTN_EN, RTC_EN. ACPICA checks each enable by reading it back and logs
 * "Could not enable ... event" (and gives up the global lock) otherwise; the
 * events other than the power button simply never fire.
 */
const PM1_TMR_EN = 1 << 0;
const PM1_GBL_EN = 1 << 5;
const PM1_SLPBTN_EN = 1 << 9;
const PM1_RTC_EN = 1 << 10;
const EN_IMPLEMENTED = PM1_TMR_EN | PM1_GBL_EN | PM1_PWRBTN_EN | PM1_SLPBTN_EN | PM1_RTC_EN;

export interface AcpiPmState {
  status: number;
  enable: number;
  control: number;
}

export interface AcpiPmOptions {
  /** The SCI: level-triggered, active high (as the MADT's override for IRQ 9 says). */
  sci: InterruptLine;
  onPowerOff(): void;
}

export class AcpiPm implements PioDevice {
  static readonly ioLength = PM_IO_LENGTH;
  private status = 0;
  private enable = 0;
  private control = PM1_CNT_SCI_EN;

  constructor(private readonly opts: AcpiPmOptions) {}

  /** Host side of the power button: the guest's ACPI driver sees a button press event. */
  pressPowerButton(): void {
    this.status |= PM1_PWRBTN_STS;
    this.updateSci();
  }

  pioRead(offset: number, size: AccessSize): number {
    // Registers are 16 bits wide; byte and dword accesses see the bytes at their offsets.
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte(offset + i) << (8 * i);
    return value >>> 0;
  }

  pioWrite(offset: number, size: AccessSize, value: number): void {
    // Assemble whole 16-bit registers so write-1-to-clear and SLP_EN act once per access.
    if (offset <= OFF_PM1_STS + 1 && offset + size > OFF_PM1_STS) this.writeStatus(this.slice(offset, size, value, OFF_PM1_STS));
    if (offset <= OFF_PM1_EN + 1 && offset + size > OFF_PM1_EN) this.writeEnable(this.slice(offset, size, value, OFF_PM1_EN));
    if (offset <= OFF_PM1_CNT + 1 && offset + size > OFF_PM1_CNT) this.writeControl(this.slice(offset, size, value, OFF_PM1_CNT));
  }

  /** The bits of a write that land in the 16-bit register at `reg` (bytes not written keep their current value). */
  private slice(offset: number, size: number, value: number, reg: number): { value: number; mask: number } {
    let v = 0;
    let mask = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i - reg;
      if (at === 0 || at === 1) {
        v |= ((value >>> (8 * i)) & 0xff) << (8 * at);
        mask |= 0xff << (8 * at);
      }
    }
    return { value: v, mask };
  }

  private readByte(offset: number): number {
    switch (offset) {
      case OFF_PM1_STS: return this.status & 0xff;
      case OFF_PM1_STS + 1: return (this.status >> 8) & 0xff;
      case OFF_PM1_EN: return this.enable & 0xff;
      case OFF_PM1_EN + 1: return (this.enable >> 8) & 0xff;
      case OFF_PM1_CNT: return this.control & 0xff;
      case OFF_PM1_CNT + 1: return (this.control >> 8) & 0xff;
      default: return 0; // PM timer not implemented: the FADT does not declare one
    }
  }

  private writeStatus({ value, mask }: { value: number; mask: number }): void {
    this.status &= ~(value & mask & STS_IMPLEMENTED);
    this.updateSci();
  }

  private writeEnable({ value, mask }: { value: number; mask: number }): void {
    this.enable = (this.enable & ~mask) | (value & mask & EN_IMPLEMENTED);
    this.updateSci();
  }

  private writeControl({ value, mask }: { value: number; mask: number }): void {
    const next = (this.control & ~mask) | (value & mask);
    if (isPoweroffWrite(next)) {
      this.opts.onPowerOff();
    }
    // SLP_EN is write-only; SCI_EN stays set (no legacy mode to return to).
    this.control = (next & ~PM1_CNT_SLP_EN) | PM1_CNT_SCI_EN;
  }

  private updateSci(): void {
    this.opts.sci.set((this.status & this.enable & PM1_PWRBTN_STS) !== 0);
  }

  save(): AcpiPmState {
    return { status: this.status, enable: this.enable, control: this.control };
  }

  restore(state: AcpiPmState): void {
    this.status = state.status & STS_IMPLEMENTED;
    this.enable = state.enable & EN_IMPLEMENTED;
    this.control = (state.control & ~PM1_CNT_SLP_EN) | PM1_CNT_SCI_EN;
    this.updateSci();
  }
}

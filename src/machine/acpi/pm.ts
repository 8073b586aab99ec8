/**
 * The ACPI PM1 register block the FADT points at (fixed hardware, in I/O
 * space, where QEMU's PIIX4 puts it). The machine implements these ports;
 * Linux uses them for the power button (PM1 status/enable + SCI) and for
 * poweroff (writing SLP_TYP | SLP_EN to PM1a control).
 */

export const PM_IO_BASE = 0x600;
/** PM1a event block: PM1_STS (2 bytes) then PM1_EN (2 bytes). */
export const PM1A_EVT_PORT = PM_IO_BASE;
export const PM1_EVT_LEN = 4;
export const PM1_STS_PORT = PM1A_EVT_PORT;
export const PM1_EN_PORT = PM1A_EVT_PORT + 2;
/** PM1a control block: PM1_CNT (2 bytes). */
export const PM1A_CNT_PORT = PM_IO_BASE + 4;
export const PM1_CNT_LEN = 2;
/** ACPI PM timer (24/32-bit counter at 3.579545 MHz); only described when the machine has one. */
export const PM_TMR_PORT = PM_IO_BASE + 8;
export const PM_TMR_LEN = 4;
export const PM_TMR_FREQUENCY_HZ = 3_579_545;
/** All the PM ports, for registering one device on the bus. */
export const PM_IO_LENGTH = 12;

/** The System Control Interrupt: ISA IRQ 9, level-triggered active-high (MADT override). */
export const SCI_IRQ = 9;

// PM1_STS / PM1_EN bits
export const PM1_TMR_STS = 1 << 0;
export const PM1_PWRBTN_STS = 1 << 8;
export const PM1_WAK_STS = 1 << 15;
export const PM1_TMR_EN = 1 << 0;
export const PM1_PWRBTN_EN = 1 << 8;

// PM1_CNT bits
/** SCI_EN: reads as set, because there is no SMI handshake to enable ACPI (the FADT's SMI_CMD is 0). */
export const PM1_CNT_SCI_EN = 1 << 0;
export const PM1_CNT_SLP_TYP_SHIFT = 10;
export const PM1_CNT_SLP_TYP_MASK = 0x7 << PM1_CNT_SLP_TYP_SHIFT;
export const PM1_CNT_SLP_EN = 1 << 13;

/** SLP_TYP for S5 (soft off), as the DSDT's \_S5 package says. */
export const SLP_TYP_S5 = 5;

/** True when a PM1_CNT write asks for S5 (poweroff). */
export function isPoweroffWrite(pm1Cnt: number): boolean {
  return (pm1Cnt & PM1_CNT_SLP_EN) !== 0 && ((pm1Cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT) === SLP_TYP_S5;
}

/** The i8042 reset command, written to port 0x64: the FADT's RESET_REG when the machine has an i8042. */
export const RESET_PORT = 0x64;
export const RESET_VALUE = 0xfe;

/**
 * FADT ("FACP", revision 6): fixed hardware. Not hardware-reduced: the PM1
 * event and control blocks live in I/O space (pm.ts) with the SCI on IRQ 9,
 * so Linux gets a fixed-feature power button and S5 poweroff. No SMI port:
 * ACPI is on from the start.
 */
import {
  PM1A_CNT_PORT,
  PM1A_EVT_PORT,
  PM1_CNT_LEN,
  PM1_EVT_LEN,
  PM_TMR_LEN,
  PM_TMR_PORT,
  RESET_PORT,
  RESET_VALUE,
  SCI_IRQ,
} from './pm';
import { ADDRESS_SPACE_IO, Bytes, SDT_HEADER_SIZE, sdt, writeGas } from './table';

export const FADT_REVISION = 6;
export const FADT_MINOR_VERSION = 4;
export const FADT_SIZE = 276;

// Flags (ACPI 6.4 table 5.10)
const WBINVD = 1 << 0;
const PROC_C1 = 1 << 2;
/** Set: no fixed-feature sleep button (the power button stays fixed-feature: bit 4 clear). */
const SLP_BUTTON = 1 << 5;
/** Set: no RTC wake status in the PM1 fixed registers (the PM device does not implement RTC_STS/RTC_EN). */
const FIX_RTC = 1 << 6;
const TMR_VAL_EXT = 1 << 8;
const RESET_REG_SUP = 1 << 10;

// IA-PC boot architecture flags
const IAPC_LEGACY_DEVICES = 1 << 0;
const IAPC_8042 = 1 << 1;
const IAPC_VGA_NOT_PRESENT = 1 << 2;
const IAPC_CMOS_RTC_NOT_PRESENT = 1 << 5;

export interface FadtOptions {
  readonly facsAddr: number;
  readonly dsdtAddr: number;
  readonly i8042: boolean;
  readonly rtc: boolean;
  readonly pmTimer: boolean;
}

/** Fields are written at their offsets in the whole table, as the spec lists them. */
export function buildFadt(o: FadtOptions): Uint8Array {
  const b = new Bytes(FADT_SIZE - SDT_HEADER_SIZE);
  const at = (tableOffset: number): number => tableOffset - SDT_HEADER_SIZE;
  b.u32(at(36), o.facsAddr);
  b.u32(at(40), o.dsdtAddr);
  b.u16(at(46), SCI_IRQ);
  b.u32(at(56), PM1A_EVT_PORT);
  b.u32(at(64), PM1A_CNT_PORT);
  if (o.pmTimer) b.u32(at(76), PM_TMR_PORT);
  b.u8(at(88), PM1_EVT_LEN);
  b.u8(at(89), PM1_CNT_LEN);
  if (o.pmTimer) b.u8(at(91), PM_TMR_LEN);
  // C2/C3 latencies above the limits (100, 1000 us) say "not supported".
  b.u16(at(96), 101);
  b.u16(at(98), 1001);
  // CMOS century register, where the RTC keeps it.
  if (o.rtc) b.u8(at(108), 0x32);
  const bootArch =
    IAPC_VGA_NOT_PRESENT |
    (o.i8042 ? IAPC_LEGACY_DEVICES | IAPC_8042 : 0) |
    (o.rtc ? 0 : IAPC_CMOS_RTC_NOT_PRESENT);
  b.u16(at(109), bootArch);
  b.u32(at(112), WBINVD | PROC_C1 | SLP_BUTTON | FIX_RTC | (o.pmTimer ? TMR_VAL_EXT : 0) | (o.i8042 ? RESET_REG_SUP : 0));
  if (o.i8042) {
    // Reset through the keyboard controller: RESET_REG = I/O 0x64, value 0xFE.
    writeGas(b, at(116), ADDRESS_SPACE_IO, 8, 1, RESET_PORT);
    b.u8(at(128), RESET_VALUE);
  }
  b.u8(at(131), FADT_MINOR_VERSION);
  // X_FIRMWARE_CTRL stays 0: the spec allows only one of the two FACS pointers (Linux maps both otherwise).
  b.u64(at(140), o.dsdtAddr);
  writeGas(b, at(148), ADDRESS_SPACE_IO, PM1_EVT_LEN * 8, 2, PM1A_EVT_PORT);
  writeGas(b, at(172), ADDRESS_SPACE_IO, PM1_CNT_LEN * 8, 2, PM1A_CNT_PORT);
  if (o.pmTimer) writeGas(b, at(208), ADDRESS_SPACE_IO, PM_TMR_LEN * 8, 3, PM_TMR_PORT);
  return sdt('FACP', FADT_REVISION, b.bytes);
}

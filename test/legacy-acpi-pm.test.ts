import t from 'tap';
import { AcpiPm } from '../src/devices/legacy/acpi-pm';
import { RecordingLine } from '../src/devices/irq';
import { PM1_CNT_SLP_EN, PM1_CNT_SLP_TYP_SHIFT, PM1_PWRBTN_EN, PM1_PWRBTN_STS, SLP_TYP_S5 } from '../src/machine/acpi/pm';

function setup() {
  const sci = new RecordingLine();
  let poweroffs = 0;
  const pm = new AcpiPm({ sci, onPowerOff: () => { poweroffs++; } });
  return { pm, sci, poweroffs: () => poweroffs };
}

t.test('ACPI mode is on from reset: SCI_EN reads 1', async (t) => {
  const { pm } = setup();
  t.equal(pm.pioRead(4, 2) & 1, 1);
});

t.test("Linux's S5 write (SLP_TYP=5 | SLP_EN) powers off; other sleep types do not", async (t) => {
  const { pm, poweroffs } = setup();
  pm.pioWrite(4, 2, (3 << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN);
  t.equal(poweroffs(), 0, 'S3 is not poweroff');
  pm.pioWrite(4, 2, SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT);
  t.equal(poweroffs(), 0, 'SLP_TYP without SLP_EN does nothing');
  pm.pioWrite(4, 2, (SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN);
  t.equal(poweroffs(), 1);
  t.equal(pm.pioRead(4, 2) & PM1_CNT_SLP_EN, 0, 'SLP_EN reads back as 0');
});

t.test('S5 written a byte at a time (high byte carries SLP_EN) still powers off', async (t) => {
  const { pm, poweroffs } = setup();
  const v = (SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN;
  pm.pioWrite(4, 1, v & 0xff);
  pm.pioWrite(5, 1, v >> 8);
  t.equal(poweroffs(), 1);
});

t.test('the power button raises the SCI only when enabled, and clearing status lowers it', async (t) => {
  const { pm, sci } = setup();
  pm.pressPowerButton();
  t.equal(sci.level, false, 'not enabled yet');
  t.equal(pm.pioRead(0, 2) & PM1_PWRBTN_STS, PM1_PWRBTN_STS, 'status is latched');
  pm.pioWrite(2, 2, PM1_PWRBTN_EN);
  t.equal(sci.level, true, 'enabling a latched event raises the SCI');
  pm.pioWrite(0, 2, PM1_PWRBTN_STS);
  t.equal(sci.level, false, 'write-1-to-clear drops the SCI');
  t.equal(pm.pioRead(0, 2) & PM1_PWRBTN_STS, 0);
});

t.test('enable bits ACPICA checks by reading back keep their value (GBL_EN, RTC_EN)', async (t) => {
  const { pm, sci } = setup();
  const GBL_EN = 1 << 5;
  const RTC_EN = 1 << 10;
  pm.pioWrite(2, 2, GBL_EN | RTC_EN);
  t.equal(pm.pioRead(2, 2), GBL_EN | RTC_EN);
  t.equal(sci.level, false, 'no event is pending, so no SCI');
});

t.test('garbage writes and reads outside the registers are harmless', async (t) => {
  const { pm, sci, poweroffs } = setup();
  for (let off = 0; off < 12; off++) pm.pioWrite(off, 4, 0xffffffff & ~(PM1_CNT_SLP_EN | (PM1_CNT_SLP_EN << 16)));
  t.equal(poweroffs(), 0);
  t.equal(pm.pioRead(8, 4), 0, 'no PM timer declared, reads zero');
  t.equal(sci.level, false);
  const saved = pm.save();
  const { pm: other } = setup();
  other.restore(saved);
  t.same(other.save(), saved);
});

import t from 'tap';
import {
  CmosRtc, RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY,
  RTC_REG_A, RTC_REG_B, RTC_REG_C, RTC_REG_D, RTC_SECONDS_ALARM, RTC_MINUTES_ALARM, RTC_HOURS_ALARM,
  REG_A_UIP, REG_B_SET, REG_B_UIE, REG_B_PIE, REG_B_AIE, REG_B_DM_BINARY, REG_B_24H, REG_C_UF, REG_C_IRQF, REG_C_PF, REG_C_AF,
} from '../src/devices/legacy/rtc';
import { VirtualClock, ManualTimeSource } from '../src/tcg-fallback/clock';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';

const START = Date.UTC(2026, 10, 24, 22, 40, 5, 500); // Tuesday 2026-11-24 22:40:05.5 UTC

function makeRtc() {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  const irq = new RecordingLine();
  const rtc = new CmosRtc({ irq, timers: clock, startTimeMs: START, log: memoryLogger() });
  const read = (reg: number) => { rtc.pioWrite(0, 1, reg | 0x80); return rtc.pioRead(1, 1); };
  const write = (reg: number, v: number) => { rtc.pioWrite(0, 1, reg); rtc.pioWrite(1, 1, v); };
  const run = (ns: number) => {
    const end = clock.now() + ns;
    for (;;) {
      const d = clock.nextDeadline();
      if (d === undefined || d > end) break;
      host.advance(d - clock.now());
      clock.runExpired();
    }
    host.advance(end - clock.now());
    clock.runExpired();
  };
  return { rtc, irq, clock, host, read, write, run };
}

t.test('time reads in BCD 24h by default, from wall time at start', async (t) => {
  const { read, rtc } = makeRtc();
  t.equal(read(RTC_SECONDS), 0x05);
  t.equal(read(RTC_MINUTES), 0x40);
  t.equal(read(RTC_HOURS), 0x22);
  t.equal(read(RTC_DAY_OF_WEEK), 3, 'Tuesday (Sunday = 1)');
  t.equal(read(RTC_DAY_OF_MONTH), 0x24);
  t.equal(read(RTC_MONTH), 0x11);
  t.equal(read(RTC_YEAR), 0x26);
  t.equal(read(RTC_CENTURY), 0x20);
  t.equal(read(RTC_REG_D), 0x80, 'valid RAM and time');
  t.equal(read(RTC_REG_B), REG_B_24H);
  t.ok(rtc.isNmiMasked(), 'index bit 7 recorded as the NMI mask');
});

t.test('binary and 12-hour modes per register B', async (t) => {
  const { read, write } = makeRtc();
  write(RTC_REG_B, REG_B_DM_BINARY | REG_B_24H);
  t.equal(read(RTC_HOURS), 22);
  t.equal(read(RTC_YEAR), 26);
  write(RTC_REG_B, REG_B_DM_BINARY);
  t.equal(read(RTC_HOURS), 0x80 | 10, '10 PM');
  write(RTC_REG_B, 0);
  t.equal(read(RTC_HOURS), 0x80 | 0x10, '10 PM in BCD');
});

t.test('time follows the clock, stops while paused, UIP just before each update', async (t) => {
  const { read, run, clock, host } = makeRtc();
  run(400_000_000);
  t.equal(read(RTC_SECONDS), 0x05);
  t.equal(read(RTC_REG_A) & REG_A_UIP, 0);
  run(99_900_000); // 0.9999 s into the second
  t.equal(read(RTC_REG_A) & REG_A_UIP, REG_A_UIP, 'update in progress');
  run(100_000);
  t.equal(read(RTC_SECONDS), 0x06);
  t.equal(read(RTC_REG_A) & REG_A_UIP, 0);
  clock.pause();
  host.advance(3_600_000_000_000);
  t.equal(read(RTC_MINUTES), 0x40, 'a paused VM keeps its time');
  clock.resume();
  run(60_000_000_000);
  t.equal(read(RTC_MINUTES), 0x41);
});

t.test('setting the time the way Linux mc146818_set_time does', async (t) => {
  const { read, write, run } = makeRtc();
  write(RTC_REG_B, read(RTC_REG_B) | REG_B_SET);
  write(RTC_YEAR, 0x99);
  write(RTC_MONTH, 0x12);
  write(RTC_DAY_OF_MONTH, 0x31);
  write(RTC_HOURS, 0x23);
  write(RTC_MINUTES, 0x59);
  write(RTC_SECONDS, 0x58);
  write(RTC_CENTURY, 0x19);
  run(5_000_000_000);
  t.equal(read(RTC_SECONDS), 0x58, 'SET holds the clock');
  write(RTC_REG_B, read(RTC_REG_B) & ~REG_B_SET);
  run(2_000_000_000);
  t.equal(read(RTC_SECONDS), 0x00);
  t.equal(read(RTC_YEAR), 0x00);
  t.equal(read(RTC_CENTURY), 0x20, 'rolled over into 2000');
  t.equal(read(RTC_MONTH), 0x01);
});

t.test('update-ended interrupt each second; register C read clears it', async (t) => {
  const { read, write, run, irq } = makeRtc();
  write(RTC_REG_B, REG_B_24H | REG_B_UIE);
  t.equal(irq.level, false);
  run(499_999_999);
  t.equal(irq.level, false, 'not before the update');
  run(1);
  t.equal(irq.level, true);
  t.equal(read(RTC_REG_C) & (REG_C_IRQF | REG_C_UF), REG_C_IRQF | REG_C_UF, 'PF may be set too: it latches without PIE');
  t.equal(irq.level, false);
  t.equal(read(RTC_REG_C), 0, 'read to clear');
  run(1_000_000_000);
  t.equal(irq.edges, 2);
});

t.test('periodic interrupt at the register A rate', async (t) => {
  const { read, write, run, irq, clock } = makeRtc();
  write(RTC_REG_A, 0x26); // 1024 Hz
  write(RTC_REG_B, REG_B_24H | REG_B_PIE);
  const start = clock.now();
  let n = 0;
  let allPeriodic = true;
  while (n < 1024) {
    run(100_000);
    if (irq.level) {
      allPeriodic &&= (read(RTC_REG_C) & REG_C_PF) !== 0;
      n++;
    }
  }
  t.ok(allPeriodic, 'every interrupt reports PF');
  t.ok(Math.abs(clock.now() - start - 1_000_000_000) <= 100_000, '1024 interrupts in one second');
  write(RTC_REG_B, REG_B_24H);
  run(10_000_000);
  t.ok(read(RTC_REG_C) & REG_C_PF, 'PF still latches with PIE off');
  t.equal(irq.level, false);
});

t.test('alarm interrupt with a do-not-care hour', async (t) => {
  const { read, write, run, irq } = makeRtc();
  write(RTC_SECONDS_ALARM, 0x10);
  write(RTC_MINUTES_ALARM, 0x40);
  write(RTC_HOURS_ALARM, 0xc0);
  write(RTC_REG_B, REG_B_24H | REG_B_AIE);
  run(4_000_000_000); // 22:40:09.5
  t.equal(irq.level, false);
  run(1_000_000_000); // 22:40:10.5
  t.equal(irq.level, true);
  t.equal(read(RTC_REG_C) & (REG_C_AF | REG_C_IRQF), REG_C_AF | REG_C_IRQF);
  run(1_000_000_000);
  t.equal(irq.level, false);
});

t.test('CMOS memory: machine-set sizes readable by firmware, clock registers protected', async (t) => {
  const { rtc, read, write } = makeRtc();
  t.ok(rtc.setCmosByte(0x34, 0x00));
  t.ok(rtc.setCmosByte(0x35, 0x3f));
  t.ok(rtc.setCmosByte(0x5b, 0x01));
  t.notOk(rtc.setCmosByte(RTC_SECONDS, 0x12));
  t.notOk(rtc.setCmosByte(0x80, 1));
  t.equal(read(0x35), 0x3f);
  write(0x50, 0xab);
  t.equal(rtc.getCmosByte(0x50), 0xab);
  t.equal(rtc.pioRead(0, 1), 0xff, 'index port is write-only');
});

t.test('garbage never throws; save/restore keeps time and flags', async (t) => {
  const { rtc } = makeRtc();
  t.doesNotThrow(() => {
    for (let i = 0; i < 512; i++) rtc.pioWrite(i % 3, 1, (i * 2654435761) >>> 0);
    rtc.pioWrite(1, 4, Number.NaN);
    rtc.pioRead(7, 2);
  });
  const fresh = makeRtc();
  fresh.write(RTC_REG_B, REG_B_24H | REG_B_UIE);
  fresh.run(3_000_000_000);
  const state = JSON.parse(JSON.stringify(fresh.rtc.save()));
  const other = makeRtc();
  other.run(123_456_789);
  other.rtc.restore(state);
  t.equal(other.read(RTC_SECONDS), 0x08);
  t.equal(other.irq.level, true, 'pending update interrupt restored');
  t.ok(other.read(RTC_REG_C) & REG_C_UF);
  other.run(1_000_000_000);
  t.equal(other.read(RTC_SECONDS), 0x09);
});

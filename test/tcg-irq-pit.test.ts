import t from 'tap';
import { Pit, PIT_HZ } from '../src/tcg-fallback/pit';
import { VirtualClock, ManualTimeSource } from '../src/tcg-fallback/clock';
import { SystemControlPort, PORTB_PIT2_OUT } from '../src/devices/legacy/system-control-port';
import { IoBus } from '../src/devices/bus';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { pitNsForTicks, pitTicksIn, toBcd16, fromBcd16 } from '../src/tcg-fallback/pit-channel';

function makePit() {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  const irq = new RecordingLine();
  const pit = new Pit({ clock, irq });
  const bus = new IoBus(memoryLogger());
  pit.register(bus);
  const portB = new SystemControlPort({ pit, nowNs: () => clock.now() });
  bus.registerPio(0x61, 1, portB, 'port 0x61');
  const out = (port: number, v: number) => bus.pioWrite(port, 1, v);
  const inb = (port: number) => bus.pioRead(port, 1);
  /** Move time forward, running timers at each deadline on the way as the CPU loop would. */
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
  return { host, clock, irq, pit, bus, out, inb, run };
}

const LATCH_HZ_100 = Math.round(PIT_HZ / 100); // 11932, Linux's LATCH for HZ=100

t.test('tick conversion is exact at the boundaries', async (t) => {
  for (const ticks of [1, 2, 11932, 65536, PIT_HZ, PIT_HZ * 3 + 7]) {
    const ns = pitNsForTicks(ticks);
    t.equal(pitTicksIn(ns), ticks, `tick ${ticks} begins at ${ns} ns`);
    t.equal(pitTicksIn(ns - 1), ticks - 1);
  }
  t.equal(fromBcd16(toBcd16(9999)), 9999);
  t.equal(toBcd16(1234), 0x1234);
});

t.test('mode 2 on channel 0: one IRQ0 per period at the right virtual time', async (t) => {
  const { out, irq, run, clock } = makePit();
  out(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2, binary
  out(0x40, LATCH_HZ_100 & 0xff);
  out(0x40, LATCH_HZ_100 >> 8);
  const periodNs = pitNsForTicks(LATCH_HZ_100);
  run(periodNs - 1);
  t.equal(irq.edges, 0, 'not before the first period ends');
  run(1);
  t.equal(irq.edges, 1);
  t.equal(irq.level, false, 'a pulse, so the next edge can latch');
  run(pitNsForTicks(100 * LATCH_HZ_100) - clock.now() - 1);
  t.equal(irq.edges, 99);
  run(1);
  t.equal(irq.edges, 100, 'exactly one per 11932 ticks');
  t.ok(clock.nextDeadline() !== undefined);
});

t.test('mode 0: a single IRQ0 at terminal count, held until reprogrammed', async (t) => {
  const { out, irq, run, clock } = makePit();
  out(0x43, 0x30);
  out(0x40, 0x00);
  out(0x40, 0x10); // 4096 ticks
  run(pitNsForTicks(4096) - 1);
  t.equal(irq.edges, 0);
  run(1);
  t.equal(irq.edges, 1);
  t.equal(irq.level, true);
  run(50_000_000);
  t.equal(irq.edges, 1, 'one shot');
  t.equal(clock.nextDeadline(), undefined);
  out(0x43, 0x30);
  t.equal(irq.level, false, 'a new control word drops OUT');
});

t.test('counter reads: live, latched, read-back status, BCD', async (t) => {
  const { out, inb, run } = makePit();
  out(0x43, 0x34);
  out(0x40, 0x00);
  out(0x40, 0x00); // 65536
  run(pitNsForTicks(1000));
  out(0x43, 0x00); // latch channel 0
  run(pitNsForTicks(500));
  const latched = inb(0x40) | (inb(0x40) << 8);
  t.equal(latched, 65536 - 1000, 'latched value ignores time after the latch');
  const live = inb(0x40) | (inb(0x40) << 8);
  t.equal(live, 65536 - 1500);
  // Read-back: status then count of channel 0.
  out(0x43, 0xc2);
  const status = inb(0x40);
  t.equal(status & 0x3f, 0x34, 'access mode and mode in the status byte');
  t.equal(inb(0x40) | (inb(0x40) << 8), 65536 - 1500);
  // BCD mode 0 on channel 1, lobyte only.
  out(0x43, 0x51); // channel 1, lobyte, mode 0, BCD
  out(0x41, 0x99);
  run(pitNsForTicks(9));
  t.equal(inb(0x41), 0x90, '99 - 9 = 90 in BCD');
});

t.test("Linux's pit_calibrate_tsc loop through port 0x61 ends after the right virtual time", async (t) => {
  const { out, inb, run, clock } = makePit();
  const latch = Math.floor(PIT_HZ / (1000 / 50)); // 50 ms
  out(0x61, (inb(0x61) & ~0x02) | 0x01); // gate high, speaker off
  out(0x43, 0xb0); // channel 2, lobyte/hibyte, mode 0, binary
  out(0x42, latch & 0xff);
  out(0x42, latch >> 8);
  const start = clock.now();
  let polls = 0;
  while ((inb(0x61) & PORTB_PIT2_OUT) === 0 && polls < 1_000_000) {
    run(10_000); // 10 us per loop iteration
    polls++;
  }
  const elapsed = clock.now() - start;
  t.ok(Math.abs(elapsed - 50_000_000) <= 10_000, `OUT rose after ${elapsed} ns`);
  // quick_pit_calibrate style: mode 0 with 0xffff, the MSB counts down.
  out(0x43, 0xb0);
  out(0x42, 0xff);
  out(0x42, 0xff);
  run(pitNsForTicks(256 * 10));
  inb(0x42);
  t.equal(inb(0x42), 0xff - 10, 'MSB after 2560 ticks');
  // Gate low pauses mode 0.
  out(0x61, 0x00);
  const before = (inb(0x42), inb(0x42));
  run(5_000_000);
  t.equal((inb(0x42), inb(0x42)), before);
});

t.test('hostile accesses never throw; save/restore continues counting', async (t) => {
  const { out, bus, pit, clock, run, host } = makePit();
  t.doesNotThrow(() => {
    for (let i = 0; i < 300; i++) bus.pioWrite(0x40 + (i % 4), 1, (i * 2654435761) >>> 0);
    bus.pioRead(0x43, 4);
    bus.pioWrite(0x40, 2, Number.NaN);
  });
  out(0x43, 0x34);
  out(0x40, 0x00);
  out(0x40, 0x01); // 256 ticks: faster than the minimum IRQ spacing
  run(10_000_000);
  const state = JSON.parse(JSON.stringify(pit.save()));
  const irq = new RecordingLine();
  const other = new Pit({ clock, irq });
  other.restore(state);
  t.same(other.save(), state);
  run(1_000_000);
  t.ok(irq.edges > 0 && irq.edges <= 11, `coalesced to at most one IRQ per 100 us: ${irq.edges}`);
  t.ok(host.ns > 0);
});

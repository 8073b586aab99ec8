import t from 'tap';
import { VirtualClock, ManualTimeSource, DeviceTimer } from '../src/tcg-fallback/clock';
import { TscClock } from '../src/tcg-fallback/clock-tsc';

t.test('virtual time follows the host while running and stands still while paused', async (t) => {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  host.advance(1000);
  t.equal(clock.now(), 0, 'not started yet');
  clock.resume();
  host.advance(500);
  t.equal(clock.now(), 500);
  clock.pause();
  host.advance(10_000);
  t.equal(clock.now(), 500, 'paused');
  clock.resume();
  host.advance(1);
  t.equal(clock.now(), 501);
});

t.test('timers run in deadline order, only when due, and can be cancelled', async (t) => {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  const ran: string[] = [];
  clock.schedule(300, () => ran.push('c'));
  const b = clock.schedule(200, () => ran.push('b'));
  clock.schedule(100, () => ran.push('a'));
  clock.schedule(100, () => ran.push('a2'));
  t.equal(clock.nextDeadline(), 100);
  t.equal(clock.runExpired(), 0);
  host.advance(150);
  t.equal(clock.runExpired(), 2);
  t.same(ran, ['a', 'a2'], 'same deadline: scheduling order');
  clock.cancel(b);
  t.equal(b.active, false);
  t.equal(clock.nextDeadline(), 300, 'cancelled timers are skipped');
  t.equal(clock.nsUntilNextDeadline(), 150);
  host.advance(1000);
  clock.runExpired();
  t.same(ran, ['a', 'a2', 'c']);
  t.equal(clock.nextDeadline(), undefined);
});

t.test('a callback may re-arm; a timer stuck in the past cannot hang runExpired', async (t) => {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  let fired = 0;
  const timer = new DeviceTimer(clock, (now) => {
    fired++;
    timer.arm(now); // pathological: always due
  });
  timer.arm(10);
  host.advance(10);
  const ran = clock.runExpired();
  t.ok(ran > 0 && ran <= 10_000);
  t.equal(fired, ran);
  timer.disarm();
  t.equal(clock.nextDeadline(), undefined);
});

t.test('advance() moves a paused clock; save/restore keeps time', async (t) => {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  let hit = false;
  clock.schedule(5_000, () => (hit = true));
  clock.advance(5_000);
  clock.runExpired();
  t.ok(hit);
  const s = clock.save();
  const other = new VirtualClock(host.now);
  other.restore(s);
  t.equal(other.now(), 5_000);
});

t.test('TSC follows virtual time at its frequency; deadlines convert back', async (t) => {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  const tsc = new TscClock(clock, 2_500_000_000);
  host.advance(1_000_000);
  t.equal(tsc.read(), 2_500_000n);
  t.equal(tsc.nsAt(5_000_000n), 2_000_000);
  tsc.write(100n);
  t.equal(tsc.read(), 100n);
  host.advance(1000);
  t.equal(tsc.read(), 2600n);
});

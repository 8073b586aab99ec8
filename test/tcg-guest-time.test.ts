// Guest time under the software CPU: instructions while running, host time
// while idle, host time before the CPU attaches; never a jump at a switch.
import t from 'tap';
import { ManualTimeSource, VirtualClock } from '../src/tcg-fallback/clock';
import { GuestTime } from '../src/tcg-fallback/guest-time';

function setup(): { host: ManualTimeSource; time: GuestTime; retire(n: number): void } {
  const host = new ManualTimeSource();
  host.ns = 5_000_000;
  const time = new GuestTime(host.now);
  let retired = 0;
  time.attach(() => retired, 1e9); // 1 ns per instruction keeps the arithmetic obvious
  return { host, time, retire: (n) => { retired += n; } };
}

t.test('before attach it is host time', async (t) => {
  const host = new ManualTimeSource();
  const time = new GuestTime(host.now);
  const start = time.now();
  host.advance(1000);
  t.equal(time.now() - start, 1000);
  t.notOk(time.countsInstructions);
});

t.test('while running, only retired instructions move time; host time does not', async (t) => {
  const { host, time, retire } = setup();
  time.leaveIdle();
  const start = time.now();
  host.advance(1_000_000);
  t.equal(time.now(), start, 'a slow host second is no guest time by itself');
  retire(2500);
  t.equal(time.now() - start, 2500, '2500 instructions at 1 GIPS are 2.5 µs');
});

t.test('while idle, host time moves it and instructions do not; switching never jumps', async (t) => {
  const { host, time, retire } = setup();
  time.leaveIdle();
  retire(100);
  const beforeIdle = time.now();
  time.enterIdle();
  t.equal(time.now(), beforeIdle, 'entering idle keeps the time');
  host.advance(7000);
  t.equal(time.now() - beforeIdle, 7000, 'a halted guest sees host time pass (its sleeps take real time)');
  retire(50); // e.g. counted while the mode was still idle
  const beforeRun = time.now();
  time.leaveIdle();
  t.equal(time.now(), beforeRun, 'leaving idle keeps the time');
  retire(30);
  t.equal(time.now() - beforeRun, 30);
});

t.test('a VirtualClock on it fires a timer after the instructions that reach the deadline', async (t) => {
  const { time, retire } = setup();
  const clock = new VirtualClock(time.now);
  clock.resume();
  time.leaveIdle();
  let fired = 0;
  clock.schedule(clock.now() + 4_000_000, () => { fired++; }); // a 4 ms tick
  retire(3_999_999);
  clock.runExpired();
  t.equal(fired, 0, 'not before');
  retire(1);
  clock.runExpired();
  t.equal(fired, 1, 'exactly at 4M instructions');
});

t.test('instructionsFor: how many instructions reach a deadline while running; nothing while idle', async (t) => {
  const { time } = setup();
  t.equal(time.instructionsFor(1000), undefined, 'idle: time follows the host, so no instruction count reaches it');
  time.leaveIdle();
  t.equal(time.instructionsFor(2500), 2500, 'at 1 GIPS, 2.5 µs is 2500 instructions');
  t.equal(time.instructionsFor(0.5), 1, 'a fraction rounds up: the deadline is reached, not missed by one');
  const before = new GuestTime(new ManualTimeSource().now);
  t.equal(before.instructionsFor(1000), undefined, 'not attached: host time');
});

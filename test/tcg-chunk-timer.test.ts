// A vCPU runs its slice in chunks whose size adapts to the code's speed (up
// to a million instructions in a hot compiled loop); a timer that falls due
// must still cut the chunk at its deadline, not at the end of a chunk.
import t from 'tap';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { SimpleRunControl } from '../src/accel';
import { createTcgAccelerator, TcgVcpu } from '../src/tcg-fallback/accelerator';
import { SEG_CS } from '../src/tcg-fallback/cpu-constants';
import { TIERS } from './tcg-jit-support';

/** Real mode at 0x1000: `spin: inc ax; jmp spin`. */
const SPIN = Uint8Array.of(0x40, 0xeb, 0xfd);

for (const tier of TIERS) {
  t.test(`${tier}: every chunk ends by the next timer deadline, counted in instructions`, async (t) => {
    let deadlineAt = 7_000; // total retired instructions at which the (pretend) timer is due
    const gaps: number[] = [];
    let v: TcgVcpu | undefined;
    const platform = {
      beforeRun: () => {
        const cpu = (v as TcgVcpu).cpu;
        // The timer fires once its deadline is reached; the next one is 7000 instructions on.
        if (cpu.instructionCount >= deadlineAt) {
          gaps.push(cpu.instructionCount - deadlineAt);
          deadlineAt += 7_000;
        }
      },
      instructionsUntilTimer: () => Math.max(0, deadlineAt - (v as TcgVcpu).cpu.instructionCount),
    };
    const accel = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus: new IoBus(memoryLogger()), control: new SimpleRunControl() },
      { translate: tier !== 'interp', platform, sliceMs: 50 });
    v = accel.vcpus[0] as TcgVcpu;
    if (v.cpu.jit !== undefined) v.cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
    accel.memory.write(0x1000, SPIN);
    v.cpu.segs[SEG_CS].base = 0; v.cpu.segs[SEG_CS].selector = 0; v.cpu.rip = 0x1000;
    t.equal(v.run().kind, 'kicked', 'the slice ends');
    t.ok(gaps.length >= 5, `the timer fired ${gaps.length} times in one slice`);
    t.same(gaps.filter((g) => g !== 0), [], 'each time exactly at its deadline');
  });
}

/** Real mode at 0x1000: `spin: pause; inc ax; jmp spin`. */
const PAUSE_SPIN = Uint8Array.of(0xf3, 0x90, 0x40, 0xeb, 0xfb);

for (const tier of TIERS) {
  t.test(`${tier}: a PAUSE spin reaches each timer deadline exactly, counting PAUSE's guest time`, async (t) => {
    let deadlineAt = 7_000; // guest time (instructions + PAUSE time) at which the (pretend) timer is due
    const gaps: number[] = [];
    let v: TcgVcpu | undefined;
    const now = (): number => (v as TcgVcpu).cpu.instructionCount + (v as TcgVcpu).cpu.pauseTime;
    const platform = {
      beforeRun: () => {
        if (now() >= deadlineAt) {
          gaps.push(now() - deadlineAt);
          deadlineAt += 7_000;
        }
      },
      instructionsUntilTimer: () => Math.max(0, deadlineAt - now()),
    };
    const accel = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus: new IoBus(memoryLogger()), control: new SimpleRunControl() },
      { translate: tier !== 'interp', platform, sliceMs: 20 });
    v = accel.vcpus[0] as TcgVcpu;
    if (v.cpu.jit !== undefined) v.cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
    accel.memory.write(0x1000, PAUSE_SPIN);
    v.cpu.segs[SEG_CS].base = 0; v.cpu.segs[SEG_CS].selector = 0; v.cpu.rip = 0x1000;
    t.equal(v.run().kind, 'kicked', 'the slice ends');
    t.ok(v.cpu.pauseTime > 50 * v.cpu.instructionCount / 3, `PAUSE time counted (${v.cpu.pauseTime} for ${v.cpu.instructionCount} instructions)`);
    t.ok(gaps.length >= 5, `the timer fired ${gaps.length} times in one slice`);
    t.same(gaps.filter((g) => g !== 0), [], 'each time exactly at its deadline');
  });
}

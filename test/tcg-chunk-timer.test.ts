// A vCPU runs its slice in chunks whose size adapts to the code's speed (up
// to a million instructions in a hot compiled loop); a timer that falls due
// must still cut the chunk at its deadline, not at the end of a chunk.
import t from 'tap';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { SimpleRunControl } from '../src/accel';
import { createTcgAccelerator, TcgVcpu } from '../src/tcg-fallback/accelerator';
import { Cpu } from '../src/tcg-fallback/cpu';
import { SEG_CS } from '../src/tcg-fallback/cpu-constants';
import { TIERS, Tier } from './tcg-jit-support';

/** Real mode at 0x1000: `spin: inc ax; jmp spin`. */
const SPIN = Uint8Array.of(0x40, 0xeb, 0xfd);

/** Real mode at 0x1000: `spin: pause; inc ax; jmp spin`. */
const PAUSE_SPIN = Uint8Array.of(0xf3, 0x90, 0x40, 0xeb, 0xfb);

/**
 * Runs `code` for one slice of `sliceMs` under a pretend timer due every 7000 units of
 * guest time (`now`, read from the CPU); returns how far past its deadline the timer
 * found guest time each time it fired, and the vCPU.
 */
function runWithTimer(tier: Tier, code: Uint8Array, sliceMs: number, now: (cpu: Cpu) => number): { gaps: number[]; v: TcgVcpu; kind: string } {
  let deadlineAt = 7_000;
  const gaps: number[] = [];
  let v: TcgVcpu | undefined;
  const time = (): number => now((v as TcgVcpu).cpu);
  const platform = {
    beforeRun: () => {
      // The timer fires once its deadline is reached; the next one is 7000 on.
      if (time() >= deadlineAt) {
        gaps.push(time() - deadlineAt);
        deadlineAt += 7_000;
      }
    },
    instructionsUntilTimer: () => Math.max(0, deadlineAt - time()),
  };
  const accel = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus: new IoBus(memoryLogger()), control: new SimpleRunControl() },
    { translate: tier !== 'interp', platform, sliceMs });
  v = accel.vcpus[0] as TcgVcpu;
  if (v.cpu.jit !== undefined) v.cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
  accel.memory.write(0x1000, code);
  v.cpu.segs[SEG_CS].base = 0; v.cpu.segs[SEG_CS].selector = 0; v.cpu.rip = 0x1000;
  const kind = v.run().kind;
  return { gaps, v, kind };
}

for (const tier of TIERS) {
  t.test(`${tier}: every chunk ends by the next timer deadline, counted in instructions`, async (t) => {
    const { gaps, kind } = runWithTimer(tier, SPIN, 50, (cpu) => cpu.instructionCount);
    t.equal(kind, 'kicked', 'the slice ends');
    t.ok(gaps.length >= 5, `the timer fired ${gaps.length} times in one slice`);
    t.same(gaps.filter((g) => g !== 0), [], 'each time exactly at its deadline');
  });
}

for (const tier of TIERS) {
  t.test(`${tier}: a PAUSE spin reaches each timer deadline exactly, counting PAUSE's guest time`, async (t) => {
    const { gaps, v, kind } = runWithTimer(tier, PAUSE_SPIN, 20, (cpu) => cpu.instructionCount + cpu.pauseTime);
    t.equal(kind, 'kicked', 'the slice ends');
    t.ok(v.cpu.pauseTime > 50 * v.cpu.instructionCount / 3, `PAUSE time counted (${v.cpu.pauseTime} for ${v.cpu.instructionCount} instructions)`);
    t.ok(gaps.length >= 5, `the timer fired ${gaps.length} times in one slice`);
    t.same(gaps.filter((g) => g !== 0), [], 'each time exactly at its deadline');
  });
}

/**
 * PAUSE (the spin-wait hint) ends a vCPU's slice when the machine has more
 * vCPUs: they run round-robin on one thread, so a vCPU spinning on a lock
 * held by another would otherwise burn its whole slice (4 ms) per turn. With
 * one vCPU the slice runs on, and each PAUSE counts as about a hundred
 * instructions of guest time (Cpu.pauseTime), as it takes on the order of a
 * hundred cycles on recent cores; the chunk it is in goes on with its budget
 * cut by that time rather than ending at every PAUSE.
 */
import t from 'tap';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { SimpleRunControl } from '../src/accel';
import { createTcgAccelerator, TcgVcpu } from '../src/tcg-fallback/accelerator';
import { SEG_CS } from '../src/tcg-fallback/cpu-constants';
import { PAUSE_EXTRA_INSTRUCTIONS } from '../src/tcg-fallback/ops-integer';
import { TIERS } from './tcg-jit-support';

/** Real mode at 0x1000: `spin: pause; jmp spin`. */
const SPIN = Uint8Array.of(0xf3, 0x90, 0xeb, 0xfc);

/**
 * A vCPU spinning on PAUSE. The slice is 50 ms rather than the default 4, so that
 * compiling the first blocks on a loaded host does not use the slice up before the
 * spin gets going (the one-vCPU tests count PAUSEs in a slice).
 */
function spinner(cpus: number, translate: boolean): TcgVcpu {
  const accel = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus, bus: new IoBus(memoryLogger()), control: new SimpleRunControl() },
    { translate, sliceMs: 50 });
  const v = accel.vcpus[0] as TcgVcpu;
  accel.memory.write(0x1000, SPIN);
  v.cpu.segs[SEG_CS].base = 0; v.cpu.segs[SEG_CS].selector = 0; v.cpu.rip = 0x1000;
  return v;
}

for (const tier of TIERS) {
  const translate = tier !== 'interp';
  t.test(`${tier}: with two vCPUs a PAUSE gives the slice up at once`, async (t) => {
    const v = spinner(2, translate);
    if (v.cpu.jit !== undefined) v.cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
    const stop = v.run();
    t.equal(stop.kind, 'kicked', 'the run returns so the next vCPU can go');
    t.ok(v.cpu.instructionCount <= 2, `stopped right after the PAUSE (${v.cpu.instructionCount} instructions)`);
    v.run();
    t.ok(v.cpu.instructionCount <= 4, 'and again on the next turn');
  });
  t.test(`${tier}: with one vCPU the slice runs on, and each PAUSE spends ${PAUSE_EXTRA_INSTRUCTIONS + 1} instructions of guest time`, async (t) => {
    const v = spinner(1, translate);
    if (v.cpu.jit !== undefined) v.cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
    let chunks = 0;
    const execute = v.cpu.execute.bind(v.cpu);
    v.cpu.execute = (budget: number, stopAt?: number): number => { chunks++; return execute(budget, stopAt); };
    t.equal(v.run().kind, 'kicked', 'the slice ends at its deadline');
    const pauses = Math.ceil(v.cpu.instructionCount / 2); // the loop is PAUSE, JMP
    t.ok(pauses > 100, `the slice ran on past the first PAUSE (${pauses} of them)`);
    // The last PAUSE of each chunk gets only what is left of the chunk's guest time.
    t.ok(v.cpu.pauseTime >= (pauses - chunks) * PAUSE_EXTRA_INSTRUCTIONS && v.cpu.pauseTime <= pauses * PAUSE_EXTRA_INSTRUCTIONS,
      `guest time spent in PAUSE: ${v.cpu.pauseTime} for ${pauses} PAUSEs in ${chunks} chunks`);
  });
  t.test(`${tier}: with one vCPU a PAUSE spin goes on within its chunk instead of ending it`, async (t) => {
    const v = spinner(1, translate);
    if (v.cpu.jit !== undefined) v.cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
    let runs = 0;
    const execute = v.cpu.execute.bind(v.cpu);
    v.cpu.execute = (budget: number, stopAt?: number): number => { runs++; return execute(budget, stopAt); };
    v.run();
    const pauses = Math.ceil(v.cpu.instructionCount / 2);
    // Each chunk holds its budget's guest time in PAUSEs (a hundred instructions each), not one PAUSE.
    t.ok(pauses > 10 * runs, `${pauses} PAUSEs in ${runs} chunks`);
  });
}

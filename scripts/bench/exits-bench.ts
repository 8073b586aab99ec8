/**
 * PIO exit round trip: tsvisor (KvmVcpu.run dispatching to the TypeScript
 * IoBus) against the C baseline (exits-baseline.c, the same VM and guest in
 * the tightest KVM_RUN loop). Runs alternate between the two so that noise
 * from other processes hits both alike; medians are reported.
 *
 * usage (via scripts/bench/exits): node exits-bench.js <baseline-binary> [exits-per-run] [runs]
 */
import { spawnSync } from 'node:child_process';
import { SimpleRunControl } from '../../src/accel';
import { AccessSize, IoBus, PioDevice } from '../../src/devices/bus';
import { createKvmAccelerator } from '../../src/kvm/accelerator';
import { setupRawMode } from '../../src/machine/cpu-mode-setup';

const CODE = 0x8000;
const SCRATCH = 0x10000;
const COUNT_PORT = 0x10;
const DONE_PORT = 0xf4;
/** 1: out %al,$0x10; dec %rcx; jnz 1b; out %al,$0xf4; 2: jmp 2b -- the same bytes as exits-baseline.c. */
const GUEST = Uint8Array.of(0xe6, 0x10, 0x48, 0xff, 0xc9, 0x75, 0xf9, 0xe6, 0xf4, 0xeb, 0xfe);

class CountingPort implements PioDevice {
  sum = 0;
  constructor(private readonly done: () => void) {}
  pioRead(): number { return 0; }
  pioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset === DONE_PORT - COUNT_PORT) this.done();
    else this.sum += value;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function main(): void {
  const [baseline, exitsArg, runsArg] = process.argv.slice(2);
  if (!baseline) throw new Error('usage: exits-bench.js <baseline-binary> [exits-per-run] [runs]');
  const exits = Number(exitsArg ?? 200000);
  const runs = Math.max(5, Number(runsArg ?? 5));

  const control = new SimpleRunControl();
  const bus = new IoBus();
  bus.registerPio(COUNT_PORT, DONE_PORT - COUNT_PORT + 1, new CountingPort(() => control.requestStop()), 'bench');
  const acc = createKvmAccelerator({ ram: [{ guestAddress: 0, size: 0x200000 }], cpus: 1, bus, control });
  const vcpu = acc.vcpus[0];
  acc.memory.write(CODE, GUEST);
  setupRawMode(vcpu, acc.memory, 64, CODE, SCRATCH);

  interface Sample { wall: number; cpu: number }
  const runTsvisor = (n: number): Sample => {
    const regs = vcpu.getRegisters();
    regs.rip = BigInt(CODE);
    regs.rcx = BigInt(n);
    vcpu.setRegisters(regs);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const stop = vcpu.run();
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(c0);
    if (stop.kind !== 'kicked') throw new Error(`tsvisor run ended with ${JSON.stringify(stop)}`);
    // Process CPU time: every Node thread (GC included) is charged to tsvisor.
    return { wall: ns / 1000 / (n + 1), cpu: (cpu.user + cpu.system) / (n + 1) };
  };
  const runBaseline = (n: number): Sample => {
    const r = spawnSync(baseline, [String(n), '1'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
    const [wall, cpu] = r.stdout.trim().split(/\s+/).map(Number);
    return { wall, cpu };
  };

  // Warm-up: lets V8 optimise the exit path and faults in the guest pages.
  runTsvisor(Math.min(exits, 20000));
  runBaseline(Math.min(exits, 20000));

  const ts: Sample[] = [];
  const c: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    c.push(runBaseline(exits));
    ts.push(runTsvisor(exits));
  }
  acc.destroy();

  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  console.log(`PIO exit round trip, ${exits} exits per run, ${runs} runs each (alternating), median us/exit:`);
  for (const metric of ['wall', 'cpu'] as const) {
    const cs = c.map((s) => s[metric]);
    const tss = ts.map((s) => s[metric]);
    // Each pair ran back to back, so its ratio cancels much of the load other processes put on the host.
    const pairs = tss.map((x, i) => x / cs[i]);
    console.log(`${metric === 'wall' ? 'wall-clock time' : 'process CPU time'}:`);
    console.log(`  C baseline (KVM_RUN loop):       ${median(cs).toFixed(2)}   [${fmt(cs)}]`);
    console.log(`  tsvisor (KvmVcpu.run + IoBus):   ${median(tss).toFixed(2)}   [${fmt(tss)}]`);
    console.log(`  ratio of medians tsvisor / C:    ${(median(tss) / median(cs)).toFixed(3)}x   (goal <= 1.2x)`);
    console.log(`  median of per-pair ratios:       ${median(pairs).toFixed(3)}x`);
  }
}

main();

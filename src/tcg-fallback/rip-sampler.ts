/**
 * Developer aid: TSVISOR_RIP_PROFILE=FILE records where guest time goes.
 * After each chunk of instructions the vCPU's RIP is charged with the host
 * time the chunk took; every few seconds the totals are written to FILE as
 * "milliseconds rip" lines, heaviest first (symbolize with the guest's
 * /proc/kallsyms, booted with nokaslr).
 *
 * Biased: a chunk ends in the block that crosses its instruction budget, so
 * a long compiled loop (thousands of instructions a call) ends, and is
 * charged, far more chunks than the host time it takes; in a boot it put the
 * kernel's RSA loops at 4.1 s where V8's profiler measured 1.6 s. For host
 * time use TSVISOR_CPU_PROFILE and `scripts/profile-symbols KALLSYMS
 * --cpu-profile FILE`; this one shows rather where instructions go.
 */
import { writeFileSync } from 'node:fs';

export class RipSampler {
  private readonly totals = new Map<number, number>();
  private last = performance.now();
  private lastWrite = this.last;

  /** Extra lines written first, as "# ..." comments (the translator's counters). */
  stats: (() => string) | undefined;

  constructor(private readonly file: string) {}

  static fromEnv(): RipSampler | undefined {
    const file = process.env.TSVISOR_RIP_PROFILE;
    return file ? new RipSampler(file) : undefined;
  }

  /** A run slice starts: time spent outside the CPU is not charged to guest code. */
  resume(): void { this.last = performance.now(); }

  sample(rip: number): void {
    const now = performance.now();
    this.totals.set(rip, (this.totals.get(rip) ?? 0) + (now - this.last));
    this.last = now;
    if (now - this.lastWrite > 5000) { this.lastWrite = now; this.write(); }
  }

  private write(): void {
    const rows = [...this.totals].sort((a, b) => b[1] - a[1]);
    const hex = (rip: number): string => (rip < 0 ? BigInt.asUintN(64, BigInt(rip)) : BigInt(rip)).toString(16);
    const head = this.stats ? `# ${this.stats()}\n` : '';
    writeFileSync(this.file, head + rows.map(([rip, ms]) => `${ms.toFixed(3)} ${hex(rip)}`).join('\n') + '\n');
  }
}

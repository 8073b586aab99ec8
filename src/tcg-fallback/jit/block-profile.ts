/**
 * Developer aid: TSVISOR_BLOCK_PROFILE=FILE counts, per block (by its first
 * RIP), the guest instructions it retired as compiled code and in tier 1, and
 * how often each ran. Every few seconds FILE is rewritten with one line per
 * block, "rip compiledInstructions compiledCalls tier1Instructions tier1Runs"
 * (rip in hex). Joined with TSVISOR_RIP_PROFILE by scripts/profile-symbols,
 * it gives host nanoseconds per guest instruction for each guest function,
 * which tells code that is slow per instruction from code that simply runs
 * a lot.
 */
import { writeFileSync } from 'node:fs';

/** Counters of one block: compiled instructions and calls, tier-1 instructions and runs. */
type Counts = [number, number, number, number];

export class BlockProfile {
  private readonly counts = new Map<number, Counts>();
  private lastWrite = Date.now();
  private sinceCheck = 0;

  constructor(private readonly file: string) {}

  static fromEnv(): BlockProfile | undefined {
    const file = typeof process !== 'undefined' ? process.env.TSVISOR_BLOCK_PROFILE : undefined;
    return file ? new BlockProfile(file) : undefined;
  }

  compiled(rip: number, retired: number): void {
    const c = this.entry(rip);
    c[0] += retired;
    c[1]++;
  }

  decoded(rip: number, run: number): void {
    const c = this.entry(rip);
    c[2] += run;
    c[3]++;
  }

  private entry(rip: number): Counts {
    let c = this.counts.get(rip);
    if (c === undefined) {
      c = [0, 0, 0, 0];
      this.counts.set(rip, c);
    }
    // Date.now() is checked every 64Ki records, not at each.
    if (++this.sinceCheck >= 65536) {
      this.sinceCheck = 0;
      const now = Date.now();
      if (now - this.lastWrite > 5000) { this.lastWrite = now; this.write(); }
    }
    return c;
  }

  private write(): void {
    const hex = (rip: number): string => (rip < 0 ? BigInt.asUintN(64, BigInt(rip)) : BigInt(rip)).toString(16);
    const lines = [...this.counts].map(([rip, c]) => `${hex(rip)} ${c.join(' ')}`);
    writeFileSync(this.file, lines.join('\n') + '\n');
  }
}

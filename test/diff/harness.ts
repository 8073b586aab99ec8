/**
 * Runs groups of generated cases on the host and the software CPU and
 * collects mismatches. Shared by the tap tests and scripts/fuzz-cpu.
 */
import { DiffCase, Group, makeCase } from './cases';
import { CompareOptions, compareResults, describeCase } from './compare';
import { runNative } from './native';
import { Engine, withEngine } from './engines';
import { RunUserMode, cloneState } from './layout';

export interface GroupReport {
  group: Group;
  engine: Engine;
  cases: number;
  mismatches: number;
  /** Cases where the host faulted (useful to see the fault paths got exercised). */
  hostExceptions: number;
  /** Formatted reports of the first few mismatches. */
  examples: string[];
}

const BATCH = 400;

export function runGroup(group: Group, seeds: number[], runner: string, soft: RunUserMode, maxExamples = 3, opts: CompareOptions = {}, engine: Engine = 'interp'): GroupReport {
  const report: GroupReport = { group, engine, cases: 0, mismatches: 0, hostExceptions: 0, examples: [] };
  for (let b = 0; b < seeds.length; b += BATCH) {
    const cases = seeds.slice(b, b + BATCH).map((s) => makeCase(group, s));
    const native = runNative(runner, cases);
    cases.forEach((c, i) => {
      report.cases++;
      if (native[i].exception) report.hostExceptions++;
      const diffs = withEngine(engine, () => runSoft(c, soft, native[i], opts));
      if (diffs.length) {
        report.mismatches++;
        if (report.examples.length < maxExamples) report.examples.push(`[engine ${engine}] ${describeCase(c, diffs)}`);
      }
    });
  }
  return report;
}

function runSoft(c: DiffCase, soft: RunUserMode, native: ReturnType<typeof runNative>[number], opts: CompareOptions): string[] {
  const pages = c.pages.map((p) => ({ ...p, bytes: new Uint8Array(p.bytes) }));
  try {
    const result = soft({ pages, state: cloneState(c.state), stopAt: c.stopAt, maxInstructions: 100000 });
    return compareResults(c, native, result, pages.filter((p) => p.writable).map((p) => p.bytes), opts);
  } catch (e) {
    const err = e as Error;
    return [`software CPU threw: ${err.stack?.split('\n').slice(0, 4).join(' | ') ?? String(e)}`];
  }
}

/** Seeds for one group: a fixed range, so a failure is reproducible by seed. */
export function seedRange(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}

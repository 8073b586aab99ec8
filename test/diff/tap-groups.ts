/**
 * The tap side of the differential harness: one assertion per instruction
 * group, strict for SUPPORTED_GROUPS, `todo` for the rest.
 */
import t from 'tap';
import { Group, groupSupportedByHost, hostFeatures } from './cases';
import { runGroup, seedRange } from './harness';
import { buildRunner } from './native';
import { loadSoftCpu } from './soft';
import { ENGINES, Engine } from './engines';
import { SUPPORTED_GROUPS } from './supported-groups';

/** Sequences per group and engine in `npm test`; scripts/fuzz-cpu runs as many as asked. */
export const CASES_PER_GROUP: Record<Engine, number> = { interp: 1000, jit: 500, blocks: 500, wasm: 500 };

export function runDiffGroups(groups: Group[]): void {
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    t.plan(0, 'the host CPU is the reference: needs x86-64 Linux');
    return;
  }
  const soft = loadSoftCpu();
  if ('missing' in soft) {
    t.plan(0, `software CPU not available: ${soft.missing}`);
    return;
  }
  const runner = buildRunner();
  if ('error' in runner) {
    t.plan(0, `native runner unavailable: ${runner.error}`);
    return;
  }
  const features = hostFeatures();
  for (const group of groups) {
    const hostGap = groupSupportedByHost(group, features);
    if (hostGap) {
      t.test(`group ${group}`, { skip: hostGap }, async () => {});
      continue;
    }
    const supported = SUPPORTED_GROUPS.includes(group);
    // The todo goes on the assertion, not the subtest: tap does not run todo subtests at all.
    const todo = supported ? undefined : `group ${group} is not in test/diff/supported-groups.ts yet`;
    t.test(`group ${group}: software CPU matches the host`, async (tt) => {
      // Every engine: the interpreter, compiled blocks (compiled on first use), and tier-1 blocks.
      for (const engine of ENGINES) {
        const report = runGroup(group, seedRange(1, CASES_PER_GROUP[engine]), runner.path, soft.run, 3, {}, engine);
        const message = `${group} (${engine}): ${report.mismatches}/${report.cases} cases differ (host faulted in ${report.hostExceptions})`;
        if (todo && report.examples.length) tt.comment(`first mismatch of ${group} (${engine}):\n${report.examples[0]}`);
        tt.equal(report.mismatches, 0, message, {
          todo,
          diag: report.examples.length ? { examples: report.examples.join('\n\n') } : undefined,
        });
      }
    });
  }
}

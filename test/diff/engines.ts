/**
 * The software CPU has two engines (src/tcg-fallback/jit/mode.ts): the
 * interpreter and compiled blocks. Each Cpu reads TSVISOR_TCG and
 * TSVISOR_JIT_THRESHOLD when it is built, so a run can pick one by setting
 * them around runUserMode. For `jit` the threshold is 0: every block is
 * compiled on first use, since a test case runs each block only once.
 */
export type Engine = 'interp' | 'jit';
export const ENGINES: readonly Engine[] = ['interp', 'jit'];

export function withEngine<T>(engine: Engine, fn: () => T): T {
  const saved = { tcg: process.env.TSVISOR_TCG, threshold: process.env.TSVISOR_JIT_THRESHOLD };
  process.env.TSVISOR_TCG = engine;
  if (engine === 'jit') process.env.TSVISOR_JIT_THRESHOLD = '0';
  else delete process.env.TSVISOR_JIT_THRESHOLD;
  try {
    return fn();
  } finally {
    if (saved.tcg === undefined) delete process.env.TSVISOR_TCG; else process.env.TSVISOR_TCG = saved.tcg;
    if (saved.threshold === undefined) delete process.env.TSVISOR_JIT_THRESHOLD; else process.env.TSVISOR_JIT_THRESHOLD = saved.threshold;
  }
}

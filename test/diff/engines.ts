/**
 * The software CPU has two engines (src/tcg-fallback/jit/mode.ts): the
 * interpreter and the translator, whose blocks run in tier 1 (decoded
 * instructions through handlers, some specialised: jit/tier1-handlers.ts)
 * until they are hot enough to be compiled. Each Cpu reads TSVISOR_TCG and
 * TSVISOR_JIT_THRESHOLD when it is built, so a run can pick one by setting
 * them around runUserMode. `jit` compiles every block on first use (a test
 * case runs each block only once); `blocks` never compiles, so every
 * instruction goes through tier 1.
 */
export type Engine = 'interp' | 'jit' | 'blocks';
export const ENGINES: readonly Engine[] = ['interp', 'jit', 'blocks'];

/** A threshold no test case reaches: tier 1 only. */
const NEVER = '1e15';

export function withEngine<T>(engine: Engine, fn: () => T): T {
  const saved = { tcg: process.env.TSVISOR_TCG, threshold: process.env.TSVISOR_JIT_THRESHOLD };
  process.env.TSVISOR_TCG = engine === 'interp' ? 'interp' : 'jit';
  if (engine === 'interp') delete process.env.TSVISOR_JIT_THRESHOLD;
  else process.env.TSVISOR_JIT_THRESHOLD = engine === 'jit' ? '0' : NEVER;
  try {
    return fn();
  } finally {
    if (saved.tcg === undefined) delete process.env.TSVISOR_TCG; else process.env.TSVISOR_TCG = saved.tcg;
    if (saved.threshold === undefined) delete process.env.TSVISOR_JIT_THRESHOLD; else process.env.TSVISOR_JIT_THRESHOLD = saved.threshold;
  }
}

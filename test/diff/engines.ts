/**
 * The software CPU has two engines (src/tcg-fallback/jit/mode.ts): the
 * interpreter and the translator, whose blocks run in tier 1 (decoded
 * instructions through handlers, some specialised: jit/tier1-handlers.ts)
 * until they are hot enough to be compiled. Each Cpu reads TSVISOR_TCG and
 * TSVISOR_JIT_THRESHOLD when it is built, so a run can pick one by setting
 * them around runUserMode. `jit` compiles every block on first use (a test
 * case runs each block only once); `blocks` never compiles, so every
 * instruction goes through tier 1; `wasm` translates every 64-bit block to
 * WebAssembly before its first run (TSVISOR_WASM and its threshold and batch;
 * the other engines run without that tier).
 */
export type Engine = 'interp' | 'jit' | 'blocks' | 'wasm';
export const ENGINES: readonly Engine[] = ['interp', 'jit', 'blocks', 'wasm'];

const VARIABLES = ['TSVISOR_TCG', 'TSVISOR_JIT_THRESHOLD', 'TSVISOR_WASM', 'TSVISOR_WASM_THRESHOLD', 'TSVISOR_WASM_BATCH'];

/** A threshold no test case reaches: tier 1 only. */
const NEVER = '1e15';

export function withEngine<T>(engine: Engine, fn: () => T): T {
  const saved = VARIABLES.map((name) => process.env[name]);
  const set = (name: string, value: string | undefined): void => { if (value === undefined) delete process.env[name]; else process.env[name] = value; };
  set('TSVISOR_TCG', engine === 'interp' ? 'interp' : 'jit');
  set('TSVISOR_JIT_THRESHOLD', engine === 'interp' ? undefined : engine === 'jit' ? '0' : NEVER);
  set('TSVISOR_WASM', engine === 'wasm' ? '1' : '0');
  set('TSVISOR_WASM_THRESHOLD', engine === 'wasm' ? '0' : undefined);
  set('TSVISOR_WASM_BATCH', engine === 'wasm' ? '1' : undefined);
  try {
    return fn();
  } finally {
    VARIABLES.forEach((name, k) => set(name, saved[k]));
  }
}

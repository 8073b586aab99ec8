/**
 * Which execution engine the software CPU uses: the interpreter alone
 * (`interp`, the reference) or the block cache in front of it (`jit`).
 * TSVISOR_TCG selects it for tests and benchmarks; createTcgAccelerator's
 * `translate` option overrides it per machine.
 */
export type TcgEngine = 'interp' | 'jit';

/** The engine used when neither the environment nor the caller chooses. */
export const DEFAULT_ENGINE: TcgEngine = 'jit';

export function engineFromEnv(): TcgEngine {
  const v = typeof process !== 'undefined' ? process.env.TSVISOR_TCG : undefined;
  if (v === 'interp' || v === 'jit') return v;
  return DEFAULT_ENGINE;
}

/** Executions of a block before it is compiled to a JavaScript function (TSVISOR_JIT_THRESHOLD overrides; 0 compiles at once). */
export function compileThresholdFromEnv(): number {
  const v = typeof process !== 'undefined' ? process.env.TSVISOR_JIT_THRESHOLD : undefined;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_COMPILE_THRESHOLD;
}

export const DEFAULT_COMPILE_THRESHOLD = 20;

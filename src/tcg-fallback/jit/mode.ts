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

/**
 * Generating and V8-compiling one block costs on the order of a millisecond, while a
 * decoded (tier-1) block runs its instructions through the handlers at some tens of
 * nanoseconds each: compiling pays only after thousands of runs. Measured on the Debian
 * cloud kernel's boot, three thresholds side by side on one loaded machine: 20, 300 and
 * 2000 took 235 s, 88 s and 44 s; in a second set 2000, 10000 and 100000 took 57 s,
 * 52 s and 52 s.
 */
export const DEFAULT_COMPILE_THRESHOLD = 5000;

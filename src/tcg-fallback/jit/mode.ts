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

/** A non-negative number from environment variable `name`, else `fallback`. */
export function numberFromEnv(name: string, fallback: number): number {
  const v = typeof process !== 'undefined' ? process.env[name] : undefined;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Executions of a block before it is compiled to a JavaScript function (TSVISOR_JIT_THRESHOLD overrides; 0 compiles at once). */
export function compileThresholdFromEnv(): number {
  return numberFromEnv('TSVISOR_JIT_THRESHOLD', DEFAULT_COMPILE_THRESHOLD);
}

/**
 * Generating and V8-compiling one block costs about 2 ms all told (codegen, `new
 * Function`, V8's own tiers), while a decoded (tier-1) block runs its instructions
 * through the handlers at some tens of nanoseconds each: compiling pays only after
 * thousands of runs. Measured on the Debian cloud kernel's boot (time to poweroff, two
 * runs each, 2026-11-25, with registers in locals): 2000: 27.1/27.1 s, 5000: 26.1/26.2 s,
 * 10000: 24.8/25.2 s, 20000: 26.3/25.5 s, 40000: 28.4/27.9 s. Guest-to-host TCP: 0.35
 * MB/s at 10000 against 0.31 at 5000. (Earlier, slower generated code: 20, 300 and
 * 2000 took 235, 88 and 44 s.) Once tier 1 ran specialised handlers (tier1-handlers.ts,
 * third session) the best moved up a little: boot to the /init marker, 10000:
 * 18.3/17.8 s, 15000: 18.0/17.7/17.4 s, 25000: 17.9/17.9 s.
 */
export const DEFAULT_COMPILE_THRESHOLD = 15000;

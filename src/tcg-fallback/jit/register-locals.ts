/**
 * Registers in JavaScript locals for self-loops that touch nothing but
 * registers and flags. Generated code reads and writes guest registers
 * through the typed arrays `lo`/`hi` (so any call out, fault or return sees
 * them); in a loop that never calls out and cannot fault, those loads and
 * stores are pure overhead on every iteration. This rewrites such a loop's
 * body to use locals, loaded once before the loop and stored back before
 * every return; the fields of the lazy-flags record it stores likewise (the
 * LazyFlags fields are plain numbers; any method call on it keeps them on
 * the object). Loops with anything else (memory access, handler calls,
 * branches through the CPU) are left unchanged.
 */

/** True when no statement can call into the CPU, fault, or touch memory (only `cpu.rip = ...` before a return). */
function registerOnly(lines: readonly string[]): boolean {
  return lines.every((l) => !/\bcpu\.|\bh\[|\bT\.|\bCP\[/.test(l.replace(/\bcpu\.rip = /g, '')));
}

/**
 * The loop body with lo[N]/hi[N] replaced by locals, or undefined when the
 * body is not register-only. Returns the prologue (loads) separately: it
 * must run before the loop.
 */
export function localizeRegisters(lines: readonly string[]): { prologue: string; body: string[] } | undefined {
  if (!registerOnly(lines)) return undefined;
  const used = new Set<string>();
  for (const l of lines) for (const m of l.matchAll(/\b(lo|hi)\[(\d+)\]/g)) used.add(`${m[1]}[${m[2]}]`);
  if (used.size === 0) return undefined;
  const local = (ref: string): string => ref.replace(/^(lo|hi)\[(\d+)\]$/, (_, half: string, r: string) => `r${half === 'lo' ? 'l' : 'h'}${r}`);
  const refs = [...used];
  // The lazy-flags record too, unless the loop asks LazyFlags for a flag (a method call would read the object).
  const flagFields = new Set<string>();
  if (!lines.some((l) => /\bf\.\w+\(/.test(l))) for (const l of lines) for (const m of l.matchAll(/\bf\.(\w+)\b/g)) flagFields.add(m[1]);
  const loads = [...refs.map((r) => `${local(r)} = ${r}`), ...[...flagFields].map((x) => `f_${x} = f.${x}`)];
  const prologue = `let ${loads.join(', ')};`;
  const writeBack = [...refs.map((r) => `${r} = ${local(r)};`), ...[...flagFields].map((x) => `f.${x} = f_${x};`)].join(' ');
  const body = lines.map((l) => {
    let out = l
      // A store to a Uint32Array wraps to 32 bits: keep that on the local.
      .replace(/\b(lo|hi)\[(\d+)\] = ([^;]+);/g, (_, half: string, r: string, v: string) => `${local(`${half}[${r}]`)} = (${v}) >>> 0;`)
      .replace(/\b(lo|hi)\[(\d+)\]/g, (ref: string) => local(ref));
    if (flagFields.size > 0) out = out.replace(/\bf\.(\w+)\b/g, (_, x: string) => `f_${x}`);
    return out.replace(/\breturn ([^;]*);/g, (_, v: string) => `{ ${writeBack} return ${v}; }`);
  });
  return { prologue, body };
}

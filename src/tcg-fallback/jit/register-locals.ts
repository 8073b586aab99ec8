/**
 * Guest registers and the lazy-flags record in JavaScript locals for a
 * whole compiled block. The emitters write generated code against the CPU's
 * typed arrays `lo`/`hi` and the LazyFlags object `f`, which is simple and
 * always correct, but costs a load or store per use, and V8 cannot keep a
 * value of `lo` in a machine register across a store to `hi` (the two
 * arrays might alias). This pass rewrites the finished block instead:
 *
 * - every `lo[N]`/`hi[N]` and every field of `f` becomes a local, loaded
 *   once at entry (for a self-loop: before the loop);
 * - the locals the block assigns are written back before every `return`,
 *   and before every call out of the generated code (a handler, a CPU
 *   slow path, a LazyFlags method), since the callee may read them or
 *   raise a guest exception whose frame and state must be precise;
 * - after a call that may change them (a handler; PUSH/POP through the CPU
 *   moves RSP; LazyFlags methods write the record) they are loaded again.
 *
 * Calls sit on slow paths (TLB misses) or in instructions the translator
 * does not inline, so the fast path keeps everything in locals.
 */

const REGISTER_REF = /\b(lo|hi)\[(\d+)\]/g;
/** An assignment to a register half: the statement `lo[N] = value;`. */
const REGISTER_ASSIGN = /\b(lo|hi)\[(\d+)\] = ([^;]+);/g;
/** A field of the lazy-flags record (not a method call). */
const FLAG_REF = /\bf\.([a-zA-Z]\w*)\b(?!\s*\()/g;
const FLAG_ASSIGN = /\bf\.([a-zA-Z]\w*) = (?!=)/;
/** The start of a call out of generated code: a CPU method, a handler, a LazyFlags method. */
const CALL_START = /\bcpu\.(\w+)\(|\bh\[\d+\]\(|\bf\.(\w+)\(/g;
/** CPU methods that change registers (RSP), so the locals are loaded again after them. */
const CPU_METHODS_WRITING_REGISTERS = new Set(['push', 'pop']);

function local(half: string, reg: string): string {
  return `r${half === 'lo' ? 'l' : 'h'}${reg}`;
}

/** The index of the parenthesis closing the one at `open`. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  throw new Error(`register-locals: unbalanced call in generated code: ${text.slice(open, open + 80)}`);
}

interface Sync {
  /** Expression writing back the assigned registers and the flag fields, or '' when nothing to write. */
  writeRegsAndFlags: string;
  writeFlags: string;
  reloadAll: string;
  reloadFlags: string;
}

/** Wraps every call in `text` as `(writeBack, call)` or `(writeBack, _c = call, reload, _c)`. */
function wrapCalls(text: string, sync: Sync): string {
  let out = '';
  let at = 0;
  CALL_START.lastIndex = 0;
  for (;;) {
    CALL_START.lastIndex = at;
    const m = CALL_START.exec(text);
    if (m === null) break;
    const open = m.index + m[0].length - 1;
    const close = closingParen(text, open);
    const callee = text.slice(m.index, open);
    const call = `${callee}(${wrapCalls(text.slice(open + 1, close), sync)})`;
    const flagMethod = m[2] !== undefined;
    const before = flagMethod ? sync.writeFlags : sync.writeRegsAndFlags;
    const after = flagMethod ? sync.reloadFlags
      : m[1] === undefined || CPU_METHODS_WRITING_REGISTERS.has(m[1]) ? sync.reloadAll : '';
    const parts = [before, after === '' ? call : `_c = ${call}`, after, after === '' ? '' : '_c'].filter((p) => p !== '');
    out += text.slice(at, m.index) + (parts.length === 1 ? call : `(${parts.join(', ')})`);
    at = close + 1;
  }
  return out + text.slice(at);
}

/**
 * The block's lines with registers and flag fields in locals, and the
 * declarations that load them (to run once, before the lines and before a
 * self-loop's loop). Undefined when the block touches none.
 */
export function localizeRegisters(lines: readonly string[]): { prologue: string; body: string[] } | undefined {
  const text = lines.join('\n');
  const refs = new Map<string, [string, string]>();
  for (const m of text.matchAll(REGISTER_REF)) refs.set(`${m[1]}[${m[2]}]`, [m[1], m[2]]);
  const assigned = new Set<string>();
  for (const m of text.matchAll(REGISTER_ASSIGN)) assigned.add(`${m[1]}[${m[2]}]`);
  // The flag record's fields, when the block stores any (blocks that only call its methods leave it alone).
  const fields = new Set<string>();
  if (FLAG_ASSIGN.test(text)) for (const m of text.matchAll(FLAG_REF)) fields.add(m[1]);
  if (refs.size === 0 && fields.size === 0) return undefined;

  const regWrites = [...assigned].map((ref) => { const [half, r] = refs.get(ref) as [string, string]; return `${ref} = ${local(half, r)}`; });
  const flagWrites = [...fields].map((x) => `f.${x} = f_${x}`);
  const regLoads = [...refs].map(([ref, [half, r]]) => `${local(half, r)} = ${ref}`);
  const flagLoads = [...fields].map((x) => `f_${x} = f.${x}`);
  const sync: Sync = {
    writeRegsAndFlags: [...regWrites, ...flagWrites].join(', '),
    writeFlags: flagWrites.join(', '),
    reloadAll: [...regLoads, ...flagLoads].join(', '),
    reloadFlags: flagLoads.join(', '),
  };
  const returnWriteBack = [...regWrites, ...flagWrites].map((w) => `${w};`).join(' ');
  const body = lines.map((line) => {
    let l = line
      // A store to a Uint32Array wraps to 32 bits: keep that on the local.
      .replace(REGISTER_ASSIGN, (_, half: string, r: string, v: string) => `${local(half, r)} = (${v}) >>> 0;`)
      .replace(REGISTER_REF, (_, half: string, r: string) => local(half, r));
    if (fields.size > 0) l = l.replace(FLAG_REF, (_, x: string) => `f_${x}`);
    l = wrapCalls(l, sync);
    return returnWriteBack === '' ? l : l.replace(/\breturn ([^;]*);/g, (_, v: string) => `{ ${returnWriteBack} return ${v}; }`);
  });
  const prologue = `let _c, ${[...regLoads, ...flagLoads].join(', ')};`;
  return { prologue, body };
}

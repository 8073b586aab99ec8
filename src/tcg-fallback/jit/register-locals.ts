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
 * - the locals assigned so far are written back before every call out of
 *   the generated code (a handler, a CPU slow path, a LazyFlags method),
 *   since the callee may read them or raise a guest exception whose frame
 *   and state must be precise, and all the block assigns once, in an
 *   epilogue every return goes through (as a `break` out of a labelled
 *   block), so exits do not each carry a copy;
 * - after a call that may change them (a handler; PUSH/POP through the CPU
 *   moves RSP; LazyFlags methods write the record) those still to be read
 *   are loaded again.
 *
 * Calls sit on slow paths (TLB misses) or in instructions the translator
 * does not inline, so the fast path keeps everything in locals.
 */

const REGISTER_REF = /\b(lo|hi)\[(\d+)\]/g;
/** An assignment to a register half: the statement `lo[N] = value;`. */
const REGISTER_ASSIGN = /\b(lo|hi)\[(\d+)\] = ([^;]+);/g;
/** A field of the lazy-flags record (not a method call). */
const FLAG_REF = /\bf\.([a-zA-Z]\w*)\b(?!\s*\()/g;
const FLAG_ASSIGN = /\bf\.([a-zA-Z]\w*) = (?!=)/g;
/**
 * The label of the block holding the body: returns become `break` to it, so
 * the write-back is written once, after it, instead of at every exit.
 */
export const EXIT_LABEL = 'exit';
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
 * The block's lines with registers and flag fields in locals; the
 * declarations that load them (to run once, before the lines and before a
 * self-loop's loop); and the epilogue that writes them back and returns,
 * which must follow the block labelled EXIT_LABEL that holds the lines.
 * `loops`: the lines run as a loop body (everything may be dirty anywhere).
 * Undefined when the block touches none.
 */
export function localizeRegisters(lines: readonly string[], loops: boolean): { prologue: string; body: string[]; epilogue: string } | undefined {
  const text = lines.join('\n');
  const refs = new Map<string, [string, string]>();
  for (const m of text.matchAll(REGISTER_REF)) refs.set(`${m[1]}[${m[2]}]`, [m[1], m[2]]);
  const assigned = new Set<string>();
  for (const m of text.matchAll(REGISTER_ASSIGN)) assigned.add(`${m[1]}[${m[2]}]`);
  // The flag record's fields, when the block stores any (blocks that only call its methods leave it alone).
  const fields = new Set<string>();
  if (text.match(FLAG_ASSIGN) !== null) for (const m of text.matchAll(FLAG_REF)) fields.add(m[1]);
  if (refs.size === 0 && fields.size === 0) return undefined;

  // Per line: what may be dirty by then (assigned on an earlier or this line; in a loop, anywhere),
  // and what is read from then on or written back at the end (in a loop, everything). Writing back or
  // reloading more than that is harmless, so line granularity is enough.
  const lineRegs = lines.map((l) => [...l.matchAll(REGISTER_REF)].map((m) => `${m[1]}[${m[2]}]`));
  const lineAssigned = lines.map((l) => [...l.matchAll(REGISTER_ASSIGN)].map((m) => `${m[1]}[${m[2]}]`));
  const lineFields = lines.map((l) => (fields.size === 0 ? [] : [...l.matchAll(FLAG_REF)].map((m) => m[1])));
  const lineFieldsAssigned = lines.map((l) => (fields.size === 0 ? [] : [...l.matchAll(FLAG_ASSIGN)].map((m) => m[1])));
  const dirtyRegs: Set<string>[] = [], dirtyFields: Set<string>[] = [];
  const usedRegs: Set<string>[] = new Array<Set<string>>(lines.length), usedFields: Set<string>[] = new Array<Set<string>>(lines.length);
  const allAssignedFields = new Set(lineFieldsAssigned.flat());
  for (let l = 0, regs = new Set<string>(), flds = new Set<string>(); l < lines.length; l++) {
    for (const r of lineAssigned[l]) regs.add(r);
    for (const x of lineFieldsAssigned[l]) flds.add(x);
    dirtyRegs.push(loops ? assigned : new Set(regs));
    dirtyFields.push(loops ? allAssignedFields : new Set(flds));
  }
  // What the epilogue writes back must be reloaded too, or it would write a stale copy over the callee's value.
  for (let l = lines.length - 1, regs = new Set<string>(assigned), flds = new Set<string>(allAssignedFields); l >= 0; l--) {
    for (const r of lineRegs[l]) regs.add(r);
    for (const x of lineFields[l]) flds.add(x);
    usedRegs[l] = loops ? new Set(refs.keys()) : new Set(regs);
    usedFields[l] = loops ? fields : new Set(flds);
  }
  const regWrite = (ref: string): string => { const [half, r] = refs.get(ref) as [string, string]; return `${ref} = ${local(half, r)}`; };
  const regLoad = (ref: string): string => { const [half, r] = refs.get(ref) as [string, string]; return `${local(half, r)} = ${ref}`; };
  const body = lines.map((line, l) => {
    const flagWrites = [...dirtyFields[l]].map((x) => `f.${x} = f_${x}`);
    const flagLoads = [...usedFields[l]].filter((x) => fields.has(x)).map((x) => `f_${x} = f.${x}`);
    const sync: Sync = {
      writeRegsAndFlags: [...[...dirtyRegs[l]].map(regWrite), ...flagWrites].join(', '),
      writeFlags: flagWrites.join(', '),
      reloadAll: [...[...usedRegs[l]].map(regLoad), ...flagLoads].join(', '),
      reloadFlags: flagLoads.join(', '),
    };
    let out = line
      // A store to a Uint32Array wraps to 32 bits: keep that on the local.
      .replace(REGISTER_ASSIGN, (_, half: string, r: string, v: string) => `${local(half, r)} = (${v}) >>> 0;`)
      .replace(REGISTER_REF, (_, half: string, r: string) => local(half, r));
    if (fields.size > 0) out = out.replace(FLAG_REF, (_, x: string) => `f_${x}`);
    out = wrapCalls(out, sync);
    // Every return leaves through the one write-back in the epilogue.
    return out.replace(/\breturn ([^;]*);/g, (_, v: string) => `{ _r = ${v}; break ${EXIT_LABEL}; }`);
  });
  const epilogue = [...[...assigned].map(regWrite), ...[...allAssignedFields].map((x) => `f.${x} = f_${x}`)].map((w) => `${w};`).join(' ');
  const loads = [...[...refs.keys()].map(regLoad), ...[...fields].map((x) => `f_${x} = f.${x}`)];
  const prologue = `let _c, _r = 0, ${loads.join(', ')};`;
  return { prologue, body, epilogue: `${epilogue} return _r;` };
}

/**
 * Tier-1 handlers for ADD, SUB, CMP, AND, OR, XOR and TEST on registers (and
 * a register with an immediate) at 4 and 8 bytes: one small function per
 * operation, size and operand form, generated once with `new Function` so
 * each has the operation's arithmetic inline and stores only the lazy-flags
 * fields LazyFlags reads for it (as Emitter.record does for compiled code),
 * instead of aluBinary's switch and full record. ALU instructions are about
 * a fifth of what tier 1 runs.
 */
import type { Handler } from '../cpu';
import { ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SUB, ALU_XOR } from '../alu';
import { LAZY_ADD, LAZY_LOGIC, LAZY_SUB } from '../lazy-flags';

/** Where the operands come from: r/m <- r/m op reg (01, 09, ...), reg <- reg op r/m (03, 0B, ...), r/m <- r/m op imm (81, 83), TEST r/m, reg (85). */
export type AluForm = 'rm,reg' | 'reg,rm' | 'rm,imm' | 'test';

/** The operations generated here (ADC and SBB read CF first: they stay with the generic handler). */
export function hasTier1Alu(op: number): boolean {
  return op === ALU_ADD || op === ALU_SUB || op === ALU_CMP || op === ALU_AND || op === ALU_OR || op === ALU_XOR;
}

function source(op: number, size: 4 | 8, form: AluForm): string {
  const wide = size === 8;
  const dest = form === 'reg,rm' ? 'i.reg' : 'i.rm';
  const src = form === 'reg,rm' ? 'i.rm' : 'i.reg';
  const lines = ['const lo = cpu.lo, hi = cpu.hi, f = cpu.flags;', `const d = ${dest};`, 'const a = lo[d];'];
  if (form === 'rm,imm') lines.push('const b = i.imm >>> 0;', `const bh = ${wide ? 'i.imm < 0 ? 4294967295 : 0' : '0'};`);
  else lines.push(`const b = lo[${src}];`, `const bh = ${wide ? `hi[${src}]` : '0'};`);
  lines.push(`const ah = ${wide ? 'hi[d]' : '0'};`);
  const logic = op === ALU_AND || op === ALU_OR || op === ALU_XOR || form === 'test';
  if (logic) {
    const sym = op === ALU_OR ? '|' : op === ALU_XOR ? '^' : '&';
    lines.push(`const r = (a ${sym} b) >>> 0, rh = (ah ${sym} bh) >>> 0;`,
      `f.op = ${LAZY_LOGIC}; f.size = ${size}; f.res = r;${wide ? ' f.resHi = rh;' : ''}`);
  } else {
    const add = op === ALU_ADD;
    lines.push(add
      ? 'const t = a + b; const r = t >>> 0; const rh = (ah + bh + (t >= 4294967296 ? 1 : 0)) >>> 0;'
      : 'const t = a - b; const r = t >>> 0; const rh = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;',
    `f.op = ${add ? LAZY_ADD : LAZY_SUB}; f.size = ${size}; f.res = r; f.a = a; f.b = b;${wide ? ' f.resHi = rh; f.aHi = ah; f.bHi = bh;' : ''}`);
  }
  if (op !== ALU_CMP && form !== 'test') lines.push(`lo[d] = r; hi[d] = ${wide ? 'rh' : '0'};`);
  return lines.join('\n');
}

const made = new Map<string, Handler>();

/** The handler for ALU `op` (see hasTier1Alu; TEST is ALU_AND with form 'test') at `size` in `form`. */
export function tier1Alu(op: number, size: 4 | 8, form: AluForm): Handler {
  const key = `${op}/${size}/${form}`;
  let h = made.get(key);
  if (h === undefined) {
    h = new Function('cpu', 'i', `"use strict";\n${source(op, size, form)}`) as Handler;
    made.set(key, h);
  }
  return h;
}

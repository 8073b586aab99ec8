/**
 * Tier-1 handlers for ADD, SUB, CMP, AND, OR, XOR, TEST, INC and DEC on
 * registers (and a register or the accumulator with an immediate) at 1, 4
 * and 8 bytes: one small function per operation, size and operand form,
 * generated once with `new Function` so each has the operation's arithmetic
 * inline and stores only the lazy-flags fields LazyFlags reads for it (as
 * Emitter.record does for compiled code), instead of aluBinary's switch and
 * full record. ALU instructions are about a fifth of what tier 1 runs; the
 * byte forms (TEST AL, imm8; CMP r/m8, imm8; TEST r8, r8) are the commonest
 * of those the generic handlers were left with.
 */
import type { Cpu, Handler } from '../cpu';
import type { DecodedInstruction } from '../decoder';
import { ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SUB, ALU_XOR } from '../alu';
import { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SUB } from '../lazy-flags';

/**
 * Where the operands come from: r/m <- r/m op reg (01, 09, ...), reg <- reg op r/m (03, 0B, ...),
 * r/m <- r/m op imm (80, 81, 83), accumulator <- accumulator op imm (04, 05, 0C, ...);
 * TEST r/m, reg (84, 85), TEST r/m, imm (F6 /0, F7 /0) and TEST accumulator, imm (A8, A9) write nothing.
 */
export type AluForm = 'rm,reg' | 'reg,rm' | 'rm,imm' | 'acc,imm' | 'test' | 'test rm,imm' | 'test acc,imm';

/** Operand sizes generated here (16-bit forms stay with the generic handlers). */
export type AluSize = 1 | 4 | 8;

/** The operations generated here (ADC and SBB read CF first: they stay with the generic handler). */
export function hasTier1Alu(op: number): boolean {
  return op === ALU_ADD || op === ALU_SUB || op === ALU_CMP || op === ALU_AND || op === ALU_OR || op === ALU_XOR;
}

/** JavaScript reading register `r` (an expression) at `size`: a byte register is the low byte (see lowByteRegisters). */
function readReg(r: string, size: AluSize): string {
  return size === 1 ? `(lo[${r}] & 255)` : `lo[${r}]`;
}

/** Statements writing result `r` (high half `rh`) to register `d` at `size`: a byte keeps the other 56 bits, 32 bits clear the high half. */
function writeReg(size: AluSize): string {
  if (size === 1) return 'lo[d] = ((lo[d] & 0xffffff00) | r) >>> 0;';
  return `lo[d] = r; hi[d] = ${size === 8 ? 'rh' : '0'};`;
}

/**
 * Statements that read the memory operand of `i` at `size` into `m` (high half `mh`)
 * through the TLB hit path, or hand the whole instruction to `generic` and return
 * (see tier1-handlers' operandReadSlot: 64-bit addressing, FS and GS with their base).
 */
function memoryOperand(size: AluSize): string {
  const get = size === 1 ? 'view.getUint8(p)' : 'view.getUint32(p, true)';
  return [`const idx = readSlot(cpu, i, ${size});`, 'if (idx < 0) { generic(cpu, i); return; }',
    'const view = cpu.mmu.views[idx], p = cpu.mmu.offsets[idx] + (cpu.eaLo & 4095);',
    `const m = ${get}, mh = ${size === 8 ? 'view.getUint32(p + 4, true)' : '0'};`].join('\n');
}

function source(op: number, size: AluSize, form: AluForm, memory: boolean): string {
  const wide = size === 8;
  const dest = form === 'reg,rm' ? 'i.reg' : form === 'acc,imm' || form === 'test acc,imm' ? '0' : 'i.rm';
  const src = form === 'reg,rm' ? 'i.rm' : 'i.reg';
  const immediate = form === 'rm,imm' || form === 'acc,imm' || form === 'test rm,imm' || form === 'test acc,imm';
  const test = form === 'test' || form === 'test rm,imm' || form === 'test acc,imm';
  const lines = ['const lo = cpu.lo, hi = cpu.hi, f = cpu.flags;'];
  if (memory) lines.push(memoryOperand(size));
  // With a memory operand, r/m is `m`: the destination for CMP/TEST forms (never written), the source for reg,rm.
  const memoryDest = memory && form !== 'reg,rm';
  if (memoryDest && op !== ALU_CMP && !test) throw new Error(`tier1-alu: ALU ${op} would write memory (only CMP and TEST read it here)`);
  lines.push(`const d = ${dest};`, `const a = ${memoryDest ? 'm' : readReg('d', size)};`);
  if (immediate) lines.push(`const b = ${size === 1 ? 'i.imm & 255' : 'i.imm >>> 0'};`, `const bh = ${wide ? 'i.imm < 0 ? 4294967295 : 0' : '0'};`);
  else if (memory && form === 'reg,rm') lines.push('const b = m;', `const bh = ${wide ? 'mh' : '0'};`);
  else lines.push(`const b = ${readReg(src, size)};`, `const bh = ${wide ? `hi[${src}]` : '0'};`);
  lines.push(`const ah = ${wide ? (memoryDest ? 'mh' : 'hi[d]') : '0'};`);
  if (op === ALU_AND || op === ALU_OR || op === ALU_XOR || test) {
    const sym = op === ALU_OR ? '|' : op === ALU_XOR ? '^' : '&';
    lines.push(`const r = (a ${sym} b) >>> 0, rh = (ah ${sym} bh) >>> 0;`,
      `f.op = ${LAZY_LOGIC}; f.size = ${size}; f.res = r;${wide ? ' f.resHi = rh;' : ''}`);
  } else {
    const add = op === ALU_ADD;
    if (size === 1) lines.push(`const r = (a ${add ? '+' : '-'} b) & 255, rh = 0;`);
    else {
      lines.push(add
        ? 'const t = a + b; const r = t >>> 0; const rh = (ah + bh + (t >= 4294967296 ? 1 : 0)) >>> 0;'
        : 'const t = a - b; const r = t >>> 0; const rh = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;');
    }
    lines.push(`f.op = ${add ? LAZY_ADD : LAZY_SUB}; f.size = ${size}; f.res = r; f.a = a; f.b = b;${wide ? ' f.resHi = rh; f.aHi = ah; f.bHi = bh;' : ''}`);
  }
  if (op !== ALU_CMP && !test) lines.push(writeReg(size)); // never with a memory destination (see tier1AluMemory)
  return lines.join('\n');
}

/** INC or DEC of register i.rm: CF is kept (read from the flags before), as aluIncDec records it. */
function incDecSource(dec: boolean, size: AluSize): string {
  const lines = ['const lo = cpu.lo, hi = cpu.hi, f = cpu.flags;', 'const c = f.cf() ? 1 : 0;', 'const d = i.rm;', `const a = ${readReg('d', size)};`];
  const sym = dec ? '-' : '+';
  if (size === 8) lines.push('const ah = hi[d];', `const t = a ${sym} 1; const r = t >>> 0; const rh = (ah + (t >= 4294967296 ? 1 : t < 0 ? -1 : 0)) >>> 0;`);
  else lines.push('const ah = 0, rh = 0;', `const r = ${size === 1 ? `(a ${sym} 1) & 255` : `(a ${sym} 1) >>> 0`};`);
  lines.push(`f.op = ${dec ? LAZY_DEC : LAZY_INC}; f.size = ${size}; f.res = r; f.resHi = rh; f.a = a; f.aHi = ah; f.b = 1; f.bHi = 0; f.cin = c;`, writeReg(size));
  return lines.join('\n');
}

/** Names a generated handler for V8's profiles and stack traces (tsvisor-tier1-alu-KEY). */
function sourceName(key: string): string {
  return `//# sourceURL=tsvisor-tier1-alu-${key.replace(/[^\w]+/g, '-')}`;
}

const made = new Map<string, Handler>();

function generated(key: string, body: () => string): Handler {
  let h = made.get(key);
  if (h === undefined) {
    h = new Function('cpu', 'i', `"use strict";\n${body()}\n${sourceName(key)}`) as Handler;
    made.set(key, h);
  }
  return h;
}

/** The handler for ALU `op` (see hasTier1Alu; the TEST forms take ALU_AND) at `size` in `form` on registers. */
export function tier1Alu(op: number, size: AluSize, form: AluForm): Handler {
  return generated(`${op}/${size}/${form}`, () => source(op, size, form, false));
}

/** Reads the memory operand's TLB slot (see tier1-handlers' operandReadSlot), -1 when the hit path does not apply. */
export type OperandReadSlot = (cpu: Cpu, i: DecodedInstruction, size: number) => number;

const madeMemory = new Map<string, (readSlot: OperandReadSlot, generic: Handler) => Handler>();

/**
 * The handler for ALU `op` at `size` in `form` whose r/m operand is in memory, read
 * only: CMP and TEST (r/m, reg; r/m, imm) or any operation with a register
 * destination (reg, r/m). A TLB miss, MMIO or a page-crossing operand hands the
 * instruction to `generic`.
 */
export function tier1AluMemory(op: number, size: AluSize, form: AluForm, readSlot: OperandReadSlot, generic: Handler): Handler {
  const key = `${op}/${size}/${form}`;
  let make = madeMemory.get(key);
  if (make === undefined) {
    make = new Function('readSlot', 'generic', `"use strict";\nreturn function (cpu, i) {\n${source(op, size, form, true)}\n};\n${sourceName(`memory/${key}`)}`) as (readSlot: OperandReadSlot, generic: Handler) => Handler;
    madeMemory.set(key, make);
  }
  return make(readSlot, generic);
}

/** The handler for INC (FE /0, FF /0) or DEC (FE /1, FF /1) of a register at `size`. */
export function tier1IncDec(dec: boolean, size: AluSize): Handler {
  return generated(`${dec ? 'dec' : 'inc'}/${size}`, () => incDecSource(dec, size));
}

/**
 * Whether the byte-register operands of `i` (its ModRM reg field, and r/m when
 * it names a register) are all low bytes: with a REX prefix, or below 4
 * (AL, CL, DL, BL). Without REX, 4-7 name AH, CH, DH, BH, which the handlers
 * here do not generate.
 */
export function lowByteRegisters(i: { rex: number; reg: number; rm: number; mod: number }, usesReg: boolean): boolean {
  if (i.rex !== 0) return true;
  return (!usesReg || i.reg < 4) && (i.mod !== 3 || i.rm < 4);
}

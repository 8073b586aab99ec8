/**
 * Second tier: turns a hot Block into one JavaScript function (new Function)
 * from the same DecodedInstructions the interpreter runs. Common integer
 * forms (register ALU, MOV, LEA, INC/DEC, Jcc/JMP, 32/64-bit loads and
 * stores) are emitted as straight-line code on the CPU's typed-array
 * registers with the lazy-flags record stored inline; everything else calls
 * the interpreter's handler with its decoded instruction, so one decoder and
 * one set of semantics serve both tiers. A last pass (register-locals.ts)
 * moves registers and flag fields into JS locals for the whole function.
 *
 * Contract of the generated function `(cpu, regsLo, regsHi, flags, handlers,
 * insns, block) => retired`: it runs the block from its first instruction
 * and returns how many instructions retired, with cpu.rip at the next one.
 * Every instruction that can fault sets cpu.rip first (inline loads and
 * stores only on their slow paths: a TLB hit cannot fault), and registers
 * are written back before anything that can fault, so an exception leaves
 * precise state and the runner recovers the retired count from cpu.rip (see
 * retiredBefore). A store that invalidates the block, or a REP batch that
 * repeats, ends it early.
 */
import type { Cpu, Handler } from '../cpu';
import type { DecodedInstruction } from '../decoder';
import type { LazyFlags } from '../lazy-flags';
import type { Block } from './block';
import type { BlockCache } from './block-cache';
import { ALU_AND, Emitter, canonical, foldCondition } from './emitter';
import { emitArith } from './emit-arith';
import { emitData } from './emit-data';
import { emitStack } from './emit-stack';
import { deadFlagWriters } from './flag-liveness';
import { EXIT_LABEL, localizeRegisters } from './register-locals';

/** `limit`: most instructions to retire (a self-loop stops before exceeding it). Returns the number retired. */
export type CompiledBlock = (cpu: Cpu, lo: Uint32Array, hi: Uint32Array, f: LazyFlags, h: Handler[], ins: DecodedInstruction[], b: Block,
  c: BlockCache, limit: number) => number;

/** Where a handler call's line gets the guard refresh, filled in once the block's guards are known. */
const GUARD_REFRESH = '/*guards*/';

/** True for forms with operand-size bits the specialised emitters handle. */
function regOperand(i: DecodedInstruction): boolean {
  return (i.opSize === 4 || i.opSize === 8) && (i.opcode & 1) === 1;
}

/** Emits one instruction; true when the emitted code returns (the block's end). */
function emitInstruction(e: Emitter, block: Block, k: number): boolean {
  const i = block.insns[k];
  const op = i.opcode;
  const last = k === block.insns.length - 1;
  const out = e.out;
  const next = block.nexts[k];
  // NOP (90, unless REX.B makes it XCHG with r8 or F3 makes it PAUSE) and the hint NOP 0F 1F
  // (which touches no memory): nothing to do. Kernel code pads with them.
  if ((op === 0x90 && (i.rex & 1) === 0 && i.rep !== 0xf3) || op === 0x11f) return false;
  // A JMP the block builder followed (block-builder.ts followedJump): the next instruction is its target.
  if (!last && (op === 0xeb || op === 0xe9)) return false;
  // Register-register ALU 01/03/09/0B/.../39/3B (not ADC/SBB).
  if (op < 0x40 && (op & 7) <= 3 && (op & 4) === 0 && regOperand(i) && i.mod === 3) {
    const aluOp = (op >> 3) & 7;
    if (aluOp !== 2 && aluOp !== 3) {
      const size = i.opSize;
      const dest = (op & 2) === 0 ? i.rm : i.reg;
      const src = (op & 2) === 0 ? i.reg : i.rm;
      if (e.alu(aluOp, size, dest, `lo[${dest}]`, size === 8 ? `hi[${dest}]` : '0', `lo[${src}]`, size === 8 ? `hi[${src}]` : '0', true)) return false;
    }
  }
  // ALU eAX, imm (05, 0D, 25, 2D, 35, 3D) and group 1 with a register (81, 83).
  const accImm = op < 0x40 && (op & 7) === 5;
  if ((accImm || ((op === 0x81 || op === 0x83) && i.mod === 3)) && (i.opSize === 4 || i.opSize === 8)) {
    const aluOp = accImm ? (op >> 3) & 7 : i.regField;
    if (aluOp !== 2 && aluOp !== 3) {
      const size = i.opSize;
      const dest = accImm ? 0 : i.rm;
      const immLo = (i.imm >>> 0) >>> 0;
      const immHi = size === 8 && i.imm < 0 ? 0xffffffff : 0;
      if (e.alu(aluOp, size, dest, `lo[${dest}]`, size === 8 ? `hi[${dest}]` : '0', `${immLo}`, `${immHi}`, true)) return false;
    }
  }
  // ALU with a memory operand (load, compare, or read-modify-write with the TLB hit path inline): emit-data.ts.
  // MOV r/m, imm32 to memory (C7 /0).
  if (op === 0xc7 && i.mod !== 3 && i.regField === 0 && (i.opSize === 4 || i.opSize === 8)) {
    const s = i.opSize;
    out.push(e.precise(k));
    const ea = e.ea(i, next) ?? `cpu.effectiveAddress(ins[${k}])`;
    out.push(`cpu.write(${i.segment}, ${ea}, ${s}, ${i.imm >>> 0}, ${s === 8 && i.imm < 0 ? 0xffffffff : 0});`);
    if (!last) out.push(`if (!b.valid) { cpu.rip = ${next}; return n + ${k + 1}; }`);
    return false;
  }
  // TEST r/m, reg with registers.
  if (op === 0x85 && i.mod === 3 && (i.opSize === 4 || i.opSize === 8)) {
    const s = i.opSize;
    if (e.alu(ALU_AND, s, i.rm, `lo[${i.rm}]`, s === 8 ? `hi[${i.rm}]` : '0', `lo[${i.reg}]`, s === 8 ? `hi[${i.reg}]` : '0', false)) return false;
  }
  // INC/DEC: 40-4F outside 64-bit mode, FF /0 /1 with a register.
  if (op >= 0x40 && op <= 0x4f && block.codeSize !== 8 && e.incDec((op & 8) !== 0, i.opSize, op & 7)) return false;
  if (op === 0xff && i.mod === 3 && i.regField <= 1 && e.incDec(i.regField === 1, i.opSize, i.rm)) return false;
  // MOV between registers, MOV reg, imm.
  if ((op === 0x89 || op === 0x8b) && i.mod === 3 && regOperand(i)) {
    const d = op === 0x89 ? i.rm : i.reg, s = op === 0x89 ? i.reg : i.rm;
    out.push(i.opSize === 8 ? `lo[${d}] = lo[${s}]; hi[${d}] = hi[${s}];` : `lo[${d}] = lo[${s}]; hi[${d}] = 0;`);
    return false;
  }
  if (op >= 0xb8 && op <= 0xbf && (i.opSize === 4 || i.opSize === 8)) {
    const r = (op & 7) | ((i.rex & 1) << 3);
    out.push(`lo[${r}] = ${i.imm >>> 0}; hi[${r}] = ${i.opSize === 8 ? i.immHi >>> 0 : 0};`);
    return false;
  }
  // Stack and near control transfers in 64-bit code (emit-stack.ts).
  const stack = emitStack(e, block, k);
  if (stack !== 'none') return stack === 'end';
  // PUSH/POP of a register (50-5F).
  if (op >= 0x50 && op <= 0x5f && (i.opSize === 4 || i.opSize === 8)) {
    const r = (op & 7) | ((i.rex & 1) << 3);
    const s = i.opSize;
    out.push(e.precise(k));
    if (op < 0x58) out.push(`cpu.push(${s}, lo[${r}], ${s === 8 ? `hi[${r}]` : '0'});`);
    else { const v = e.fresh(); out.push(`const ${v} = cpu.pop(${s}); lo[${r}] = ${v}; hi[${r}] = ${s === 8 ? 'cpu.vhi' : '0'};`); }
    if (!last && op < 0x58) out.push(`if (!b.valid) { cpu.rip = ${next}; return n + ${k + 1}; }`);
    return false;
  }
  // LEA with matching operand and address sizes.
  if (op === 0x8d && i.mod !== 3 && i.opSize === 4 && i.addrSize === 4) {
    const ea = e.ea32(i);
    if (ea !== undefined) { out.push(`lo[${i.reg}] = ${ea}; hi[${i.reg}] = 0;`); return false; }
  }
  // 32/64-bit loads and stores through the CPU's segment checks and TLB.
  if ((op === 0x8b || op === 0x89) && i.mod !== 3 && regOperand(i)) {
    const s = i.opSize;
    out.push(e.precise(k));
    const ea = e.ea(i, next) ?? `cpu.effectiveAddress(ins[${k}])`;
    if (op === 0x8b) {
      const [v, vh] = e.load(i.segment, ea, s);
      out.push(`lo[${i.reg}] = ${v}; hi[${i.reg}] = ${s === 8 ? vh : '0'};`);
    } else {
      e.store(i.segment, ea, s, `lo[${i.reg}]`, s === 8 ? `hi[${i.reg}]` : '0');
      if (!last) out.push(`if (!b.valid) { cpu.rip = ${next}; return n + ${k + 1}; }`);
    }
    e.known = undefined;
    return false;
  }
  // Jcc and JMP (short and near) end the block.
  const jcc = (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f);
  if (last && (jcc || op === 0xeb || op === 0xe9)) {
    const raw = next + i.imm;
    let cond = 'true';
    if (jcc) {
      const cc = op & 0xf;
      const known = e.known;
      if ((cc === 4 || cc === 5) && known !== undefined) {
        const z = known.hi === undefined ? `${known.lo} === 0` : `(${known.lo} === 0 && ${known.hi} === 0)`;
        cond = cc === 4 ? `(${z})` : `!(${z})`;
      } else cond = (known !== undefined ? foldCondition(cc, known) : undefined) ?? `f.condition(${cc})`;
    }
    if (selfLoopTarget(block) !== undefined) {
      // Back edge to the block's own start: stay in this function while the budget allows and no device ran.
      out.push(`if (${cond}) { n += ${k + 1}; if (n + ${k + 1} > lim || c.deviceEpoch !== ep) { cpu.rip = ${block.rip}; return n; } continue; }`);
      out.push(`cpu.rip = ${next}; return n + ${k + 1};`);
      return true;
    }
    // A canonical target in 64-bit code with a 64-bit operand needs none of branchTo's truncation or checks.
    if (block.codeSize === 8 && i.opSize === 8 && canonical(raw)) out.push(`if (${cond}) cpu.rip = ${raw}; else cpu.rip = ${next};`);
    else out.push(`if (${cond}) { ${e.precise(k)} cpu.branchTo(${raw}, ${i.opSize}); cpu.rip = cpu.nextRip; } else cpu.rip = ${next};`);
    out.push(`return n + ${k + 1};`);
    return true;
  }
  // The instruction families in emit-*.ts (they never end a block).
  if (emitArith(e, block, k) || emitData(e, block, k)) return false;
  // Anything else: the interpreter's handler on the decoded instruction.
  out.push(`${e.precise(k)} h[${k}](cpu, ins[${k}]); ${GUARD_REFRESH}`);
  e.known = undefined;
  if (last) {
    out.push(`cpu.rip = cpu.nextRip; if (cpu.interruptShadow > 0) cpu.interruptShadow--; return n + ${k + 1};`);
    return true;
  }
  out.push(`if (cpu.nextRip !== ${next} || !b.valid) { cpu.rip = cpu.nextRip; return n + ${k + 1}; }`);
  return false;
}

export function compileBlock(block: Block): CompiledBlock {
  const e = new Emitter(block);
  const n = block.insns.length;
  let returned = false;
  const dead = deadFlagWriters(block.insns, block.codeSize);
  for (let k = 0; k < n; k++) {
    e.flagsDead = dead[k] === 1;
    e.beginInstruction();
    returned = emitInstruction(e, block, k);
    e.endInstruction();
  }
  e.flagsDead = false;
  if (!returned) e.out.push(`cpu.rip = ${block.nexts[n - 1]}; return n + ${n};`);
  // The hoisted guards (Emitter.guardStatements) go in the prologue and after each handler call.
  const refresh = e.guardStatements();
  const lines = e.out.map((l) => l.replace(GUARD_REFRESH, refresh));
  const loops = selfLoopTarget(block) !== undefined;
  const local = localizeRegisters(lines, loops);
  const state = local?.prologue ?? '';
  // With locals, the body sits in a labelled block whose exits break to the write-back.
  const code = local === undefined ? lines.join('\n') : `${EXIT_LABEL}: {\n${local.body.join('\n')}\n}`;
  const epilogue = local?.epilogue ?? '';
  // The TLB and the code-page map only when the block's code uses them: each is a property
  // load V8 guards with a map check, and most short blocks touch no memory.
  const used = `${code}\n${e.guardDeclarations()}`;
  const tables = [/\bT\./.test(used) ? 'T = cpu.mmu' : '', /\bCP\[/.test(used) ? 'CP = c.codePages' : ''].filter((d) => d !== '');
  const prologue = `${tables.length > 0 ? `const ${tables.join(', ')}; ` : ''}${e.guardDeclarations()}\n${state}`;
  const body = loops
    // A fault inside the loop needs the iterations already retired (the runner reads b.loopBase).
    ? `${prologue}\nlet n = 0; const ep = c.deviceEpoch;\ntry {\n${local === undefined ? `for (;;) {\n${code}\n}` : `${EXIT_LABEL}: for (;;) {\n${local.body.join('\n')}\n}`}\n} catch (x) { b.loopBase = n; throw x; }\n${epilogue}`
    : `${prologue}\nconst n = 0;\n${code}\n${epilogue}`;
  // Named by guest RIP, so V8's CPU profiles (TSVISOR_CPU_PROFILE) and stack traces show which block ran.
  const name = `//# sourceURL=tsvisor-block-${BigInt.asUintN(64, BigInt(block.rip)).toString(16)}-${block.codeSize}`;
  return new Function('cpu', 'lo', 'hi', 'f', 'h', 'ins', 'b', 'c', 'lim', `"use strict";\n${body}\n${name}`) as CompiledBlock;
}

/**
 * The block's start when its last instruction is a JMP/Jcc back to it (a
 * tight loop, run as a loop inside one generated function), else undefined.
 */
function selfLoopTarget(block: Block): number | undefined {
  const k = block.insns.length - 1;
  const i = block.insns[k];
  const op = i.opcode;
  const branch = (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f) || op === 0xeb || op === 0xe9;
  if (!branch) return undefined;
  const raw = block.nexts[k] + i.imm;
  if (raw !== block.rip) return undefined;
  // The target must need no truncation to the operand size (branchTo would change it).
  if (block.codeSize !== 8 && (i.opSize === 2 ? (raw & 0xffff) !== raw : raw >>> 0 !== raw)) return undefined;
  return raw;
}

/** Instructions of `block` retired before the one at `rip` (after an exception thrown from compiled code). */
export function retiredBefore(block: Block, rip: number): number {
  if (rip === block.rip) return 0;
  const nexts = block.nexts;
  for (let k = 0; k < nexts.length; k++) if (nexts[k] === rip) return k + 1;
  return 0;
}

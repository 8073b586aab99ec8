/**
 * The third tier: a hot block of 64-bit code as one WebAssembly function
 * (see emitter.ts for registers, memory and exits, helpers.ts for what
 * blocks share). It covers the integer forms that make up most kernel
 * code: MOV/MOVZX/MOVSX/MOVSXD/LEA, the ALU operations but ADC/SBB, TEST,
 * INC/DEC, NOT/NEG, constant shifts, two- and three-operand IMUL, CMOVcc,
 * SETcc, PUSH/POP, CALL/RET/JMP/Jcc and indirect CALL/JMP; a block holding
 * anything else stays with the JavaScript tiers. Semantics follow the
 * interpreter's (ops-integer.ts, alu.ts), including the lazy-flags record
 * each flag writer leaves, so JavaScript reads the same flags afterwards.
 */
import type { DecodedInstruction } from '../decoder';
import { LAZY_ADC, LAZY_ADD, LAZY_CFOF, LAZY_DEC, LAZY_IMUL, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB } from '../lazy-flags';
import type { Block } from '../jit/block';
import { deadFlagWriters } from '../jit/flag-liveness';
import { FunctionBody, Op } from './encoder';
import { Untranslatable, WasmEmitter, sizeMask } from './emitter';

const ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7;
const RSP = 4, RBP = 5;

/** The block as a function body, or undefined when an instruction is not covered. */
export function translateBlock(block: Block): FunctionBody | undefined {
  if (block.codeSize !== 8) return undefined;
  const e = new WasmEmitter(block);
  const dead = deadFlagWriters(block.insns, block.codeSize);
  try {
    let ended = false;
    for (let k = 0; k < block.insns.length; k++) {
      e.k = k;
      e.flagsDead = dead[k] === 1;
      ended = translateInstruction(e, block.insns[k], k === block.insns.length - 1);
    }
    if (!ended) { const n = block.insns.length; e.dispatch(n, () => e.f.i64(BigInt(block.nexts[n - 1]))); }
  } catch (x) {
    if (x instanceof Untranslatable) return undefined;
    throw x;
  }
  return e.finish();
}

/** Sign-extends a 32-bit immediate to `size` bytes, as an unsigned i64 constant of that size. */
function immediate(i: DecodedInstruction, size: number): bigint {
  return BigInt.asUintN(size * 8, BigInt(i.imm | 0));
}

/** Operand size of a form with a byte variant (opcode bit 0 clear). */
function sizeOf(i: DecodedInstruction): number {
  return (i.opcode & 1) === 0 ? 1 : i.opSize;
}

/** One instruction; returns true when it ends the block (its exits dispatch). */
function translateInstruction(e: WasmEmitter, i: DecodedInstruction, last: boolean): boolean {
  const op = i.opcode;
  const f = e.f;
  // One vCPU at a time runs on this thread, so a locked read-modify-write is a plain one; LOCK anywhere else is #UD.
  if (i.lock && !lockable(i)) throw new Untranslatable('LOCK');
  // NOP, the hint NOP, and a JMP the block builder followed.
  if ((op === 0x90 && (i.rex & 1) === 0 && i.rep !== 0xf3) || (op >= 0x118 && op <= 0x11f)) return false;
  if (!last && (op === 0xeb || op === 0xe9)) return false;
  // ALU: 00-3F forms 0-5.
  if (op < 0x40 && (op & 7) <= 5) {
    const aluOp = (op >> 3) & 7;
    const form = op & 7;
    if (form >= 4) {
      const size = form === 4 ? 1 : i.opSize;
      aluInto(e, i, aluOp, size, { kind: 'reg', r: 0 }, () => f.i64(immediate(i, size)));
    } else {
      const size = sizeOf(i);
      if ((form & 2) === 0) aluInto(e, i, aluOp, size, rmTarget(i), () => e.readReg(i.reg, size, i));
      else aluInto(e, i, aluOp, size, { kind: 'reg', r: i.reg }, () => e.readRm(i, size));
    }
    return false;
  }
  switch (op) {
    case 0x80: case 0x81: case 0x83: {
      const size = op === 0x80 ? 1 : i.opSize;
      aluInto(e, i, i.regField, size, rmTarget(i), () => f.i64(immediate(i, size)));
      return false;
    }
    case 0x84: case 0x85: {
      const size = sizeOf(i);
      aluInto(e, i, ALU_AND, size, rmTarget(i), () => e.readReg(i.reg, size, i), true);
      return false;
    }
    case 0xa8: case 0xa9: {
      const size = sizeOf(i);
      aluInto(e, i, ALU_AND, size, { kind: 'reg', r: 0 }, () => f.i64(immediate(i, size)), true);
      return false;
    }
    case 0xf6: case 0xf7: {
      const size = sizeOf(i);
      if (i.regField === 0 || i.regField === 1) { aluInto(e, i, ALU_AND, size, rmTarget(i), () => f.i64(immediate(i, size)), true); return false; }
      if (i.regField === 2) { unary(e, i, size, 'not'); return false; }
      if (i.regField === 3) { unary(e, i, size, 'neg'); return false; }
      if ((i.regField === 4 || i.regField === 5) && (size === 4 || size === 8)) { multiplyWide(e, i, size, i.regField === 5); return false; }
      if ((i.regField === 6 || i.regField === 7) && (size === 4 || size === 8)) { divide(e, i, size, i.regField === 7); return false; }
      throw new Untranslatable('8/16-bit MUL/DIV');
    }
    case 0xfe: case 0xff: {
      const size = sizeOf(i);
      if (i.regField === 0 || i.regField === 1) { unary(e, i, size, i.regField === 0 ? 'inc' : 'dec'); return false; }
      if (op === 0xff && (i.regField === 2 || i.regField === 4) && i.opSize === 8) { indirectBranch(e, i, i.regField === 2); return true; }
      throw new Untranslatable('group 5');
    }
    case 0x88: case 0x89: {
      const size = sizeOf(i);
      writeRm(e, i, size, () => e.readReg(i.reg, size, i));
      return false;
    }
    case 0x8a: case 0x8b: {
      const size = sizeOf(i);
      const v = e.temp64();
      e.readRm(i, size); f.set(v);
      e.writeReg(i.reg, size, i, () => f.get(v));
      return false;
    }
    case 0xc6: case 0xc7: {
      if (i.regField !== 0) throw new Untranslatable('C6/C7 other than MOV');
      const size = sizeOf(i);
      writeRm(e, i, size, () => f.i64(immediate(i, size)));
      return false;
    }
    case 0x8d: {
      if (i.mod === 3) throw new Untranslatable('LEA with a register (#UD)');
      const size = i.opSize;
      e.writeReg(i.reg, size, i, () => e.effectiveAddress(i));
      return false;
    }
    case 0x63: {
      if (i.opSize === 2) throw new Untranslatable('16-bit MOVSXD');
      // MOVSXD (64-bit operand); with a 32-bit operand a plain MOV.
      const v = e.temp64();
      e.readRm(i, 4); f.set(v);
      e.writeReg(i.reg, i.opSize, i, () => { f.get(v); if (i.opSize === 8) f.op(Op.i64Extend32S); });
      return false;
    }
    case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: {
      const from = (op & 1) === 0 ? 1 : 2;
      const signed = op >= 0x1be;
      const v = e.temp64();
      e.readRm(i, from); f.set(v);
      e.writeReg(i.reg, i.opSize, i, () => { f.get(v); if (signed) f.op(from === 1 ? Op.i64Extend8S : Op.i64Extend16S); });
      return false;
    }
    case 0x98: {
      // CBW/CWDE/CDQE: sign-extend the lower half of rAX into all of it.
      const s = i.opSize;
      e.writeReg(0, s, i, () => { e.readReg(0, s / 2, i); f.op(s === 2 ? Op.i64Extend8S : s === 4 ? Op.i64Extend16S : Op.i64Extend32S); });
      return false;
    }
    case 0x99: {
      // CWD/CDQ/CQO: rDX filled with rAX's sign.
      const s = i.opSize;
      e.writeReg(2, s, i, () => {
        e.readReg(0, s, i);
        if (s !== 8) f.op(s === 2 ? Op.i64Extend16S : Op.i64Extend32S);
        f.i64(63n).op(Op.i64ShrS);
      });
      return false;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: {
      const count = op <= 0xc1 ? i.imm & 0xff : 1;
      shift(e, i, sizeOf(i), count);
      return false;
    }
    case 0x1a3: case 0x1ab: case 0x1b3: case 0x1bb: {
      if (i.opSize === 2) throw new Untranslatable('16-bit BT');
      bitTest(e, i, [0x1a3, 0x1ab, 0x1b3, 0x1bb].indexOf(op), () => e.readReg(i.reg, i.opSize, i));
      return false;
    }
    case 0x1ba: {
      if (i.regField < 4 || i.opSize === 2) throw new Untranslatable('0F BA');
      bitTest(e, i, i.regField - 4, () => f.i64(BigInt(i.imm & 0xff)));
      return false;
    }
    case 0x1c8: case 0x1c9: case 0x1ca: case 0x1cb: case 0x1cc: case 0x1cd: case 0x1ce: case 0x1cf: {
      if (i.opSize === 2) throw new Untranslatable('BSWAP r16');
      const r = (op & 7) | ((i.rex & 1) << 3);
      const v = e.temp64();
      e.readReg(r, i.opSize, i); f.set(v);
      // Byte k of the operand moves to byte size-1-k.
      e.writeReg(r, i.opSize, i, () => {
        for (let k = 0; k < i.opSize; k++) {
          const shift = 8 * (i.opSize - 1 - 2 * k);
          f.get(v);
          if (shift > 0) f.i64(BigInt(shift)).op(Op.i64Shl); else if (shift < 0) f.i64(BigInt(-shift)).op(Op.i64ShrU);
          f.i64(0xffn << BigInt(8 * (i.opSize - 1 - k))).op(Op.i64And);
          if (k > 0) f.op(Op.i64Or);
        }
      });
      return false;
    }
    case 0xd2: case 0xd3: {
      shiftByCl(e, i, sizeOf(i));
      return false;
    }
    case 0xc9: {
      if (i.opSize !== 8) throw new Untranslatable('16-bit LEAVE');
      // LEAVE: RSP = RBP, then POP RBP.
      const v = e.temp64(), rbp = e.temp64();
      f.get(e.regLocal(RBP)).set(rbp);
      const addr = e.translateAddress(rbp, 8, false);
      e.load(addr, 8); f.set(v);
      e.writeReg(RSP, 8, i, () => f.get(rbp).i64(8n).op(Op.i64Add));
      e.writeReg(RBP, 8, i, () => f.get(v));
      return false;
    }
    case 0x86: case 0x87: {
      const size = sizeOf(i);
      const old = e.temp64(), reg = e.temp64();
      let addr = -1;
      if (i.mod === 3) e.readReg(i.rm, size, i); else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
      f.set(old);
      e.readReg(i.reg, size, i); f.set(reg);
      if (i.mod === 3) e.writeReg(i.rm, size, i, () => f.get(reg)); else e.store(addr, size, () => f.get(reg));
      e.writeReg(i.reg, size, i, () => f.get(old));
      return false;
    }
    case 0x1c0: case 0x1c1: {
      // XADD: the sum goes to the destination, its old value to the source register (written first, so with one register the sum stays).
      const size = sizeOf(i);
      let addr = -1;
      const a = e.temp64(), b = e.temp64(), res = e.temp64();
      if (i.mod === 3) e.readReg(i.rm, size, i); else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
      f.set(a);
      e.readReg(i.reg, size, i); f.set(b);
      f.get(a).get(b).op(Op.i64Add);
      if (size !== 8) f.i64(sizeMask(size)).op(Op.i64And);
      f.set(res);
      e.record(LAZY_ADD, size, res, a, b);
      e.known = { op: LAZY_ADD, size, a, b, res };
      if (i.mod === 3) { e.writeReg(i.reg, size, i, () => f.get(a)); e.writeReg(i.rm, size, i, () => f.get(res)); } else {
        e.store(addr, size, () => f.get(res));
        e.writeReg(i.reg, size, i, () => f.get(a));
      }
      return false;
    }
    case 0x1b0: case 0x1b1: {
      // CMPXCHG: flags as CMP accumulator, destination; equal: the source is stored, else the accumulator loads the destination.
      const size = sizeOf(i);
      let addr = -1;
      const dest = e.temp64(), acc = e.temp64(), res = e.temp64(), src = e.temp64();
      if (i.mod === 3) e.readReg(i.rm, size, i); else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
      f.set(dest);
      e.readReg(0, size, i); f.set(acc);
      e.readReg(i.reg, size, i); f.set(src);
      f.get(acc).get(dest).op(Op.i64Sub);
      if (size !== 8) f.i64(sizeMask(size)).op(Op.i64And);
      f.set(res);
      e.record(LAZY_SUB, size, res, acc, dest);
      e.known = { op: LAZY_SUB, size, a: acc, b: dest, res };
      const equal = e.temp32();
      f.get(acc).get(dest).op(Op.i64Eq).set(equal);
      // A memory destination is always written (the old value when unequal), as a locked cycle does; a register one
      // only when equal, and the accumulator only when unequal (a 32-bit write not made clears no high half).
      if (i.mod !== 3) e.store(addr, size, () => f.get(src).get(dest).get(equal).op(Op.select));
      f.get(equal).ifVoid();
      if (i.mod === 3) e.writeReg(i.rm, size, i, () => f.get(src));
      f.op(Op.else);
      e.writeReg(0, size, i, () => f.get(dest));
      f.op(Op.end);
      return false;
    }
    case 0x1af: case 0x69: case 0x6b: {
      if (i.opSize === 2) throw new Untranslatable('16-bit IMUL');
      const size = i.opSize;
      const a = e.temp64(), b = e.temp64(), res = e.temp64();
      e.readRm(i, size); f.set(a);
      if (op === 0x1af) e.readReg(i.reg, size, i); else f.i64(immediate(i, size));
      f.set(b);
      f.get(a).get(b).op(Op.i64Mul).i64(sizeMask(size)).op(Op.i64And).set(res);
      e.record(LAZY_IMUL, size, res, a, b);
      e.known = undefined;
      e.writeReg(i.reg, size, i, () => f.get(res));
      return false;
    }
    default: break;
  }
  if (op >= 0x140 && op <= 0x14f) {
    // CMOVcc: the source is read (and may fault) whatever the condition; a 32-bit destination is zero-extended either way.
    const size = i.opSize;
    const v = e.temp64();
    e.readRm(i, size); f.set(v);
    const c = e.temp32();
    e.condition(op & 0xf); f.set(c);
    e.writeReg(i.reg, size, i, () => { f.get(v); e.readReg(i.reg, size, i); f.get(c).op(Op.select); });
    return false;
  }
  if (op >= 0x190 && op <= 0x19f) {
    const c = e.temp32();
    e.condition(op & 0xf); f.set(c);
    writeRm(e, i, 1, () => f.get(c).op(Op.i64ExtendI32U));
    return false;
  }
  if (op >= 0xb0 && op <= 0xbf) {
    const size = op < 0xb8 ? 1 : i.opSize;
    const r = (op & 7) | ((i.rex & 1) << 3);
    const value = size === 8 ? BigInt.asUintN(64, (BigInt(i.immHi >>> 0) << 32n) | BigInt(i.imm >>> 0)) : BigInt.asUintN(size * 8, BigInt(i.imm >>> 0));
    e.writeReg(r, size, i, () => f.i64(value));
    return false;
  }
  if (op >= 0x50 && op <= 0x5f) {
    if (i.opSize !== 8) throw new Untranslatable('16-bit PUSH/POP');
    const r = (op & 7) | ((i.rex & 1) << 3);
    if (op < 0x58) push(e, i, () => f.get(e.regLocal(r)));
    else {
      const v = pop(e, i);
      e.writeReg(r, 8, i, () => f.get(v));
    }
    return false;
  }
  if (op === 0x6a || op === 0x68) {
    if (i.opSize !== 8) throw new Untranslatable('16-bit PUSH');
    push(e, i, () => f.i64(BigInt(i.imm | 0)));
    return false;
  }
  const next = e.block.nexts[e.k];
  if (op === 0xe8 && i.opSize === 8) {
    const target = BigInt(next + i.imm);
    if (BigInt.asIntN(48, target) !== target) throw new Untranslatable('non-canonical call target');
    push(e, i, () => f.i64(BigInt(next)));
    e.dispatch(e.k + 1, () => f.i64(target));
    return true;
  }
  if (op === 0xc3 && i.opSize === 8) {
    const target = e.temp64();
    const rsp = e.temp64();
    f.get(e.regLocal(RSP)).set(rsp);
    const addr = e.translateAddress(rsp, 8, false);
    e.load(addr, 8); f.set(target);
    exitIfNonCanonical(e, target);
    e.writeReg(RSP, 8, i, () => f.get(rsp).i64(8n).op(Op.i64Add));
    e.dispatch(e.k + 1, () => f.get(target));
    return true;
  }
  const jcc = (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f);
  if ((jcc || op === 0xeb || op === 0xe9) && i.opSize === 8) {
    const target = BigInt(next + i.imm);
    if (BigInt.asIntN(48, target) !== target) throw new Untranslatable('non-canonical branch target');
    if (jcc) {
      e.condition(op & 0xf);
      f.ifVoid();
      e.dispatch(e.k + 1, () => f.i64(target));
      f.op(Op.end);
      e.dispatch(e.k + 1, () => f.i64(BigInt(next)));
    } else e.dispatch(e.k + 1, () => f.i64(target));
    return true;
  }
  throw new Untranslatable(`opcode ${op.toString(16)}`);
}

/** The forms LOCK may prefix that are translated: ALU, NOT/NEG, INC/DEC, XCHG, CMPXCHG, XADD with a memory destination. */
function lockable(i: DecodedInstruction): boolean {
  if (i.mod === 3) return false;
  const op = i.opcode;
  if (op < 0x40) return (op & 7) <= 1 && ((op >> 3) & 7) !== ALU_CMP;
  if (op === 0x80 || op === 0x81 || op === 0x83) return i.regField !== ALU_CMP;
  if (op === 0xf6 || op === 0xf7) return i.regField === 2 || i.regField === 3;
  if (op === 0xfe || op === 0xff) return i.regField <= 1;
  return op === 0x86 || op === 0x87 || op === 0x1b0 || op === 0x1b1 || op === 0x1c0 || op === 0x1c1;
}

type Target = { kind: 'reg'; r: number } | { kind: 'mem' };

function rmTarget(i: DecodedInstruction): Target {
  return i.mod === 3 ? { kind: 'reg', r: i.rm } : { kind: 'mem' };
}

/**
 * dest = dest OP src at `size` for ALU operation `aluOp` (ADC/SBB excluded),
 * the lazy-flags record as the interpreter leaves it; CMP and `noWrite`
 * (TEST) only set the flags. A memory destination is read and written
 * through one translation, checked for writing first (as the interpreter's
 * read-modify-write faults before reading).
 */
function aluInto(e: WasmEmitter, i: DecodedInstruction, aluOp: number, size: number, dest: Target, src: () => void, noWrite = false): void {
  const f = e.f;
  const writes = !noWrite && aluOp !== ALU_CMP;
  const a = e.temp64(), b = e.temp64(), res = e.temp64();
  // ADC/SBB: the carry in, from the last flag writer's locals or the record (which may leave the block).
  let cin = -1;
  if (aluOp === ALU_ADC || aluOp === ALU_SBB) {
    cin = e.temp32();
    const carry = e.knownCarry();
    if (carry !== undefined) carry(); else e.condition(2);
    f.set(cin);
  }
  let addr = -1;
  if (dest.kind === 'reg') e.readReg(dest.r, size, i);
  else { addr = e.operandAddress(i, size, writes); e.load(addr, size); }
  f.set(a);
  src(); f.set(b);
  f.get(a).get(b);
  switch (aluOp) {
    case ALU_ADD: f.op(Op.i64Add); break;
    case ALU_ADC: f.op(Op.i64Add).get(cin).op(Op.i64ExtendI32U, Op.i64Add); break;
    case ALU_OR: f.op(Op.i64Or); break;
    case ALU_AND: f.op(Op.i64And); break;
    case ALU_XOR: f.op(Op.i64Xor); break;
    case ALU_SBB: f.op(Op.i64Sub).get(cin).op(Op.i64ExtendI32U, Op.i64Sub); break;
    default: f.op(Op.i64Sub); break;
  }
  if (size !== 8) f.i64(sizeMask(size)).op(Op.i64And);
  f.set(res);
  const kind = aluOp === ALU_ADD ? LAZY_ADD : aluOp === ALU_ADC ? LAZY_ADC : aluOp === ALU_SBB ? LAZY_SBB
    : aluOp === ALU_SUB || aluOp === ALU_CMP ? LAZY_SUB : LAZY_LOGIC;
  e.record(kind, size, res, kind === LAZY_LOGIC ? -1 : a, kind === LAZY_LOGIC ? -1 : b, cin);
  e.known = { op: kind, size, a, b, res, cin };
  if (!writes) return;
  if (dest.kind === 'reg') e.writeReg(dest.r, size, i, () => f.get(res));
  else e.store(addr, size, () => f.get(res));
}

/** Writes the i64 `value` pushes to i's r/m operand at `size`. */
function writeRm(e: WasmEmitter, i: DecodedInstruction, size: number, value: () => void): void {
  if (i.mod === 3) { e.writeReg(i.rm, size, i, value); return; }
  const v = e.temp64();
  value(); e.f.set(v);
  const addr = e.operandAddress(i, size, true);
  e.store(addr, size, () => e.f.get(v));
}

/** NOT, NEG, INC, DEC of i's r/m operand. */
function unary(e: WasmEmitter, i: DecodedInstruction, size: number, what: 'not' | 'neg' | 'inc' | 'dec'): void {
  const f = e.f;
  const a = e.temp64(), res = e.temp64();
  let addr = -1;
  if (i.mod === 3) e.readReg(i.rm, size, i);
  else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
  f.set(a);
  if (what === 'inc' || what === 'dec') {
    // INC/DEC keep CF: the record carries it in `cin`.
    let cin = -1;
    if (!e.flagsDead) {
      cin = e.temp32();
      const carry = e.knownCarry();
      if (carry !== undefined) carry(); else { e.condition(2); }
      f.set(cin);
    }
    const one = e.temp64();
    f.i64(1n).set(one);
    f.get(a).get(one).op(what === 'inc' ? Op.i64Add : Op.i64Sub);
    if (size !== 8) f.i64(sizeMask(size)).op(Op.i64And);
    f.set(res);
    if (cin >= 0) e.record(what === 'inc' ? LAZY_INC : LAZY_DEC, size, res, a, one, cin);
    e.known = undefined;
  } else if (what === 'not') {
    f.get(a).i64(sizeMask(size)).op(Op.i64Xor).set(res);
  } else {
    const zero = e.temp64();
    f.i64(0n).set(zero);
    f.i64(0n).get(a).op(Op.i64Sub);
    if (size !== 8) f.i64(sizeMask(size)).op(Op.i64And);
    f.set(res);
    // NEG is 0 - operand: the SUB record gives its flags (CF when the operand is not zero).
    e.record(LAZY_SUB, size, res, zero, a);
    e.known = { op: LAZY_SUB, size, a: zero, b: a, res };
  }
  if (i.mod === 3) e.writeReg(i.rm, size, i, () => f.get(res));
  else e.store(addr, size, () => f.get(res));
}

/**
 * SHL/SHR/SAR by a constant (group 2 /4 /5 /6 /7). Flags as alu.ts's
 * shiftFast: ZF/SF/PF from the result, CF the last bit out, OF the top bit
 * of the operand (SHR), 0 (SAR), or the result's top bit xor CF (SHL);
 * recorded as LAZY_CFOF. A masked count of 0 changes nothing.
 */
function shift(e: WasmEmitter, i: DecodedInstruction, size: number, rawCount: number): void {
  const kind = i.regField;
  if (kind === 2 || kind === 3) throw new Untranslatable('RCL/RCR');
  const count = rawCount & (size === 8 ? 63 : 31);
  const bits = size * 8;
  if (count === 0) {
    // Nothing changes but a memory operand is still accessed (and may fault), and a 32-bit register is still written (its high half cleared).
    if (i.mod !== 3) e.operandAddress(i, size, true);
    else if (size === 4) e.writeReg(i.rm, 4, i, () => e.readReg(i.rm, 4, i));
    return;
  }
  if (kind <= 1) { rotate(e, i, size, count, kind === 1); return; }
  if (size !== 8 && count >= bits) throw new Untranslatable('shift count past the operand');
  const f = e.f;
  const a = e.temp64(), res = e.temp64(), cf = e.temp32(), of = e.temp64();
  let addr = -1;
  if (i.mod === 3) e.readReg(i.rm, size, i);
  else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
  f.set(a);
  shiftCore(e, kind, size, a, () => f.i64(BigInt(count)), res, cf, of);
  // LAZY_CFOF: cin is CF, b is OF.
  e.record(LAZY_CFOF, size, res, -1, of, cf);
  e.known = undefined;
  if (i.mod === 3) e.writeReg(i.rm, size, i, () => f.get(res));
  else e.store(addr, size, () => f.get(res));
}

/**
 * ROL/ROR by a constant (nonzero once masked), as rotate.ts: CF the bit
 * rotated into the low (ROL) or top (ROR) end, OF from the top bits, the
 * other flags kept.
 */
function rotate(e: WasmEmitter, i: DecodedInstruction, size: number, count: number, right: boolean): void {
  const f = e.f;
  const bits = size * 8;
  const n = count % bits;
  const a = e.temp64(), res = e.temp64(), cf = e.temp32(), of = e.temp32(), msb = e.temp32();
  let addr = -1;
  if (i.mod === 3) e.readReg(i.rm, size, i);
  else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
  f.set(a);
  if (n === 0) f.get(a);
  else if (size === 8) f.get(a).i64(BigInt(n)).op(right ? Op.i64Rotr : Op.i64Rotl);
  else if (size === 4) f.get(a).op(Op.i32WrapI64).i32(n).op(right ? Op.i32Rotr : Op.i32Rotl).op(Op.i64ExtendI32U);
  else {
    const left = BigInt(right ? bits - n : n);
    f.get(a).i64(left).op(Op.i64Shl).get(a).i64(BigInt(bits) - left).op(Op.i64ShrU).op(Op.i64Or).i64(sizeMask(size)).op(Op.i64And);
  }
  f.set(res);
  f.get(res).i64(BigInt(bits - 1)).op(Op.i64ShrU).op(Op.i32WrapI64).set(msb);
  if (right) {
    f.get(msb).set(cf);
    f.get(msb).get(res).i64(BigInt(bits - 2)).op(Op.i64ShrU).op(Op.i32WrapI64).i32(1).op(Op.i32And).op(Op.i32Xor).set(of);
  } else {
    f.get(res).op(Op.i32WrapI64).i32(1).op(Op.i32And).set(cf);
    f.get(msb).get(cf).op(Op.i32Xor).set(of);
  }
  e.replaceCarry(cf, of);
  if (i.mod === 3) e.writeReg(i.rm, size, i, () => f.get(res));
  else e.store(addr, size, () => f.get(res));
}

/**
 * BT/BTS/BTR/BTC with a register operand (0F A3/AB/B3/BB with a register
 * bit offset, 0F BA /4-/7 with an immediate): CF is the bit, the other flags
 * are kept; the bit offset wraps at the operand size.
 */
function bitTest(e: WasmEmitter, i: DecodedInstruction, op: number, offset: () => void): void {
  if (i.mod !== 3) throw new Untranslatable('BT with memory');
  const f = e.f;
  const size = i.opSize;
  const v = e.temp64(), mask = e.temp64(), cf = e.temp32();
  e.readReg(i.rm, size, i); f.set(v);
  f.i64(1n); offset(); f.i64(BigInt(size * 8 - 1)).op(Op.i64And).op(Op.i64Shl).set(mask);
  f.get(v).get(mask).op(Op.i64And).i64(0n).op(Op.i64Ne).set(cf);
  e.replaceCarry(cf, -1);
  if (op === 0) return;
  e.writeReg(i.rm, size, i, () => {
    f.get(v).get(mask);
    if (op === 1) f.op(Op.i64Or); else if (op === 2) f.i64(-1n).op(Op.i64Xor).op(Op.i64And); else f.op(Op.i64Xor);
  });
}

/**
 * MUL/IMUL with one operand at 32 or 64 bits: rDX:rAX = rAX * operand.
 * Flags as alu.ts's Multiplier: ZF/SF/PF from the low half, CF = OF = the
 * product does not fit in the low half (unsigned) or its sign extension
 * (signed); recorded as LAZY_CFOF.
 */
function multiplyWide(e: WasmEmitter, i: DecodedInstruction, size: number, signed: boolean): void {
  const f = e.f;
  const a = e.temp64(), b = e.temp64(), lo = e.temp64(), hi = e.temp64(), over = e.temp32();
  e.readRm(i, size); f.set(b);
  e.readReg(0, size, i); f.set(a);
  if (size === 4) {
    // The whole product fits in 64 bits.
    const p = e.temp64();
    if (signed) f.get(a).op(Op.i64Extend32S).get(b).op(Op.i64Extend32S); else f.get(a).get(b);
    f.op(Op.i64Mul).set(p);
    f.get(p).i64(0xffffffffn).op(Op.i64And).set(lo);
    f.get(p).i64(32n).op(Op.i64ShrU).i64(0xffffffffn).op(Op.i64And).set(hi);
    if (signed) f.get(p).get(lo).op(Op.i64Extend32S).op(Op.i64Ne); else f.get(hi).i64(0n).op(Op.i64Ne);
    f.set(over);
  } else {
    // 64 x 64 -> 128 from four 32 x 32 -> 64 products.
    const a0 = e.temp64(), a1 = e.temp64(), b0 = e.temp64(), b1 = e.temp64(), p00 = e.temp64(), p01 = e.temp64(), p10 = e.temp64(), mid = e.temp64();
    const low32 = (l: number): void => { f.get(l).i64(0xffffffffn).op(Op.i64And); };
    const high32 = (l: number): void => { f.get(l).i64(32n).op(Op.i64ShrU); };
    low32(a); f.set(a0); high32(a); f.set(a1); low32(b); f.set(b0); high32(b); f.set(b1);
    f.get(a0).get(b0).op(Op.i64Mul).set(p00);
    f.get(a0).get(b1).op(Op.i64Mul).set(p01);
    f.get(a1).get(b0).op(Op.i64Mul).set(p10);
    high32(p00); low32(p01); f.op(Op.i64Add); low32(p10); f.op(Op.i64Add).set(mid);
    low32(p00); f.get(mid).i64(32n).op(Op.i64Shl).op(Op.i64Or).set(lo);
    f.get(a1).get(b1).op(Op.i64Mul); high32(p01); f.op(Op.i64Add); high32(p10); f.op(Op.i64Add); high32(mid); f.op(Op.i64Add).set(hi);
    if (signed) {
      // The signed high half: subtract the other operand for each negative one.
      f.get(hi).get(b).i64(0n).get(a).i64(0n).op(Op.i64LtS).op(Op.select).op(Op.i64Sub)
        .get(a).i64(0n).get(b).i64(0n).op(Op.i64LtS).op(Op.select).op(Op.i64Sub).set(hi);
      f.get(hi).get(lo).i64(63n).op(Op.i64ShrS).op(Op.i64Ne).set(over);
    } else f.get(hi).i64(0n).op(Op.i64Ne).set(over);
  }
  const of = e.temp64();
  f.get(over).op(Op.i64ExtendI32U).set(of);
  e.record(LAZY_CFOF, size, lo, -1, of, over);
  e.known = undefined;
  e.writeReg(0, size, i, () => f.get(lo));
  e.writeReg(2, size, i, () => f.get(hi));
}

/**
 * DIV/IDIV at 32 and 64 bits: rAX = rDX:rAX / operand, rDX = the remainder;
 * flags unchanged (as the interpreter's Divider leaves them). At 64 bits only
 * a dividend that fits in rAX (rDX zero, or its sign extension for IDIV);
 * a wider one, a zero divisor and any quotient that does not fit leave the
 * block for the interpreter, which divides or raises #DE (WebAssembly's
 * division would trap).
 */
function divide(e: WasmEmitter, i: DecodedInstruction, size: number, signed: boolean): void {
  const f = e.f;
  const d = e.temp64(), n = e.temp64(), q = e.temp64(), r = e.temp64();
  e.readRm(i, size);
  if (signed && size === 4) f.op(Op.i64Extend32S);
  f.set(d);
  if (size === 8) {
    const rax = e.regLocal(0), rdx = e.regLocal(2);
    f.get(rax).set(n);
    f.get(d).op(Op.i64Eqz);
    if (signed) {
      f.get(rdx).get(rax).i64(63n).op(Op.i64ShrS).op(Op.i64Ne).op(Op.i32Or);
      f.get(rax).i64(-(1n << 63n)).op(Op.i64Eq).get(d).i64(-1n).op(Op.i64Eq).op(Op.i32And).op(Op.i32Or);
    } else f.get(rdx).i64(0n).op(Op.i64Ne).op(Op.i32Or);
    f.ifVoid(); e.exitBefore(e.k); f.op(Op.end);
    f.get(n).get(d).op(signed ? Op.i64DivS : Op.i64DivU).set(q);
    f.get(n).get(d).op(signed ? Op.i64RemS : Op.i64RemU).set(r);
  } else {
    // EDX:EAX as one 64-bit dividend.
    e.readReg(2, 4, i); f.i64(32n).op(Op.i64Shl); e.readReg(0, 4, i); f.op(Op.i64Or).set(n);
    f.get(d).op(Op.i64Eqz);
    if (signed) f.get(n).i64(-(1n << 63n)).op(Op.i64Eq).get(d).i64(-1n).op(Op.i64Eq).op(Op.i32And).op(Op.i32Or);
    f.ifVoid(); e.exitBefore(e.k); f.op(Op.end);
    f.get(n).get(d).op(signed ? Op.i64DivS : Op.i64DivU).set(q);
    // The quotient must fit in 32 bits (signed: -2^31 .. 2^31-1).
    if (signed) f.get(q).get(q).op(Op.i64Extend32S).op(Op.i64Ne); else f.get(q).i64(0xffffffffn).op(Op.i64GtU);
    f.ifVoid(); e.exitBefore(e.k); f.op(Op.end);
    f.get(n).get(d).op(signed ? Op.i64RemS : Op.i64RemU).set(r);
  }
  e.writeReg(0, size, i, () => f.get(q));
  e.writeReg(2, size, i, () => f.get(r));
}

/**
 * SHL/SAL (kind 4, 6), SHR (5), SAR (7) of the operand in local `a` at `size` by the count that
 * `count` pushes (an i64, nonzero, below the operand's width), into locals `res`, `cf` (i32) and
 * `of`, as alu.ts's shiftFast: CF the last bit shifted out, OF the operand's top bit (SHR), 0
 * (SAR), or the result's top bit xor CF (SHL).
 */
function shiftCore(e: WasmEmitter, kind: number, size: number, a: number, count: () => void, res: number, cf: number, of: number): void {
  const f = e.f;
  const bits = BigInt(size * 8);
  const sext = (): void => { f.get(a); if (size === 4) f.op(Op.i64Extend32S); else if (size === 2) f.op(Op.i64Extend16S); else if (size === 1) f.op(Op.i64Extend8S); };
  const countMinus1 = (): void => { count(); f.i64(1n).op(Op.i64Sub); };
  const lowBit = (): void => { f.op(Op.i32WrapI64).i32(1).op(Op.i32And); };
  if (kind === 5) {
    f.get(a); count(); f.op(Op.i64ShrU).set(res);
    f.get(a); countMinus1(); f.op(Op.i64ShrU); lowBit(); f.set(cf);
    f.get(a).i64(bits - 1n).op(Op.i64ShrU).set(of);
  } else if (kind === 7) {
    sext(); count(); f.op(Op.i64ShrS).i64(sizeMask(size)).op(Op.i64And).set(res);
    sext(); countMinus1(); f.op(Op.i64ShrS); lowBit(); f.set(cf);
    f.i64(0n).set(of);
  } else {
    f.get(a); count(); f.op(Op.i64Shl).i64(sizeMask(size)).op(Op.i64And).set(res);
    f.get(a).i64(bits); count(); f.op(Op.i64Sub).op(Op.i64ShrU); lowBit(); f.set(cf);
    f.get(res).i64(bits - 1n).op(Op.i64ShrU).get(cf).op(Op.i64ExtendI32U).op(Op.i64Xor).set(of);
  }
}

/**
 * SHL/SHR/SAR by CL (D2/D3 /4 /5 /6 /7): as `shift` with the count known
 * only at run time. A masked count of 0 changes nothing, flags included; a
 * count at or past the operand's width (8 and 16 bits) leaves the block for
 * the interpreter's general path.
 */
function shiftByCl(e: WasmEmitter, i: DecodedInstruction, size: number): void {
  const kind = i.regField;
  if (kind < 4) throw new Untranslatable('rotate by CL');
  const f = e.f;
  const bits = size * 8;
  const count = e.temp64(), a = e.temp64(), res = e.temp64(), cf = e.temp32(), of = e.temp64();
  e.readReg(1, 1, i); f.i64(size === 8 ? 63n : 31n).op(Op.i64And).set(count);
  if (size < 4) {
    f.get(count).i64(BigInt(bits)).op(Op.i64GeU).ifVoid();
    e.exitBefore(e.k);
    f.op(Op.end);
  }
  let addr = -1;
  if (i.mod === 3) e.readReg(i.rm, size, i);
  else { addr = e.operandAddress(i, size, true); e.load(addr, size); }
  f.set(a);
  // A zero count leaves the operand as it was (written back all the same) and the flags untouched.
  f.get(a).set(res);
  f.get(count).i64(0n).op(Op.i64Ne).ifVoid();
  shiftCore(e, kind, size, a, () => f.get(count), res, cf, of);
  // Recorded whether dead or not past this point: the flags of a zero count are the old ones, so liveness cannot be known here.
  const dead = e.flagsDead;
  e.flagsDead = false;
  e.record(LAZY_CFOF, size, res, -1, of, cf);
  e.flagsDead = dead;
  f.op(Op.end);
  if (i.mod === 3) e.writeReg(i.rm, size, i, () => f.get(res));
  else e.store(addr, size, () => f.get(res));
  e.known = undefined;
}

/** PUSH of the i64 `value` pushes (64-bit): the store first, RSP after, so a miss changes nothing. */
function push(e: WasmEmitter, i: DecodedInstruction, value: () => void): void {
  const f = e.f;
  const v = e.temp64(), rsp = e.temp64();
  value(); f.set(v);
  f.get(e.regLocal(RSP)).i64(8n).op(Op.i64Sub).set(rsp);
  const addr = e.translateAddress(rsp, 8, true);
  e.store(addr, 8, () => f.get(v));
  e.writeReg(RSP, 8, i, () => f.get(rsp));
}

/** POP (64-bit): returns the local holding the value; RSP is already moved. */
function pop(e: WasmEmitter, i: DecodedInstruction): number {
  const f = e.f;
  const v = e.temp64(), rsp = e.temp64();
  f.get(e.regLocal(RSP)).set(rsp);
  const addr = e.translateAddress(rsp, 8, false);
  e.load(addr, 8); f.set(v);
  e.writeReg(RSP, 8, i, () => f.get(rsp).i64(8n).op(Op.i64Add));
  return v;
}

/** Leaves before this instruction when the i64 in `target` is not canonical (JavaScript raises the #GP). */
function exitIfNonCanonical(e: WasmEmitter, target: number): void {
  const f = e.f;
  f.get(target).i64(16n).op(Op.i64Shl).i64(16n).op(Op.i64ShrS).get(target).op(Op.i64Ne).ifVoid();
  e.exitBefore(e.k);
  f.op(Op.end);
}

/** CALL/JMP r/m64 (FF /2, /4): the target read first, then (CALL) the return address pushed. */
function indirectBranch(e: WasmEmitter, i: DecodedInstruction, call: boolean): void {
  const f = e.f;
  const target = e.temp64();
  e.readRm(i, 8); f.set(target);
  exitIfNonCanonical(e, target);
  if (call) push(e, i, () => f.i64(BigInt(e.block.nexts[e.k])));
  e.dispatch(e.k + 1, () => f.get(target));
}


/**
 * Building blocks of a translated block's WebAssembly function: guest
 * registers in i64 locals (loaded at entry, written back at every exit),
 * operands and effective addresses, loads and stores through the TLB hit
 * path (helpers.ts $tlb; a miss leaves the block before the instruction,
 * which JavaScript then runs), the lazy-flags record, conditions, and the
 * block's exits.
 *
 * Every exit before instruction k stores the registers written so far, RIP
 * of instruction k and the count retired, so JavaScript resumes exactly
 * there: nothing the instruction does happens before its last possible exit.
 */
import type { DecodedInstruction } from '../decoder';
import { LAZY_ADC, LAZY_ADD, LAZY_EAGER, LAZY_LOGIC, LAZY_SBB, LAZY_SUB } from '../lazy-flags';
import { FLAG_CF, FLAG_OF, SEG_FS, SEG_GS } from '../cpu-constants';
import type { Block } from '../jit/block';
import { FunctionBody, I32, I64, Op } from './encoder';
import { EXIT_SLOW, HELPER_DISPATCH, HELPER_FLAGS, HELPER_TLB } from './helpers';
import {
  FLAG_A, FLAG_B, FLAG_CIN, FLAG_EAGER, FLAG_OP, FLAG_RES, FLAG_SIZE, STATE_FLAGS, STATE_FS_BASE, STATE_GS_BASE, STATE_REG_HI, STATE_REG_LO,
  STATE_BUDGET, STATE_RIP,
} from './space';

/** The function's only parameter: the vCPU's state area. */
export const BASE = 0;

/** The instruction cannot be translated (the block stays with the JavaScript tiers). */
export class Untranslatable extends Error {
  constructor(reason: string) { super(reason); }
}

/** Mask of a size's bits as an i64 constant. */
export function sizeMask(size: number): bigint {
  return size === 8 ? -1n : (1n << BigInt(size * 8)) - 1n;
}

/** A flag writer of this block whose operands and result are still in locals (for folding conditions). */
export interface KnownFlags {
  op: number;
  size: number;
  a: number;
  b: number;
  res: number;
  /** ADC/SBB: the carry in (an i32 local). */
  cin?: number;
}

export class WasmEmitter {
  readonly f = new FunctionBody(1);
  /** The i64 local of each guest register, or -1 until used. */
  private readonly regLocals = new Int32Array(16).fill(-1);
  /** Registers written so far along the code being emitted. */
  private readonly dirty = new Uint8Array(16);
  /** The last flag writer, while its locals describe the flags. */
  known: KnownFlags | undefined;
  /** The instruction being emitted, and whether its flags are dead (flag-liveness.ts). */
  k = 0;
  flagsDead = false;

  constructor(readonly block: Block) {}

  /** RIP of instruction `k` of the block. */
  ripOf(k: number): number { return k === 0 ? this.block.rip : this.block.nexts[k - 1]; }

  temp64(): number { return this.f.local(I64); }
  temp32(): number { return this.f.local(I32); }

  /** The i64 local holding all of register `r`. */
  regLocal(r: number): number {
    let l = this.regLocals[r];
    if (l < 0) { l = this.f.local(I64); this.regLocals[r] = l; }
    return l;
  }

  /** Whether byte register `r` is AH, CH, DH or BH (no REX prefix). */
  static highByte(r: number, size: number, i: DecodedInstruction): boolean {
    return size === 1 && i.rex === 0 && r >= 4 && r < 8;
  }

  /** Pushes register `r` at `size`, zero-extended to i64. */
  readReg(r: number, size: number, i: DecodedInstruction): void {
    const f = this.f;
    if (WasmEmitter.highByte(r, size, i)) {
      f.get(this.regLocal(r - 4)).i64(8n).op(Op.i64ShrU).i64(0xffn).op(Op.i64And);
      return;
    }
    f.get(this.regLocal(r));
    if (size !== 8) f.i64(sizeMask(size)).op(Op.i64And);
  }

  /** Writes the i64 that `value` pushes to register `r` at `size` (32-bit writes clear the high half, as x86-64 does). */
  writeReg(r: number, size: number, i: DecodedInstruction, value: () => void): void {
    const f = this.f;
    if (WasmEmitter.highByte(r, size, i)) {
      const l = this.regLocal(r - 4);
      f.get(l).i64(~0xff00n).op(Op.i64And);
      value();
      f.i64(0xffn).op(Op.i64And).i64(8n).op(Op.i64Shl).op(Op.i64Or).set(l);
      this.dirty[r - 4] = 1;
      return;
    }
    const l = this.regLocal(r);
    if (size === 8) { value(); f.set(l); } else if (size === 4) {
      value(); f.op(Op.i32WrapI64, Op.i64ExtendI32U).set(l);
    } else {
      const mask = sizeMask(size);
      f.get(l).i64(~mask).op(Op.i64And);
      value();
      f.i64(mask).op(Op.i64And).op(Op.i64Or).set(l);
    }
    this.dirty[r] = 1;
  }

  /** Pushes the effective address of i's memory operand (64- or 32-bit addressing). */
  effectiveAddress(i: DecodedInstruction): void {
    const f = this.f;
    if (i.addrSize !== 8 && i.addrSize !== 4) throw new Untranslatable('16-bit addressing');
    if (i.ripRelative) {
      const a = BigInt(this.block.nexts[this.k] + i.disp);
      f.i64(i.addrSize === 8 ? a : BigInt.asUintN(32, a));
      return;
    }
    let terms = 0;
    if (i.base >= 0) { f.get(this.regLocal(i.base)); terms++; }
    if (i.index >= 0) {
      f.get(this.regLocal(i.index));
      if (i.scale !== 0) f.i64(BigInt(i.scale)).op(Op.i64Shl);
      if (terms++ > 0) f.op(Op.i64Add);
    }
    if (i.disp !== 0 || terms === 0) {
      f.i64(BigInt(i.disp));
      if (terms++ > 0) f.op(Op.i64Add);
    }
    if (i.addrSize === 4) f.op(Op.i32WrapI64, Op.i64ExtendI32U);
  }

  /** Pushes the linear address of i's memory operand: in 64-bit mode only FS and GS add a base. */
  linearAddress(i: DecodedInstruction): void {
    this.effectiveAddress(i);
    const seg = i.segment;
    if (seg === SEG_FS || seg === SEG_GS) {
      this.f.get(BASE).mem(Op.i64Load, seg === SEG_FS ? STATE_FS_BASE : STATE_GS_BASE, 3).op(Op.i64Add);
    }
  }

  /**
   * The memory address (an i32 local) of `size` bytes at the linear address in local `lin`
   * through the TLB, leaving the block before this instruction when there is no hit.
   */
  translateAddress(lin: number, size: number, write: boolean): number {
    const f = this.f;
    const addr = this.temp32();
    f.get(BASE).get(lin).i32(size).i32(write ? 1 : 0).call(HELPER_TLB).tee(addr).i32(-1).op(Op.i32Eq).ifVoid();
    this.exitBefore(this.k);
    f.op(Op.end);
    return addr;
  }

  /** The address (i32 local) of i's memory operand for `size` bytes. */
  operandAddress(i: DecodedInstruction, size: number, write: boolean): number {
    const lin = this.temp64();
    this.linearAddress(i);
    this.f.set(lin);
    return this.translateAddress(lin, size, write);
  }

  /** Pushes `size` bytes at memory address local `addr`, zero-extended to i64. */
  load(addr: number, size: number): void {
    const f = this.f.get(addr);
    switch (size) {
      case 1: f.mem(Op.i64Load8U, 0, 0); break;
      case 2: f.mem(Op.i64Load16U, 0, 0); break;
      case 4: f.mem(Op.i64Load32U, 0, 0); break;
      default: f.mem(Op.i64Load, 0, 0); break;
    }
  }

  /** Stores the low `size` bytes of the i64 that `value` pushes at memory address local `addr`. */
  store(addr: number, size: number, value: () => void): void {
    this.f.get(addr);
    value();
    switch (size) {
      case 1: this.f.mem(Op.i64Store8, 0, 0); break;
      case 2: this.f.mem(Op.i64Store16, 0, 0); break;
      case 4: this.f.mem(Op.i64Store32, 0, 0); break;
      default: this.f.mem(Op.i64Store, 0, 0); break;
    }
  }

  /** Pushes the r/m operand of `i` at `size` (a register, or memory through the TLB). */
  readRm(i: DecodedInstruction, size: number): void {
    if (i.mod === 3) { this.readReg(i.rm, size, i); return; }
    const addr = this.operandAddress(i, size, false);
    this.load(addr, size);
  }

  /** Stores all registers written so far to the state area. */
  writeBack(): void {
    const f = this.f;
    for (let r = 0; r < 16; r++) {
      if (this.dirty[r] === 0) continue;
      const l = this.regLocals[r];
      f.get(BASE).get(l).op(Op.i32WrapI64).mem(Op.i32Store, STATE_REG_LO + 4 * r, 2);
      f.get(BASE).get(l).i64(32n).op(Op.i64ShrU).op(Op.i32WrapI64).mem(Op.i32Store, STATE_REG_HI + 4 * r, 2);
    }
  }

  /** Leaves the block before instruction `k` (JavaScript runs it): registers and RIP stored, the instructions before it charged. */
  exitBefore(k: number): void {
    const f = this.f;
    this.writeBack();
    f.get(BASE).f64(this.ripOf(k)).mem(Op.f64Store, STATE_RIP, 3);
    // The budget counts what retired (JavaScript takes the difference): the instructions before this one.
    if (k > 0) f.get(BASE).get(BASE).mem(Op.i32Load, STATE_BUDGET, 2).i32(k).op(Op.i32Sub).mem(Op.i32Store, STATE_BUDGET, 2);
    f.i32(EXIT_SLOW).op(Op.return);
  }

  /** Ends the block after `retired` instructions: on to the block at the RIP that `target` pushes (an i64). */
  dispatch(retired: number, target: () => void): void {
    this.writeBack();
    this.f.get(BASE);
    target();
    this.f.i32(retired).returnCall(HELPER_DISPATCH);
  }

  /** Stores the lazy-flags record (locals `res`, `a`, `b` are i64, `cin` i32; -1 skips a field) unless the flags are dead. */
  record(op: number, size: number, res: number, a: number, b: number, cin = -1): void {
    if (this.flagsDead) return;
    const f = this.f;
    f.get(BASE).i32(op).mem(Op.i32Store, STATE_FLAGS + FLAG_OP, 2);
    f.get(BASE).i32(size).mem(Op.i32Store, STATE_FLAGS + FLAG_SIZE, 2);
    f.get(BASE).get(res).mem(Op.i64Store, STATE_FLAGS + FLAG_RES, 3);
    if (a >= 0) f.get(BASE).get(a).mem(Op.i64Store, STATE_FLAGS + FLAG_A, 3);
    if (b >= 0) f.get(BASE).get(b).mem(Op.i64Store, STATE_FLAGS + FLAG_B, 3);
    if (cin >= 0) f.get(BASE).get(cin).mem(Op.i32Store, STATE_FLAGS + FLAG_CIN, 2);
  }

  /**
   * For instructions that change CF (and OF) and keep the other flags (rotates, BT): stores an
   * eager record of the current flags with CF and OF replaced by the i32 0/1 locals `cf` and `of`
   * (-1: OF kept), unless the flags are dead. May leave the block when the current flags cannot be
   * computed here.
   */
  replaceCarry(cf: number, of: number): void {
    if (this.flagsDead) return;
    const f = this.f;
    const bits = this.temp32();
    f.get(BASE).call(HELPER_FLAGS).tee(bits).i32(-1).op(Op.i32Eq).ifVoid();
    this.exitBefore(this.k);
    f.op(Op.end);
    f.get(BASE).i32(LAZY_EAGER).mem(Op.i32Store, STATE_FLAGS + FLAG_OP, 2);
    f.get(BASE).get(bits).i32(of >= 0 ? ~(FLAG_CF | FLAG_OF) : ~FLAG_CF).op(Op.i32And).get(cf).op(Op.i32Or);
    if (of >= 0) f.get(of).i32(11).op(Op.i32Shl).op(Op.i32Or);
    f.mem(Op.i32Store, STATE_FLAGS + FLAG_EAGER, 2);
    this.known = undefined;
  }

  /** Pushes the sign bit (i32 0/1) of the i64 that `value` pushes, at `size`. */
  private signBit(size: number, value: () => void): void {
    value();
    this.f.i64(BigInt(size * 8 - 1)).op(Op.i64ShrU).op(Op.i32WrapI64).i32(1).op(Op.i32And);
  }

  /** CF of the known flags when their kind gives it from the locals (ADD/ADC, SUB/SBB, logic), else undefined. */
  knownCarry(): (() => void) | undefined {
    const k = this.known;
    if (k === undefined) return undefined;
    const f = this.f;
    if (k.op === LAZY_ADD) return () => { f.get(k.res).get(k.a).op(Op.i64LtU); };
    if (k.op === LAZY_SUB) return () => { f.get(k.a).get(k.b).op(Op.i64LtU); };
    // With a carry in, an equal result (ADC) or equal operands (SBB) also carry: the sum wrapped all the way round.
    if (k.op === LAZY_ADC) return () => { f.get(k.res).get(k.a).op(Op.i64LtU).get(k.cin as number).get(k.res).get(k.a).op(Op.i64Eq, Op.i32And, Op.i32Or); };
    if (k.op === LAZY_SBB) return () => { f.get(k.a).get(k.b).op(Op.i64LtU).get(k.cin as number).get(k.a).get(k.b).op(Op.i64Eq, Op.i32And, Op.i32Or); };
    if (k.op === LAZY_LOGIC) return () => { f.i32(0); };
    return undefined;
  }

  /**
   * Pushes condition `cc` (Jcc's low nibble) as i32 0/1: from the locals of
   * the block's last flag writer when known, else from the record through
   * $flags (leaving before this instruction when $flags cannot compute it).
   */
  condition(cc: number): void {
    const f = this.f;
    let cf: () => void, zf: () => void, sf: () => void, of: () => void, pf: () => void;
    const k = this.known;
    const carry = this.knownCarry();
    if (k !== undefined && carry !== undefined) {
      cf = carry;
      zf = () => { f.get(k.res).op(Op.i64Eqz); };
      sf = () => { this.signBit(k.size, () => f.get(k.res)); };
      pf = () => { f.get(k.res).op(Op.i32WrapI64).i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And).op(Op.i32Eqz); };
      if (k.op === LAZY_ADD || k.op === LAZY_ADC) of = () => { this.signBit(k.size, () => f.get(k.a).get(k.res).op(Op.i64Xor).get(k.b).get(k.res).op(Op.i64Xor).op(Op.i64And)); };
      else if (k.op === LAZY_SUB || k.op === LAZY_SBB) of = () => { this.signBit(k.size, () => f.get(k.a).get(k.b).op(Op.i64Xor).get(k.a).get(k.res).op(Op.i64Xor).op(Op.i64And)); };
      else of = () => { f.i32(0); };
      // Signed comparisons after SUB/CMP: one compare of the sign-extended operands.
      if (k.op === LAZY_SUB && (cc >> 1) >= 6) {
        const sext = (l: number): void => {
          f.get(l);
          if (k.size === 4) f.op(Op.i64Extend32S); else if (k.size === 2) f.op(Op.i64Extend16S); else if (k.size === 1) f.op(Op.i64Extend8S);
        };
        sext(k.a); sext(k.b);
        f.op((cc >> 1) === 6 ? Op.i64LtS : Op.i64LeS);
        if ((cc & 1) !== 0) f.op(Op.i32Eqz);
        return;
      }
    } else {
      const bits = this.temp32();
      f.get(BASE).call(HELPER_FLAGS).tee(bits).i32(-1).op(Op.i32Eq).ifVoid();
      this.exitBefore(this.k);
      f.op(Op.end);
      const bit = (n: number) => () => { f.get(bits).i32(n).op(Op.i32ShrU).i32(1).op(Op.i32And); };
      cf = bit(0); pf = bit(2); zf = bit(6); sf = bit(7); of = bit(11);
    }
    switch (cc >> 1) {
      case 0: of(); break;
      case 1: cf(); break;
      case 2: zf(); break;
      case 3: cf(); zf(); f.op(Op.i32Or); break;
      case 4: sf(); break;
      case 5: pf(); break;
      case 6: sf(); of(); f.op(Op.i32Xor); break;
      default: zf(); sf(); of(); f.op(Op.i32Xor, Op.i32Or); break;
    }
    if ((cc & 1) !== 0) f.op(Op.i32Eqz);
  }

  /** The function: register loads for every register used, then the body. */
  finish(): FunctionBody {
    const pro = new FunctionBody(1);
    for (let r = 0; r < 16; r++) {
      const l = this.regLocals[r];
      if (l < 0) continue;
      pro.get(BASE).mem(Op.i64Load32U, STATE_REG_LO + 4 * r, 2).get(BASE).mem(Op.i64Load32U, STATE_REG_HI + 4 * r, 2)
        .i64(32n).op(Op.i64Shl).op(Op.i64Or).set(l);
    }
    this.f.code.unshift(...pro.code);
    return this.f;
  }
}

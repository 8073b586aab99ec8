/**
 * The functions every module of translated blocks starts with, called by
 * its blocks: the arithmetic flags from the lazy-flags record, the TLB hit
 * path, and the dispatch from one block to the next through the vCPU's
 * jump cache. Their indices and types are fixed (HELPER_*, TYPE_*).
 */
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF } from '../cpu-constants';
import { LAZY_ADC, LAZY_ADD, LAZY_CFOF, LAZY_DEC, LAZY_EAGER, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB } from '../lazy-flags';
import { F64, FunctionBody, FunctionType, I32, I64, Op } from './encoder';
import {
  FLAG_A, FLAG_B, FLAG_CIN, FLAG_EAGER, FLAG_OP, FLAG_RES, FLAG_SIZE, JUMP_BITS, JUMP_COUNT, JUMP_CPL, JUMP_ENTRY_SHIFT, JUMP_GENERATION,
  JUMP_GLOBAL, JUMP_INDEX, JUMP_MODULE, JUMP_RIP, JUMP_SLOT, JUMP_TAG, STATE_BUDGET, STATE_CPL, STATE_FLAGS, STATE_GENERATION, STATE_GLOBAL_GENERATION, STATE_HOST,
  STATE_JUMP, STATE_NEXT_INDEX, STATE_NEXT_MODULE, STATE_RIP, STATE_STOP_AT, STATE_TAG_READ, STATE_TAG_WRITE, STATE_TLB_HALF,
} from './space';

/** Block: (state) -> exit code. */
export const TYPE_BLOCK = 0;
/** Flags: (state) -> the six arithmetic flags as RFLAGS bits, or -1 when the record's kind is not computed here. */
export const TYPE_FLAGS = 1;
/** TLB: (state, linear, size, write) -> address in memory, or -1 (miss, MMIO, page crossing, non-canonical, code page). */
export const TYPE_TLB = 2;
/** Dispatch: (state, next RIP, instructions the block retired) -> exit code. */
export const TYPE_DISPATCH = 3;
/** Enter: (state, table index) -> exit code; JavaScript's way in. */
export const TYPE_ENTER = 4;
export const MODULE_TYPES: FunctionType[] = [
  { params: [I32], results: [I32] },
  { params: [I32], results: [I32] },
  { params: [I32, I64, I32, I32], results: [I32] },
  { params: [I32, I64, I32], results: [I32] },
  { params: [I32, I32], results: [I32] },
];

export const HELPER_FLAGS = 0;
export const HELPER_TLB = 1;
export const HELPER_DISPATCH = 2;
export const HELPER_ENTER = 3;
/** The helpers' types, in HELPER_* order. */
export const HELPER_TYPES = [TYPE_FLAGS, TYPE_TLB, TYPE_DISPATCH, TYPE_ENTER];
export const HELPER_COUNT = 4;

/** Table 0: the enter functions of the current epoch's modules (imported, shared); table 1: the module's own blocks. */
export const TABLE_MODULES = 0;
export const TABLE_BLOCKS = 1;
/** Modules one epoch (the time between two rebuilds of every block into one module) holds at most. */
export const EPOCH_MODULES = 1024;

/** Exit codes: the block ended and its successor is not in the jump cache (or the budget is spent); or it stopped before an instruction it leaves to JavaScript. */
export const EXIT_DISPATCH = 0;
export const EXIT_SLOW = 1;
/** The dispatch found the next block in another module (STATE_NEXT_MODULE, STATE_NEXT_INDEX); budget and count are already charged. */
export const EXIT_CROSS = 2;

/** $flags: the record's six arithmetic flags, as LazyFlags.arith computes them. */
function flagsHelper(): FunctionBody {
  const f = new FunctionBody(1);
  const base = 0;
  const op = f.local(I32), size = f.local(I32), res = f.local(I64), a = f.local(I64), b = f.local(I64), shift = f.local(I64), out = f.local(I32);
  const rec = STATE_FLAGS;
  f.get(base).mem(Op.i32Load, rec + FLAG_OP, 2).set(op);
  // Eager: the stored bits.
  f.get(op).i32(LAZY_EAGER).op(Op.i32Eq).ifVoid()
    .get(base).mem(Op.i32Load, rec + FLAG_EAGER, 2).i32(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF).op(Op.i32And).op(Op.return)
    .op(Op.end);
  f.get(base).mem(Op.i32Load, rec + FLAG_SIZE, 2).set(size);
  f.get(base).mem(Op.i64Load, rec + FLAG_RES, 3).set(res);
  f.get(base).mem(Op.i64Load, rec + FLAG_A, 3).set(a);
  f.get(base).mem(Op.i64Load, rec + FLAG_B, 3).set(b);
  // The sign bit's position: size * 8 - 1.
  f.get(size).i32(8).op(Op.i32Mul).i32(1).op(Op.i32Sub).op(Op.i64ExtendI32U).set(shift);
  // ZF, SF, PF from the result (stored masked to its size).
  f.get(res).op(Op.i64Eqz).i32(6).op(Op.i32Shl);
  f.get(res).get(shift).op(Op.i64ShrU).op(Op.i32WrapI64).i32(1).op(Op.i32And).i32(7).op(Op.i32Shl).op(Op.i32Or);
  f.get(res).op(Op.i32WrapI64).i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And).op(Op.i32Eqz).i32(2).op(Op.i32Shl).op(Op.i32Or);
  f.set(out);
  // AF from bit 4 of the operands and result, for every kind but logic and CFOF (whose AF is clear).
  f.get(op).i32(LAZY_LOGIC).op(Op.i32Ne).get(op).i32(LAZY_CFOF).op(Op.i32Ne).op(Op.i32And).ifVoid()
    .get(out).get(a).get(b).op(Op.i64Xor).get(res).op(Op.i64Xor).op(Op.i32WrapI64).i32(FLAG_AF).op(Op.i32And).op(Op.i32Or).set(out)
    .op(Op.end);
  // CF and OF by kind.
  const signOf = (): void => { f.get(shift).op(Op.i64ShrU).op(Op.i32WrapI64).i32(1).op(Op.i32And); };
  const kind = (k: number, body: () => void): void => {
    f.get(op).i32(k).op(Op.i32Eq).ifVoid();
    body();
    f.get(out).op(Op.return).op(Op.end);
  };
  kind(LAZY_ADD, () => {
    f.get(out).get(res).get(a).op(Op.i64LtU).op(Op.i32Or);
    f.get(a).get(res).op(Op.i64Xor).get(b).get(res).op(Op.i64Xor).op(Op.i64And); signOf(); f.i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  kind(LAZY_SUB, () => {
    f.get(out).get(a).get(b).op(Op.i64LtU).op(Op.i32Or);
    f.get(a).get(b).op(Op.i64Xor).get(a).get(res).op(Op.i64Xor).op(Op.i64And); signOf(); f.i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  kind(LAZY_LOGIC, () => { /* CF = OF = 0 */ });
  const carryIn = (): void => { f.get(base).mem(Op.i32Load, rec + FLAG_CIN, 2).i32(0).op(Op.i32Ne); };
  // ADC and SBB: as ADD and SUB, and with a carry in an equal result (operands) carries too.
  kind(LAZY_ADC, () => {
    f.get(out).get(res).get(a).op(Op.i64LtU); carryIn(); f.get(res).get(a).op(Op.i64Eq, Op.i32And, Op.i32Or, Op.i32Or);
    f.get(a).get(res).op(Op.i64Xor).get(b).get(res).op(Op.i64Xor).op(Op.i64And); signOf(); f.i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  kind(LAZY_SBB, () => {
    f.get(out).get(a).get(b).op(Op.i64LtU); carryIn(); f.get(a).get(b).op(Op.i64Eq, Op.i32And, Op.i32Or, Op.i32Or);
    f.get(a).get(b).op(Op.i64Xor).get(a).get(res).op(Op.i64Xor).op(Op.i64And); signOf(); f.i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  kind(LAZY_CFOF, () => {
    f.get(out); carryIn(); f.op(Op.i32Or);
    f.get(base).mem(Op.i32Load, rec + FLAG_B, 2).i32(0).op(Op.i32Ne).i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  // INC: OF when the result is the sign bit alone; DEC: when it is all bits below it.
  kind(LAZY_INC, () => {
    f.get(out); carryIn(); f.op(Op.i32Or);
    f.get(res).i64(1n).get(shift).op(Op.i64Shl).op(Op.i64Eq).i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  kind(LAZY_DEC, () => {
    f.get(out); carryIn(); f.op(Op.i32Or);
    f.get(res).i64(1n).get(shift).op(Op.i64Shl).i64(1n).op(Op.i64Sub).op(Op.i64Eq).i32(11).op(Op.i32Shl).op(Op.i32Or).set(out);
  });
  f.i32(-1);
  return f;
}

/** $tlb: the TLB hit path (see Cpu.readLinear/writeLinear); anything else is left to JavaScript. */
function tlbHelper(codePagesOffset: number): FunctionBody {
  const f = new FunctionBody(4);
  const base = 0, lin = 1, size = 2, write = 3;
  const vpn = f.local(I64), idx = f.local(I32), off = f.local(I32), host = f.local(I32), tag = f.local(I32);
  // Canonical: bits 63..47 all equal.
  f.get(lin).i64(16n).op(Op.i64Shl).i64(16n).op(Op.i64ShrS).get(lin).op(Op.i64Ne).ifVoid().i32(-1).op(Op.return).op(Op.end);
  // Within one page.
  f.get(lin).op(Op.i32WrapI64).i32(0xfff).op(Op.i32And).tee(off).get(size).op(Op.i32Add).i32(4096).op(Op.i32GtU)
    .ifVoid().i32(-1).op(Op.return).op(Op.end);
  f.get(lin).i64(12n).op(Op.i64ShrS).set(vpn);
  // Entry index: the CPL's half plus the page number's low bits; times 8 for the tags.
  f.get(vpn).op(Op.i32WrapI64).i32(1023).op(Op.i32And).get(base).mem(Op.i32Load, STATE_TLB_HALF, 2).op(Op.i32Add).set(idx);
  f.get(base).get(idx).i32(3).op(Op.i32Shl).op(Op.i32Add).set(tag);
  f.get(write).ifResult(F64).get(tag).mem(Op.f64Load, STATE_TAG_WRITE, 3).op(Op.else).get(tag).mem(Op.f64Load, STATE_TAG_READ, 3).op(Op.end);
  f.get(vpn).op(Op.f64ConvertI64S).op(Op.f64Ne).ifVoid().i32(-1).op(Op.return).op(Op.end);
  f.get(base).get(idx).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, STATE_HOST, 2).tee(host).i32(-1).op(Op.i32Eq)
    .ifVoid().i32(-1).op(Op.return).op(Op.end);
  // A store into a page holding translated code goes through JavaScript, which drops that code.
  f.get(write).ifVoid()
    .get(host).i32(12).op(Op.i32ShrU).mem(Op.i32Load8U, codePagesOffset, 0).ifVoid().i32(-1).op(Op.return).op(Op.end)
    .op(Op.end);
  f.get(host).get(off).op(Op.i32Add);
  return f;
}

/**
 * $dispatch: charges the block's instructions to the budget, then follows the jump cache
 * entry for the next RIP when its slot still holds the block the entry was
 * made for (same tag: not dropped, not replaced), translated for this CPL
 * and MMU generation, whose instructions fit in the budget (and the RIP is
 * not the run's stop address). A block in another module of the epoch is
 * entered through the shared table of modules; one of an older epoch is
 * left to JavaScript to call (EXIT_CROSS). RIP is stored whenever it leaves (only then).
 */
function dispatchHelper(slotTagsOffset: number, moduleId: number, epochBase: number): FunctionBody {
  const f = new FunctionBody(3);
  const base = 0, rip = 1, count = 2;
  const budget = f.local(I32), entry = f.local(I32), hit = f.local(I32), module = f.local(I32);
  f.get(base).get(base).mem(Op.i32Load, STATE_BUDGET, 2).get(count).op(Op.i32Sub).tee(budget).mem(Op.i32Store, STATE_BUDGET, 2);
  // The entry: the same hash as BlockRunner's jump cache.
  f.get(rip).op(Op.i32WrapI64).get(rip).op(Op.i32WrapI64).i32(12).op(Op.i32ShrU).op(Op.i32Xor).i32((1 << JUMP_BITS) - 1).op(Op.i32And)
    .i32(JUMP_ENTRY_SHIFT).op(Op.i32Shl).get(base).op(Op.i32Add).set(entry);
  f.get(entry).mem(Op.i64Load, STATE_JUMP + JUMP_RIP, 3).get(rip).op(Op.i64Eq);
  f.get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_COUNT, 2).get(budget).op(Op.i32LeS).op(Op.i32And);
  f.get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_CPL, 2).get(base).mem(Op.i32Load, STATE_CPL, 2).op(Op.i32Eq).op(Op.i32And);
  f.get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_GENERATION, 2);
  f.get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_GLOBAL, 2)
    .ifResult(I32).get(base).mem(Op.i32Load, STATE_GLOBAL_GENERATION, 2).op(Op.else).get(base).mem(Op.i32Load, STATE_GENERATION, 2).op(Op.end);
  f.op(Op.i32Eq).op(Op.i32And);
  f.get(rip).get(base).mem(Op.i64Load, STATE_STOP_AT, 3).op(Op.i64Ne).op(Op.i32And);
  f.get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_SLOT, 2).i32(2).op(Op.i32Shl).mem(Op.i32Load, slotTagsOffset, 2)
    .get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_TAG, 2).op(Op.i32Eq).op(Op.i32And);
  f.set(hit);
  f.get(hit).ifVoid();
  f.get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_MODULE, 2).tee(module).i32(moduleId).op(Op.i32Eq)
    .ifVoid().get(base).get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_INDEX, 2).returnCallIndirect(TYPE_BLOCK, TABLE_BLOCKS).op(Op.end);
  // Another module of this epoch: through its enter function in the shared table.
  f.get(module).i32(epochBase).op(Op.i32Sub).i32(EPOCH_MODULES).op(Op.i32LtU).ifVoid()
    .get(base).get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_INDEX, 2).get(module).i32(epochBase).op(Op.i32Sub)
    .returnCallIndirect(TYPE_ENTER, TABLE_MODULES).op(Op.end);
  // An older epoch's: JavaScript calls it if it still exists.
  f.get(base).get(rip).op(Op.f64ConvertI64S).mem(Op.f64Store, STATE_RIP, 3);
  f.get(base).get(module).mem(Op.i32Store, STATE_NEXT_MODULE, 2);
  f.get(base).get(entry).mem(Op.i32Load, STATE_JUMP + JUMP_INDEX, 2).mem(Op.i32Store, STATE_NEXT_INDEX, 2);
  f.i32(EXIT_CROSS).op(Op.return);
  f.op(Op.end);
  f.get(base).get(rip).op(Op.f64ConvertI64S).mem(Op.f64Store, STATE_RIP, 3);
  f.i32(EXIT_DISPATCH);
  return f;
}

/** $enter: calls the block at `index` of the module's table. */
function enterHelper(): FunctionBody {
  const f = new FunctionBody(2);
  f.get(0).get(1).returnCallIndirect(TYPE_BLOCK, TABLE_BLOCKS);
  return f;
}

/** The helpers of module number `moduleId` of the epoch whose first module is `epochBase`, in HELPER_* order. */
export function helperFunctions(codePagesOffset: number, slotTagsOffset: number, moduleId: number, epochBase: number): FunctionBody[] {
  return [flagsHelper(), tlbHelper(codePagesOffset), dispatchHelper(slotTagsOffset, moduleId, epochBase), enterHelper()];
}

/**
 * Tier-1 handlers specialised for the commonest instruction forms of 64-bit
 * code, chosen once when a block is built (buildBlock) instead of the
 * interpreter's generic handler, which works out the operand size, the ModRM
 * form and the segment on every run. Blocks run in tier 1 for their first
 * thousands of runs, and about a tenth of a Linux boot's instructions (a
 * third of its time) go through tier 1, most of them moves, pushes, pops,
 * calls, returns, conditional branches and register ALU operations.
 *
 * Each memory form takes the TLB hit path itself (a canonical address in one
 * page, a RAM page, for stores one without cached code) and otherwise hands
 * the whole instruction to the generic handler, which then does everything
 * (faults, MMIO, page-crossing, invalidating code) exactly as before: the
 * fast path has no effects until it cannot fail.
 */
import type { Cpu, Handler } from '../cpu';
import type { DecodedInstruction } from '../decoder';
import { SEG_FS, TWO_32 } from '../cpu-constants';
import { TLB_MASK, TLB_SIZE } from '../mmu';
import { ALU_AND, ALU_CMP, aluShift } from '../alu';
import { AluForm, hasTier1Alu, lowByteRegisters, tier1Alu, tier1AluMemory, tier1IncDec } from './tier1-alu';

const CANONICAL_LIMIT = 0x800000000000;

/**
 * The TLB slot for `size` bytes at the linear address whose halves are `lo`
 * (unsigned) and `hi` (signed) when they are canonical (the high half within
 * ±2^15) and within one page, else -1 (the generic handler then raises the
 * fault or splits the access). Integer operations only: from the address as
 * one number this took floating-point division and truncation.
 */
function slotFor(cpu: Cpu, lo: number, hi: number, size: number): number {
  if (((hi + 32768) >>> 16) !== 0 || (lo & 4095) > 4096 - size) return -1;
  return (cpu.cpl === 3 ? TLB_SIZE : 0) + ((lo >>> 12) & TLB_MASK);
}

/** The page number the TLB tags hold for the address with halves `lo`, `hi`. */
function pageOf(lo: number, hi: number): number {
  return hi * 1048576 + (lo >>> 12);
}

/** TLB slot of a read of `size` bytes at the address with halves `lo`, `hi` that hits a RAM page, or -1. */
function readSlot(cpu: Cpu, lo: number, hi: number, size: number): number {
  const idx = slotFor(cpu, lo, hi, size);
  const mmu = cpu.mmu;
  return idx >= 0 && mmu.tagRead[idx] === pageOf(lo, hi) && mmu.views[idx] !== undefined ? idx : -1;
}

/** TLB slot of a write that hits a RAM page holding no cached code, or -1. */
function writeSlot(cpu: Cpu, lo: number, hi: number, size: number): number {
  const idx = slotFor(cpu, lo, hi, size);
  const mmu = cpu.mmu;
  if (idx < 0 || mmu.tagWrite[idx] !== pageOf(lo, hi) || mmu.views[idx] === undefined) return -1;
  const jit = cpu.jit;
  return jit !== undefined && jit.cache.codePages[mmu.physPages[idx] / 4096] === 1 ? -1 : idx;
}

/** readSlot/writeSlot for the memory operand of `i` (64-bit addressing, a segment with base 0); its low half stays in cpu.eaLo. */
function operandReadSlot(cpu: Cpu, i: DecodedInstruction, size: number): number {
  linearHalves(cpu, i);
  return readSlot(cpu, cpu.eaLo, cpu.eaHi | 0, size);
}
function operandWriteSlot(cpu: Cpu, i: DecodedInstruction, size: number): number {
  linearHalves(cpu, i);
  return writeSlot(cpu, cpu.eaLo, cpu.eaHi | 0, size);
}

/**
 * The linear address of `i`'s memory operand (64-bit addressing) into
 * cpu.eaLo/eaHi: the effective address, plus the segment base for FS and GS
 * (the kernel's per-CPU variables are GS-relative); other segments have base
 * 0 in 64-bit mode.
 */
function linearHalves(cpu: Cpu, i: DecodedInstruction): void {
  cpu.effectiveAddressHalves(i);
  const seg = i.segOverride;
  if (seg < SEG_FS) return;
  const base = cpu.segs[seg].base;
  const lo = cpu.eaLo + (base >>> 0);
  cpu.eaLo = lo >>> 0;
  cpu.eaHi = (cpu.eaHi + Math.floor(base / TWO_32) + (lo >= TWO_32 ? 1 : 0)) >>> 0;
}

/** The host view of a TLB slot that readSlot or writeSlot found. */
function slotView(cpu: Cpu, idx: number): DataView {
  return cpu.mmu.views[idx] as DataView;
}

/** The byte offset, in slotView(cpu, idx), of the address whose low half is `lo`. */
function slotOffset(cpu: Cpu, idx: number, lo: number): number {
  return cpu.mmu.offsets[idx] + (lo & 4095);
}

function movRegReg64(dest: 'rm' | 'reg'): Handler {
  return dest === 'rm'
    ? (cpu, i) => { cpu.lo[i.rm] = cpu.lo[i.reg]; cpu.hi[i.rm] = cpu.hi[i.reg]; }
    : (cpu, i) => { cpu.lo[i.reg] = cpu.lo[i.rm]; cpu.hi[i.reg] = cpu.hi[i.rm]; };
}

function movRegReg32(dest: 'rm' | 'reg'): Handler {
  return dest === 'rm'
    ? (cpu, i) => { cpu.lo[i.rm] = cpu.lo[i.reg]; cpu.hi[i.rm] = 0; }
    : (cpu, i) => { cpu.lo[i.reg] = cpu.lo[i.rm]; cpu.hi[i.reg] = 0; };
}

/** MOV reg, [mem] at 4 or 8 bytes. */
function movLoad(size: 4 | 8, generic: Handler): Handler {
  return (cpu, i) => {
    const idx = operandReadSlot(cpu, i, size);
    if (idx < 0) { generic(cpu, i); return; }
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, cpu.eaLo);
    cpu.lo[i.reg] = view.getUint32(p, true);
    cpu.hi[i.reg] = size === 8 ? view.getUint32(p + 4, true) : 0;
  };
}

/** MOV [mem], reg at 4 or 8 bytes. */
function movStore(size: 4 | 8, generic: Handler): Handler {
  return (cpu, i) => {
    const idx = operandWriteSlot(cpu, i, size);
    if (idx < 0) { generic(cpu, i); return; }
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, cpu.eaLo);
    view.setUint32(p, cpu.lo[i.reg], true);
    if (size === 8) view.setUint32(p + 4, cpu.hi[i.reg], true);
  };
}

/** MOVZX reg, byte or word [mem] (0F B6, 0F B7): the register gets the zero-extended value at any operand size. */
function movzxLoad(bytes: 1 | 2, generic: Handler): Handler {
  return (cpu, i) => {
    const idx = operandReadSlot(cpu, i, bytes);
    if (idx < 0) { generic(cpu, i); return; }
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, cpu.eaLo);
    cpu.lo[i.reg] = bytes === 1 ? view.getUint8(p) : view.getUint16(p, true);
    cpu.hi[i.reg] = 0;
  };
}

/** MOV [mem], imm32 (C7 /0) at 4 or 8 bytes (sign-extended to 64 bits). */
function movStoreImm(size: 4 | 8, generic: Handler): Handler {
  return (cpu, i) => {
    const idx = operandWriteSlot(cpu, i, size);
    if (idx < 0) { generic(cpu, i); return; }
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, cpu.eaLo);
    view.setUint32(p, i.imm >>> 0, true);
    if (size === 8) view.setUint32(p + 4, i.imm < 0 ? 0xffffffff : 0, true);
  };
}

/** RSP after a push: the low half moved down 8, the high half borrowing (SS has base 0 in 64-bit mode). */
function pushedLo(cpu: Cpu): number {
  return (cpu.lo[4] - 8) >>> 0;
}
function pushedHi(cpu: Cpu): number {
  return (cpu.hi[4] | 0) - (cpu.lo[4] < 8 ? 1 : 0);
}

/** RSP += delta on its halves (a carry or borrow moves the high half). */
function moveStackTop(cpu: Cpu, delta: 8 | -8): void {
  const lo = cpu.lo[4], moved = lo + delta;
  if (moved < 0 || moved >= 4294967296) cpu.hi[4] = (cpu.hi[4] + (delta > 0 ? 1 : -1)) >>> 0;
  cpu.lo[4] = moved >>> 0;
}

/** PUSH r64 (not RSP). */
function push64(generic: Handler): Handler {
  return (cpu, i) => {
    const sp = pushedLo(cpu);
    const idx = writeSlot(cpu, sp, pushedHi(cpu), 8);
    if (idx < 0) { generic(cpu, i); return; }
    const r = (i.opcode & 7) | ((i.rex & 1) << 3);
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, sp);
    view.setUint32(p, cpu.lo[r], true);
    view.setUint32(p + 4, cpu.hi[r], true);
    moveStackTop(cpu, -8);
  };
}

/** POP r64 (not RSP). */
function pop64(generic: Handler): Handler {
  return (cpu, i) => {
    const sp = cpu.lo[4];
    const idx = readSlot(cpu, sp, cpu.hi[4] | 0, 8);
    if (idx < 0) { generic(cpu, i); return; }
    const r = (i.opcode & 7) | ((i.rex & 1) << 3);
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, sp);
    cpu.lo[r] = view.getUint32(p, true);
    cpu.hi[r] = view.getUint32(p + 4, true);
    moveStackTop(cpu, 8);
  };
}

/** LEA with 64-bit addressing: the address's exact halves (not canonicalised), as Cpu.effectiveAddress leaves them. */
function lea64(size: 4 | 8): Handler {
  return (cpu, i) => {
    cpu.effectiveAddress(i);
    cpu.lo[i.reg] = cpu.eaLo;
    cpu.hi[i.reg] = size === 8 ? cpu.eaHi : 0;
  };
}

/** CALL rel32 in 64-bit code: pushes the return address and branches. */
function callRel64(generic: Handler): Handler {
  return (cpu, i) => {
    const ret = cpu.nextRip, target = ret + i.imm;
    const sp = pushedLo(cpu);
    const idx = target >= -CANONICAL_LIMIT && target < CANONICAL_LIMIT ? writeSlot(cpu, sp, pushedHi(cpu), 8) : -1;
    if (idx < 0) { generic(cpu, i); return; }
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, sp);
    view.setUint32(p, ret >>> 0, true);
    view.setUint32(p + 4, Math.floor(ret / 4294967296) >>> 0, true);
    moveStackTop(cpu, -8);
    cpu.nextRip = target;
  };
}

/** RET (C3) in 64-bit code: pops a canonical return address. */
function ret64(generic: Handler): Handler {
  return (cpu, i) => {
    const sp = cpu.lo[4];
    const idx = readSlot(cpu, sp, cpu.hi[4] | 0, 8);
    if (idx < 0) { generic(cpu, i); return; }
    const view = slotView(cpu, idx), p = slotOffset(cpu, idx, sp);
    const target = (view.getUint32(p + 4, true) | 0) * 4294967296 + view.getUint32(p, true);
    if (target < -CANONICAL_LIMIT || target >= CANONICAL_LIMIT) { generic(cpu, i); return; } // #GP, from the generic path
    moveStackTop(cpu, 8);
    cpu.nextRip = target;
  };
}

/** Jcc (short or near) in 64-bit code: JE/JNE test ZF alone, the rest ask LazyFlags.condition. */
function jcc64(zero: boolean | undefined, generic: Handler): Handler {
  return (cpu, i) => {
    const f = cpu.flags;
    const taken = zero === undefined ? f.condition(i.opcode & 0xf) : f.zf() === zero;
    if (taken) branch(cpu, i, generic);
  };
}

/** A taken relative branch: RIP moves by the displacement, or the generic handler raises the #GP of a non-canonical target. */
function branch(cpu: Cpu, i: DecodedInstruction, generic: Handler): void {
  const target = cpu.nextRip + i.imm;
  if (target >= -CANONICAL_LIMIT && target < CANONICAL_LIMIT) cpu.nextRip = target;
  else generic(cpu, i);
}

/** NOP (90 without REX.B or F3) and the hint NOP 0F 1F, whose memory operand is never accessed: the padding compilers put between functions and loop heads. */
const nop: Handler = () => { /* nothing: the runner moves RIP on */ };

/** JMP rel8/rel32 in 64-bit code (the block's last instruction: followed ones never run). */
function jmp64(generic: Handler): Handler {
  return (cpu, i) => branch(cpu, i, generic);
}

/** MOV r32/r64, imm (B8+r): REX.W takes a full 64-bit immediate. */
function movRegImm(size: 4 | 8): Handler {
  return (cpu, i) => {
    const r = (i.opcode & 7) | ((i.rex & 1) << 3);
    cpu.lo[r] = i.imm >>> 0;
    cpu.hi[r] = size === 8 ? i.immHi >>> 0 : 0;
  };
}

/** MOV r/m, imm32 (C7 /0) with a register: at 8 bytes the immediate is sign-extended. */
function movRmImm(size: 4 | 8): Handler {
  return (cpu, i) => {
    cpu.lo[i.rm] = i.imm >>> 0;
    cpu.hi[i.rm] = size === 8 && i.imm < 0 ? 0xffffffff : 0;
  };
}

/** MOVSXD r64, r32 (63 with REX.W and a register). */
const movsxdReg: Handler = (cpu, i) => {
  const v = cpu.lo[i.rm];
  cpu.lo[i.reg] = v;
  cpu.hi[i.reg] = (v | 0) < 0 ? 0xffffffff : 0;
};

/** Shift or rotate (C1, D1) of a register by a constant count, at 4 or 8 bytes. */
function shiftRegImm(size: 4 | 8): Handler {
  return (cpu, i) => {
    const f = cpu.flags, d = i.rm;
    const r = aluShift(f, i.regField, size, cpu.lo[d], size === 8 ? cpu.hi[d] : 0, i.opcode === 0xc1 ? i.imm & 0xff : 1);
    cpu.lo[d] = r;
    cpu.hi[d] = size === 8 ? f.hi : 0;
  };
}

/** The specialised handlers, made once per generic handler table (keyed by it). */
interface Specialised {
  movRR64: [Handler, Handler];
  movRR32: [Handler, Handler];
  load: Map<number, Handler>;
  store: Map<number, Handler>;
  push: Handler;
  pop: Handler;
  lea: Map<number, Handler>;
  call: Handler;
  ret: Handler;
  /** JNE, JE, other conditions. */
  jcc: [Handler, Handler, Handler];
  shiftImm: Map<number, Handler>;
  movzx: [Handler, Handler];
  storeImm: Map<number, Handler>;
  jmp: Handler;
  movImm: Map<number, Handler>;
  movRmImm: Map<number, Handler>;
}

const bySize = (make: (size: 4 | 8) => Handler): Map<number, Handler> => new Map([[4, make(4)], [8, make(8)]]);

const made = new WeakMap<readonly Handler[], Specialised>();

function specialisedFor(table: readonly Handler[]): Specialised {
  let s = made.get(table);
  if (s === undefined) {
    s = {
      movRR64: [movRegReg64('rm'), movRegReg64('reg')],
      movRR32: [movRegReg32('rm'), movRegReg32('reg')],
      load: bySize((size) => movLoad(size, table[0x8b])),
      store: bySize((size) => movStore(size, table[0x89])),
      push: push64(table[0x50]),
      pop: pop64(table[0x58]),
      lea: bySize(lea64),
      call: callRel64(table[0xe8]),
      ret: ret64(table[0xc3]),
      jcc: [jcc64(false, table[0x75]), jcc64(true, table[0x74]), jcc64(undefined, table[0x70])],
      shiftImm: bySize(shiftRegImm),
      movzx: [movzxLoad(1, table[0x1b6]), movzxLoad(2, table[0x1b7])],
      storeImm: bySize((size) => movStoreImm(size, table[0xc7])),
      jmp: jmp64(table[0xe9]),
      movImm: bySize(movRegImm),
      movRmImm: bySize(movRmImm),
    };
    made.set(table, s);
  }
  return s;
}

/**
 * ALU forms that only read their memory operand (flat segment, 64-bit addressing):
 * CMP r/m, reg (38, 39), op reg, r/m (02, 03, ..., 3B), TEST r/m, reg (84, 85),
 * CMP r/m, imm (80, 81, 83 /7), TEST r/m, imm (F6, F7 /0); else the generic handler.
 */
function memoryAlu(i: DecodedInstruction, size: 4 | 8, generic: Handler): Handler {
  const op = i.opcode;
  const mem = (alu: number, bytes: 1 | 4 | 8, form: AluForm): Handler => tier1AluMemory(alu, bytes, form, operandReadSlot, generic);
  if (op < 0x40 && (op & 7) <= 3 && hasTier1Alu(op >> 3)) {
    const byte = (op & 1) === 0, toReg = (op & 2) !== 0;
    if ((toReg || op >> 3 === ALU_CMP) && (!byte || lowByteRegisters(i, true))) return mem(op >> 3, byte ? 1 : size, toReg ? 'reg,rm' : 'rm,reg');
    return generic;
  }
  if (op === 0x84 && lowByteRegisters(i, true)) return mem(ALU_AND, 1, 'test');
  if (op === 0x85) return mem(ALU_AND, size, 'test');
  if ((op === 0x80 || op === 0x81 || op === 0x83) && i.regField === ALU_CMP) return mem(ALU_CMP, op === 0x80 ? 1 : size, 'rm,imm');
  if ((op === 0xf6 || op === 0xf7) && i.regField === 0) return mem(ALU_AND, op === 0xf6 ? 1 : size, 'test rm,imm');
  return generic;
}

/**
 * The handler tier 1 runs for `i` in code of `codeSize`: a specialised one
 * for the forms above in 64-bit code, else the generic table's.
 */
export function tier1Handler(table: readonly Handler[], i: DecodedInstruction, codeSize: number): Handler {
  const generic = table[i.opcode];
  if (codeSize !== 8 || i.lock) return generic;
  const op = i.opcode;
  if (op === 0x89 || op === 0x8b) {
    if (i.opSize !== 4 && i.opSize !== 8) return generic;
    const s = specialisedFor(table);
    if (i.mod === 3) return (i.opSize === 8 ? s.movRR64 : s.movRR32)[op === 0x89 ? 0 : 1];
    // DS/ES/SS/CS: base 0 in 64-bit mode, so the offset is the linear address; FS/GS add a base.
    if (i.addrSize !== 8) return generic;
    return (op === 0x8b ? s.load : s.store).get(i.opSize) as Handler;
  }
  if (op >= 0x50 && op <= 0x5f && i.opSize === 8 && ((op & 7) | ((i.rex & 1) << 3)) !== 4) {
    const s = specialisedFor(table);
    return op < 0x58 ? s.push : s.pop;
  }
  if (((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) && i.opSize === 8) {
    const cc = op & 0xf;
    return specialisedFor(table).jcc[cc === 5 ? 0 : cc === 4 ? 1 : 2];
  }
  if ((op === 0x90 && (i.rex & 1) === 0 && i.rep !== 0xf3) || op === 0x11f) return nop;
  if ((op === 0xe9 || op === 0xeb) && i.opSize === 8) return specialisedFor(table).jmp;
  if (op === 0x63 && i.opSize === 8 && i.mod === 3) return movsxdReg;
  if (op === 0xe8 && i.opSize === 8) return specialisedFor(table).call;
  if (op === 0xc3 && i.opSize === 8) return specialisedFor(table).ret;
  if (i.opSize !== 4 && i.opSize !== 8) return generic;
  const size = i.opSize;
  // The accumulator with an immediate: op AL, imm8 (04, 0C, ..., 3C), op eAX, imm32 (05, ..., 3D); TEST (A8, A9).
  if (op < 0x40 && ((op & 7) === 4 || (op & 7) === 5) && hasTier1Alu(op >> 3)) return tier1Alu(op >> 3, (op & 1) === 0 ? 1 : size, 'acc,imm');
  if (op === 0xa8 || op === 0xa9) return tier1Alu(ALU_AND, op === 0xa8 ? 1 : size, 'test acc,imm');
  if (op >= 0xb8 && op <= 0xbf) return specialisedFor(table).movImm.get(size) as Handler;
  if (op === 0xc7 && i.regField === 0 && i.mod === 3) return specialisedFor(table).movRmImm.get(size) as Handler;
  if (op === 0x8d && i.addrSize === 8 && i.mod !== 3) return specialisedFor(table).lea.get(size) as Handler;
  // Memory forms below address through DS/ES/SS/CS, whose base is 0 in 64-bit mode, or FS/GS (linearHalves adds the base).
  const flatMemory = i.mod !== 3 && i.addrSize === 8;
  if ((op === 0x1b6 || op === 0x1b7) && flatMemory) return specialisedFor(table).movzx[op === 0x1b6 ? 0 : 1];
  if (op === 0xc7 && i.regField === 0 && flatMemory) return specialisedFor(table).storeImm.get(size) as Handler;
  if (flatMemory) return memoryAlu(i, size, generic);
  if (i.mod !== 3) return generic;
  // ALU r/m, reg (01, 09, ..., 39) and reg, r/m (03, 0B, ..., 3B), but not ADC/SBB (they read CF first).
  if (op < 0x40 && (op & 5) === 1) return hasTier1Alu(op >> 3) ? tier1Alu(op >> 3, size, (op & 2) === 0 ? 'rm,reg' : 'reg,rm') : generic;
  if (op === 0x85) return tier1Alu(ALU_AND, size, 'test');
  // Byte registers (low bytes only: see lowByteRegisters): ALU r/m8, r8 (00, 08, ...) and r8, r/m8 (02, 0A, ...), TEST, with an imm8 (80).
  if (op < 0x40 && (op & 5) === 0 && hasTier1Alu(op >> 3) && lowByteRegisters(i, true)) return tier1Alu(op >> 3, 1, (op & 2) === 0 ? 'rm,reg' : 'reg,rm');
  if (op === 0x84 && lowByteRegisters(i, true)) return tier1Alu(ALU_AND, 1, 'test');
  if (op === 0x80 && hasTier1Alu(i.regField) && lowByteRegisters(i, false)) return tier1Alu(i.regField, 1, 'rm,imm');
  // TEST r/m, imm (F6 /0, F7 /0); INC and DEC (FE, FF /0 and /1).
  if ((op === 0xf6 || op === 0xf7) && i.regField === 0 && (op === 0xf7 || lowByteRegisters(i, false))) return tier1Alu(ALU_AND, op === 0xf6 ? 1 : size, 'test rm,imm');
  if ((op === 0xfe || op === 0xff) && i.regField < 2 && (op === 0xff || lowByteRegisters(i, false))) return tier1IncDec(i.regField === 1, op === 0xfe ? 1 : size);
  if (op === 0xc1 || op === 0xd1) return specialisedFor(table).shiftImm.get(size) as Handler;
  if ((op === 0x81 || op === 0x83) && hasTier1Alu(i.regField)) return tier1Alu(i.regField, size, 'rm,imm');
  return generic;
}

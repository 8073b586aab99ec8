/**
 * Dead flags within a block. An instruction whose six arithmetic flags are
 * all overwritten by a later instruction of the same block, with nothing in
 * between that reads them, can fault or can leave the block, never has its
 * flags read (not by the guest, and not by an exception frame either, since
 * nothing in between can raise one): codegen sets Emitter.flagsDead for it,
 * record() then stores nothing and the families skip computing them.
 * Deliberately conservative: an instruction not classified below ends the
 * scan with the flags live.
 */
import type { DecodedInstruction } from '../decoder';

const NONE = 0, WRITES_ALL = 1, OTHER = 2;

/**
 * How instruction x affects the arithmetic flags, for the elimination here:
 * WRITES_ALL and NONE only for register forms that cannot fault and cannot
 * leave the block early (as emitted inline or by their handler); OTHER for
 * everything else (readers, memory operands, unknown instructions). NONE
 * also covers flag writers whose register results do not depend on the
 * flags (rotates, INC/DEC, BT, BSF/BSR): inside a window that ends with a
 * WRITES_ALL, whatever flags they read or write are themselves dead.
 */
function flagEffect(x: DecodedInstruction, codeSize: number): number {
  const op = x.opcode;
  const reg = x.mod === 3;
  if (op < 0x40) {
    const low = op & 7, aluOp = (op >> 3) & 7;
    if (aluOp === 2 || aluOp === 3) return OTHER; // ADC/SBB read CF
    if (low <= 3) return reg ? WRITES_ALL : OTHER;
    if (low === 4 || low === 5) return WRITES_ALL; // ALU AL/eAX, imm
    return OTHER;
  }
  switch (op) {
    case 0x80: case 0x81: case 0x83: return reg && x.regField !== 2 && x.regField !== 3 ? WRITES_ALL : OTHER;
    case 0x84: case 0x85: return reg ? WRITES_ALL : OTHER;
    case 0xa8: case 0xa9: return WRITES_ALL;
    case 0x69: case 0x6b: case 0x1af: return reg ? WRITES_ALL : OTHER;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: {
      if (!reg) return OTHER;
      const size = (op & 1) === 0 ? 1 : x.opSize;
      const count = (op <= 0xc1 ? x.imm & 0xff : 1) & (size === 8 ? 63 : 31);
      if (count === 0) return NONE;
      if (x.regField >= 4) return WRITES_ALL; // SHL/SHR/SAL/SAR: all six
      // ROL/ROR keep the other flags (harmless: their inputs are dead too) and
      // their register result does not depend on flags; RCL/RCR read CF.
      return x.regField <= 1 ? NONE : OTHER;
    }
    case 0x88: case 0x89: case 0x8a: case 0x8b:
    case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
      return reg ? NONE : OTHER;
    case 0x63: return reg && codeSize === 8 ? NONE : OTHER; // MOVSXD (ARPL outside 64-bit mode writes ZF)
    case 0x8d: return reg ? OTHER : NONE; // LEA computes an address, never accesses memory
    case 0x98: case 0x99: return NONE;
    case 0xf6: case 0xf7: return reg && x.regField === 2 ? NONE : OTHER; // NOT
    case 0x86: case 0x87: return reg ? NONE : OTHER; // XCHG reg, reg
    case 0xc6: case 0xc7: return reg && x.regField === 0 ? NONE : OTHER; // MOV r, imm (other /r: #UD)
    case 0xfe: case 0xff: return reg && x.regField <= 1 ? NONE : OTHER; // INC/DEC (CF kept: a flags-only input)
    case 0x1a3: case 0x1ab: case 0x1b3: case 0x1bb: case 0x1bc: case 0x1bd: return reg ? NONE : OTHER; // BT*, BSF/BSR (TZCNT/LZCNT)
    case 0x1ba: return reg && x.regField >= 4 ? NONE : OTHER; // BT* r, imm8 (/0-/3: #UD)
    default:
      if (op >= 0x90 && op <= 0x97) return NONE; // NOP, PAUSE, XCHG with rAX
      if ((op >= 0xb0 && op <= 0xbf) || (op >= 0x1c8 && op <= 0x1cf)) return NONE; // MOV r, imm; BSWAP
      if (op >= 0x40 && op <= 0x4f && codeSize !== 8) return NONE; // INC/DEC outside 64-bit mode
      return OTHER;
  }
}


/**
 * 32/64-bit register or immediate ALU forms that the translator inlines
 * (ADD, SUB/CMP, the logic ops, TEST; not ADC/SBB): Emitter.knownCarry gives
 * their CF from the locals of the result, so an INC/DEC right after one
 * needs nothing from its record.
 */
function carryKnownAfter(i: DecodedInstruction): boolean {
  const op = i.opcode;
  if (i.opSize !== 4 && i.opSize !== 8) return false;
  if (op < 0x40 && (op & 7) <= 3 && (op & 4) === 0 && (op & 1) === 1 && i.mod === 3) return ((op >> 3) & 7) !== 2 && ((op >> 3) & 7) !== 3;
  if (op < 0x40 && (op & 7) === 5) return ((op >> 3) & 7) !== 2 && ((op >> 3) & 7) !== 3;
  if ((op === 0x81 || op === 0x83) && i.mod === 3) return i.regField !== 2 && i.regField !== 3;
  return op === 0x85 && i.mod === 3;
}

/** INC/DEC of a register at 32/64 bit, which the translator inlines (they keep CF, so they read it). */
function incDecRegister(i: DecodedInstruction, codeSize: number): boolean {
  if (i.opSize !== 4 && i.opSize !== 8) return false;
  if (i.opcode >= 0x40 && i.opcode <= 0x4f) return codeSize !== 8;
  return i.opcode === 0xff && i.mod === 3 && i.regField <= 1;
}

/** For each instruction, true when the flags it writes are certainly dead. */
export function deadFlagWriters(insns: readonly DecodedInstruction[], codeSize: number): Uint8Array {
  const dead = new Uint8Array(insns.length);
  for (let k = 0; k < insns.length - 1; k++) {
    // An INC/DEC right after: its CF comes from this op's locals, the rest it writes itself.
    if (carryKnownAfter(insns[k]) && incDecRegister(insns[k + 1], codeSize)) { dead[k] = 1; continue; }
    for (let j = k + 1; j < insns.length; j++) {
      const effect = flagEffect(insns[j], codeSize);
      if (effect === WRITES_ALL) { dead[k] = 1; break; }
      if (effect === OTHER) break;
    }
  }
  return dead;
}

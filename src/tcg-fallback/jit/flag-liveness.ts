/**
 * Dead lazy-flag records within a block. An inline ALU op whose six flags are
 * all overwritten by a later instruction of the same block, with only
 * flag-neutral instructions that cannot fault in between, never has its
 * flags read (not by the guest, and not by an exception frame either, since
 * nothing in between can raise one), so its record need not be stored.
 * Deliberately conservative: any instruction not listed here ends the scan
 * with the flags live.
 */
import type { DecodedInstruction } from '../decoder';

/** Register-only, flag-neutral, never faults (63 is MOVSXD only in 64-bit code; elsewhere ARPL writes ZF). */
function neutral(i: DecodedInstruction, codeSize: number): boolean {
  const op = i.opcode;
  if (op === 0x90 && i.rep === 0) return true; // NOP (not PAUSE)
  if (op >= 0xb8 && op <= 0xbf) return true; // MOV reg, imm
  if (i.mod !== 3) return op === 0x8d; // LEA computes an address and touches no memory
  return op === 0x89 || op === 0x8b || (op === 0x63 && codeSize === 8) || op === 0x1b6 || op === 0x1b7 || op === 0x1be || op === 0x1bf;
}

/** Register or immediate ALU forms that the translator inlines and that set all six arithmetic flags. */
function overwritesAll(i: DecodedInstruction): boolean {
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

/**
 * A 32-bit ADD/SUB/CMP or a logic op at 32/64 bit: the emitter can give its CF
 * from the locals of the result (Emitter.knownCarry), so an INC/DEC right
 * after it needs nothing from its record.
 */
function carryKnownAfter(i: DecodedInstruction): boolean {
  if (!overwritesAll(i)) return false;
  const op = i.opcode;
  const alu = op === 0x81 || op === 0x83 ? i.regField : op === 0x85 ? 4 : (op >> 3) & 7;
  const logic = alu === 1 || alu === 4 || alu === 6;
  return logic || i.opSize === 4;
}

/** For each instruction, true when the flags it writes are certainly dead. */
export function deadFlagWriters(insns: readonly DecodedInstruction[], codeSize: number): Uint8Array {
  const dead = new Uint8Array(insns.length);
  for (let k = 0; k < insns.length - 1; k++) {
    // An INC/DEC right after: its CF comes from this op's locals, the rest it writes itself.
    if (carryKnownAfter(insns[k]) && incDecRegister(insns[k + 1], codeSize)) { dead[k] = 1; continue; }
    for (let j = k + 1; j < insns.length; j++) {
      const i = insns[j];
      if (overwritesAll(i)) { dead[k] = 1; break; }
      if (!neutral(i, codeSize)) break;
    }
  }
  return dead;
}

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

/** For each instruction, true when the flags it writes are certainly dead. */
export function deadFlagWriters(insns: readonly DecodedInstruction[], codeSize: number): Uint8Array {
  const dead = new Uint8Array(insns.length);
  for (let k = 0; k < insns.length - 1; k++) {
    for (let j = k + 1; j < insns.length; j++) {
      const i = insns[j];
      if (overwritesAll(i)) { dead[k] = 1; break; }
      if (!neutral(i, codeSize)) break;
    }
  }
  return dead;
}

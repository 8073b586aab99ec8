/**
 * Which instructions accept a LOCK prefix (SDM vol. 2 LOCK): only the
 * read-modify-write forms with a memory destination. Anything else is #UD.
 */
import type { DecodedInstruction } from './decoder';

export function lockAllowed(i: DecodedInstruction): boolean {
  if (i.mod === 3) return false;
  const op = i.opcode;
  if (op < 0x40) return (op & 7) < 2 && (op >> 3) !== 7; // ALU r/m, reg forms except CMP
  switch (op) {
    case 0x80: case 0x81: case 0x83: return i.regField !== 7;
    case 0x86: case 0x87: return true;
    case 0xf6: case 0xf7: return i.regField === 2 || i.regField === 3;
    case 0xfe: case 0xff: return i.regField < 2;
    case 0x1ab: case 0x1b3: case 0x1bb: case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1: return true;
    case 0x1ba: return i.regField >= 5;
    case 0x1c7: return i.regField === 1;
    default: return false;
  }
}

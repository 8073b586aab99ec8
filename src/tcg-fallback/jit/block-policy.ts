/**
 * Which instructions may sit in the middle of a cached block. Anything that
 * can change how the following bytes decode or run (mode, CS, paging, IF,
 * TF, the interrupt shadow) or that talks to devices through ports ends the
 * block after it executes, so those effects are always seen by the next
 * lookup and interrupts are taken right after them. Exceptions need no rule:
 * they are precise anywhere, because RIP is set before every instruction.
 * Taken branches end a block dynamically (nextRip differs from fall-through).
 */
import type { DecodedInstruction } from '../decoder';

const midBlock = new Uint8Array(0x400);

function allow(from: number, to: number): void {
  for (let op = from; op <= to; op++) midBlock[op] = 1;
}
function deny(...ops: number[]): void {
  for (const op of ops) midBlock[op] = 0;
}

// One-byte map.
allow(0x00, 0x3f); deny(0x06, 0x07, 0x0e, 0x0f, 0x16, 0x17, 0x1e, 0x1f); // segment push/pop, escape
allow(0x40, 0x61); allow(0x63, 0x6b); // inc/dec/push/pop/pusha/popa, movsxd, push imm, imul
allow(0x80, 0x8d); allow(0x8f, 0x99); // ALU imm, test, xchg, mov, lea, pop, cbw/cwd
allow(0x9b, 0x9c); allow(0x9e, 0xc1); // fwait, pushf, sahf/lahf, moffs, string ops, mov imm, shifts
allow(0xc6, 0xc9); allow(0xd0, 0xdf); // mov imm, enter/leave, shifts, aam/aad/xlat, x87
deny(0xd6);
allow(0xf5, 0xf7); allow(0xf8, 0xf9); allow(0xfc, 0xfe); // cmc, group 3, clc/stc, cld/std, group 4
// Two-byte map (0F xx).
allow(0x110, 0x11f); allow(0x128, 0x12f); allow(0x131, 0x131); // SSE moves, hint NOPs, cvt, rdtsc
allow(0x140, 0x17f); allow(0x190, 0x1a0); allow(0x1a2, 0x1a8); allow(0x1ab, 0x1b1);
allow(0x1b3, 0x1b3); allow(0x1b6, 0x1ff);
// 0F 38 / 0F 3A: MOVBE or #UD.
allow(0x200, 0x3ff);

/** True when the instruction may be followed by more instructions in the same block. */
export function mayContinueBlock(i: DecodedInstruction): boolean {
  // PAUSE may give the slice to another vCPU (Cpu.yieldSlice), which the runner sees between blocks.
  if (i.opcode === 0x90 && i.rep === 0xf3) return false;
  if (i.opcode === 0xff) return i.regField === 0 || i.regField === 1 || i.regField === 6; // inc/dec/push; the rest branch
  return midBlock[i.opcode] === 1;
}

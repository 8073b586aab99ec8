/**
 * Conditions and carries that compiled code takes from the locals of the
 * last flag-setting instruction instead of the lazy-flags record
 * (emitter.ts foldCondition/knownCarry): every condition after a 64-bit
 * CMP and TEST, read by SETcc, CMOVcc and a block-ending Jcc, and the carry
 * of 64-bit ADD/SUB and constant shifts read by ADC, SBB and an INC that
 * keeps it. The operands include equal high halves with low halves on
 * either side, where a comparison of the high halves alone is wrong, and
 * byte and word operands on either side of their sign bit.
 */
import t from 'tap';
import { Machine, machine, pairsAgreeOnEveryTier, runProgram } from './tcg-jit-support';

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** Bit n of RDX: condition n after CMP RAX, RBX; of RSI: after TEST; of RDI: a Jcc after CMP not taken. R8: CMOVcc picks. */
function setccProgram(): string {
  let src = '  xor edx, edx\n  xor esi, esi\n  xor edi, edi\n  xor r8d, r8d\n';
  CC.forEach((cc, n) => {
    src += `  cmp rax, rbx\n  set${cc} cl\n  movzx ecx, cl\n  lea rdx, [rdx * 2 + rcx]\n`;
    src += `  test rax, rbx\n  set${cc} cl\n  movzx ecx, cl\n  lea rsi, [rsi * 2 + rcx]\n`;
    src += `  mov ecx, ${n + 1}\n  xor r9d, r9d\n  cmp rax, rbx\n  cmov${cc} r9, rcx\n  lea r8, [r8 * 2 + r9]\n`;
    src += `  cmp rax, rbx\n  j${cc} 1f\n  or edi, ${1 << n}\n1:\n`;
  });
  // The JMP ends the last block before `done`, where the run stops: a block holding the stop address runs in tier 1.
  return `${src}  jmp 2f\n2:\ndone:\n  nop\n`;
}

/** As setccProgram for byte (AL, BL) and word (AX, BX) CMP and TEST: bits in RDX/RSI (byte) and RDI/R8 (word). */
function narrowProgram(): string {
  let src = '  xor edx, edx\n  xor esi, esi\n  xor edi, edi\n  xor r8d, r8d\n';
  CC.forEach((cc) => {
    src += `  cmp al, bl\n  set${cc} cl\n  movzx ecx, cl\n  lea rdx, [rdx * 2 + rcx]\n`;
    src += `  test al, bl\n  j${cc} 1f\n  lea rsi, [rsi * 2 + 1]\n  jmp 3f\n1:\n  lea rsi, [rsi * 2]\n3:\n`;
    src += `  cmp ax, bx\n  j${cc} 1f\n  lea rdi, [rdi * 2 + 1]\n  jmp 3f\n1:\n  lea rdi, [rdi * 2]\n3:\n`;
    src += `  test ax, bx\n  set${cc} cl\n  movzx ecx, cl\n  lea r8, [r8 * 2 + rcx]\n`;
  });
  return `${src}  jmp 2f\n2:\ndone:\n  nop\n`;
}

/** Carry consumers (the JMP as in setccProgram): R10..R15 count the carries ADC/SBB/INC+ADC saw after 64-bit ADD, CMP, SUB and SHR/SHL by constants. */
const CARRY_PROGRAM = `
  xor r10d, r10d
  xor r11d, r11d
  xor r12d, r12d
  xor r13d, r13d
  xor r14d, r14d
  xor r15d, r15d
  mov rcx, rax
  add rcx, rbx
  adc r10, 0
  cmp rax, rbx
  sbb r11, 0
  mov rcx, rax
  sub rcx, rbx
  adc r11, 0
  mov rcx, rax
  add rcx, rbx
  inc rcx
  adc r12, 0
  mov rcx, rax
  cmp rcx, rbx
  dec rcx
  adc r12, 0
  mov rcx, rax
  shr rcx, 33
  adc r13, 0
  mov rcx, rax
  shl rcx, 1
  adc r13, 0
  mov rcx, rbx
  shr rcx, 1
  adc r14, 0
  mov ecx, eax
  add ecx, ebx
  adc r15, 0
  mov rcx, rax
  add rcx, rbx
  setc cl
  movzx ecx, cl
  add r15, rcx
  jmp 2f
2:
done:
  nop
`;

const VALUES = [
  0n, 1n, 0xffffffffn, 0x100000000n, 0x1ffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n,
  0x8000000000000001n, 0xffffffffffffffffn, 0xfffffffffffffffen, 0x123456789abcdef0n, 0x1234567800000001n,
];

function setPair(m: Machine, a: bigint, b: bigint): void {
  m.cpu.lo[0] = Number(a & 0xffffffffn); m.cpu.hi[0] = Number(a >> 32n);
  m.cpu.lo[3] = Number(b & 0xffffffffn); m.cpu.hi[3] = Number(b >> 32n);
}

t.test('every condition after a 64-bit CMP and TEST, through SETcc, CMOVcc and Jcc, agrees with the interpreter', async (t) => {
  const pairs = pairsAgreeOnEveryTier(t, VALUES, setPair, setccProgram(), [2, 6, 7, 8]);
  t.equal(pairs, VALUES.length ** 2, 'every pair ran');
});

t.test('the interpreter\'s conditions after CMP of equal high halves are the unsigned and signed order of the whole values', async (t) => {
  // Reference check of the bits the compiled tier is compared against above.
  const m = machine('interp');
  setPair(m, 0x1234567800000001n, 0x12345678ffffffffn);
  runProgram(m, setccProgram());
  const bit = (reg: number, cc: string): number => (m.cpu.lo[reg] >>> (CC.length - 1 - CC.indexOf(cc))) & 1;
  t.equal(bit(2, 'b'), 1, 'SETB: below');
  t.equal(bit(2, 'a'), 0, 'SETA: not above');
  t.equal(bit(2, 'l'), 1, 'SETL: less');
  t.equal(bit(2, 'e'), 0, 'SETE: not equal');
});

t.test('every condition after a byte and a word CMP and TEST agrees with the interpreter', async (t) => {
  const values = [0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x17f, 0x7fff, 0x8000, 0x8001, 0xffff, 0xff80, 0x1234];
  const pairs = pairsAgreeOnEveryTier(t, values, (m, a, b) => { m.cpu.lo[0] = a; m.cpu.lo[3] = b; }, narrowProgram(), [2, 6, 7, 8]);
  t.equal(pairs, values.length ** 2, 'every pair ran');
});

t.test('ADC, SBB and INC/DEC read the carry of 64-bit ADD/SUB/CMP and constant shifts as the interpreter does', async (t) => {
  const pairs = pairsAgreeOnEveryTier(t, VALUES, setPair, CARRY_PROGRAM, [10, 11, 12, 13, 14, 15]);
  t.equal(pairs, VALUES.length ** 2, 'every pair ran');
});

t.test('compiled code: a 64-bit ADD that wraps carries into ADC, and constant shifts carry out the last bit shifted', async (t) => {
  const m = machine('compiled');
  setPair(m, 0xffffffff00000000n, 0x100000000n);
  runProgram(m, CARRY_PROGRAM);
  t.equal(m.cpu.lo[10], 1, 'R10: ADD of 0xffffffff00000000 and 0x100000000 carried');
  t.equal(m.cpu.lo[13], 2, 'R13: SHR by 33 (bit 32 set) and SHL by 1 (bit 63 set) both carried');
  t.equal(m.cpu.lo[14], 0, 'R14: SHR by 1 of 0x100000000 (bit 0 clear) did not carry');
});

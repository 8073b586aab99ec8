/**
 * The translator's inline multiplies and shifts/rotates (jit/emit-arith.ts)
 * against the interpreter: every form runs over a table of edge values
 * (0, 1, 31/32/63 and their neighbours as counts, 0x80000000, all-ones,
 * negative x negative, ...) in each tier, storing the result registers and
 * RFLAGS (pushfq, so every flag, the undefined ones included) after each
 * instruction; the compiled tier must write exactly what the interpreter
 * writes. Multiplies are also checked against BigInt arithmetic. Then:
 * flags a later instruction overwrites (not computed by compiled code),
 * and faults in the middle of a block on memory forms (precise state).
 */
import t from 'tap';
import { PT, PTE_P, TIERS, labelAddress, machine, runProgram, snapshot } from './tcg-jit-support';
import type { Machine, Tier } from './tcg-jit-support';

const VALUES: bigint[] = [
  0n, 1n, 2n, 31n, 32n, 33n, 63n, 64n, 0xffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xfffffffffffffffdn, 0x123456789abcdef1n,
  0xfedcba9876543210n, 0x00000001fffffffen, 0xffffffff80000000n, 0x8000000000000001n,
];
const N = VALUES.length;
const TABLE = 0x90000, SCRATCH = 0x98000, OUT = 0x100000;
/** Bytes stored per instruction per pair: RAX, RBX, RCX, RDX, RFLAGS, [SCRATCH]. */
const REC = 48;

/**
 * A program running each of `ops` once for every (rax, rbx) pair of VALUES
 * (rcx = rbx, so CL forms get the table's counts; [SCRATCH] holds rbx for
 * memory forms). A CMP first gives the flags that
 * rotates and zero counts must keep a varied value.
 */
function program(ops: string[]): string {
  const body = ops.map((op) => `
  mov rax, qword ptr [rsi + r8 * 8]
  mov rbx, qword ptr [rsi + r9 * 8]
  mov rcx, rbx
  mov rdx, 0x5555aaaa5555aaaa
  mov qword ptr [${SCRATCH}], rbx
  cmp rax, rbx
  ${op}
  pushfq
  pop r10
  mov r11, qword ptr [${SCRATCH}]
  mov qword ptr [rdi], rax
  mov qword ptr [rdi + 8], rbx
  mov qword ptr [rdi + 16], rcx
  mov qword ptr [rdi + 24], rdx
  mov qword ptr [rdi + 32], r10
  mov qword ptr [rdi + 40], r11
  add rdi, ${REC}`).join('\n');
  return `
  mov rsi, ${TABLE}
  mov rdi, ${OUT}
  xor r8d, r8d
outer:
  xor r9d, r9d
inner:
${body}
  inc r9
  cmp r9, ${N}
  jb inner
  inc r8
  cmp r8, ${N}
  jb outer
done:
  nop
`;
}

interface Rec { rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint; rflags: bigint; mem: bigint }

/** Runs `ops` in `tier`; returns recs[op][pair]. */
function run(tier: Tier, ops: string[]): Rec[][] {
  const m: Machine = machine(tier);
  VALUES.forEach((v, k) => { m.mem.writeU32(TABLE + k * 8, Number(v & 0xffffffffn)); m.mem.writeU32(TABLE + k * 8 + 4, Number(v >> 32n)); });
  const { doneAt } = runProgram(m, program(ops), 10_000_000);
  if (m.cpu.rip !== doneAt) throw new Error(`${tier}: stopped at ${m.cpu.rip.toString(16)}, fault ${m.fault()?.vector}`);
  const q = (a: number): bigint => BigInt(m.mem.readU32(a)) | (BigInt(m.mem.readU32(a + 4)) << 32n);
  return ops.map((_, o) => {
    const recs: Rec[] = [];
    for (let p = 0; p < N * N; p++) {
      const a = OUT + (p * ops.length + o) * REC;
      recs.push({ rax: q(a), rbx: q(a + 8), rcx: q(a + 16), rdx: q(a + 24), rflags: q(a + 32), mem: q(a + 40) });
    }
    return recs;
  });
}

/** Hex lines per pair, so a mismatch shows the inputs and both outputs. */
function lines(recs: Rec[]): string[] {
  return recs.map((r, p) => `${VALUES[Math.floor(p / N)].toString(16)},${VALUES[p % N].toString(16)}: ` +
    `rax=${r.rax.toString(16)} rbx=${r.rbx.toString(16)} rcx=${r.rcx.toString(16)} rdx=${r.rdx.toString(16)} ` +
    `fl=${r.rflags.toString(16)} mem=${r.mem.toString(16)}`);
}

/** Every tier writes what the interpreter writes, op by op; returns the interpreter's records. */
function compareTiers(tt: tap.Test, ops: string[]): Rec[][] {
  const ref = run('interp', ops);
  for (const tier of TIERS.filter((x) => x !== 'interp')) {
    const got = run(tier, ops);
    ops.forEach((op, o) => tt.same(lines(got[o]), lines(ref[o]), `${tier}: ${op}`));
  }
  return ref;
}

const MUL_OPS = [
  'imul rax, rbx', 'imul eax, ebx', `imul rax, qword ptr [${SCRATCH}]`, `imul eax, dword ptr [${SCRATCH}]`,
  'imul rax, rbx, 0x12345', 'imul rax, rbx, -7', 'imul rax, rbx, -0x80000000', 'imul rax, rbx, 127',
  'imul eax, ebx, -1', 'imul eax, ebx, 0x7fffffff', `imul rax, qword ptr [${SCRATCH}], -3`, 'imul rbx, rbx',
  'mul rbx', 'imul rbx', 'mul ebx', 'imul ebx', `mul qword ptr [${SCRATCH}]`, `imul dword ptr [${SCRATCH}]`, 'mul rax', 'imul eax',
];

t.test('IMUL and MUL: compiled = interpreter, and the products are right', async (tt) => {
  const ref = compareTiers(tt, MUL_OPS);
  // Independent check of the interpreter's values and CF for the main forms.
  const s64 = (v: bigint): bigint => BigInt.asIntN(64, v), s32 = (v: bigint): bigint => BigInt.asIntN(32, v & 0xffffffffn);
  let bad = 0;
  for (let p = 0; p < N * N; p++) {
    const a = VALUES[Math.floor(p / N)], b = VALUES[p % N];
    const p64 = s64(a) * s64(b), p32 = s32(a) * s32(b), u128 = a * b;
    const r0 = ref[0][p], r1 = ref[1][p], r12 = ref[12][p], r13 = ref[13][p];
    if (r0.rax !== BigInt.asUintN(64, p64) || ((r0.rflags & 1n) === 1n) !== (BigInt.asIntN(64, p64) !== p64)) bad++;
    if (r1.rax !== BigInt.asUintN(32, p32) || ((r1.rflags & 1n) === 1n) !== (BigInt.asIntN(32, p32) !== p32)) bad++;
    if (r12.rax !== BigInt.asUintN(64, u128) || r12.rdx !== u128 >> 64n || ((r12.rflags & 0x801n) !== 0n) !== (u128 >> 64n !== 0n)) bad++;
    if (r13.rax !== BigInt.asUintN(64, s64(a) * s64(b)) || r13.rdx !== BigInt.asUintN(64, p64 >> 64n)) bad++;
  }
  tt.equal(bad, 0, 'IMUL r64/r32, MUL r64, IMUL r64 match BigInt');
});

const SHIFTS = ['rol', 'ror', 'shl', 'shr', 'sar'];

t.test('shifts and rotates by immediate, 64-bit', async (tt) => {
  const ops: string[] = [];
  for (const s of SHIFTS) for (const c of [0, 1, 7, 31, 32, 33, 63, 64]) ops.push(c === 1 && s === 'shl' ? 'shl rax, 1' : `${s} rax, ${c}`);
  ops.push('sal rax, 5', 'shl rax, 1', 'shr rax, 1', 'rol rax, 1', 'ror rax, 1');
  compareTiers(tt, ops);
});

t.test('shifts and rotates by immediate, 32-bit', async (tt) => {
  const ops: string[] = [];
  for (const s of SHIFTS) for (const c of [0, 1, 7, 16, 31, 32, 33]) ops.push(`${s} eax, ${c}`);
  ops.push('shr eax, 1', 'sar eax, 1', 'rol eax, 1', 'ror eax, 1');
  compareTiers(tt, ops);
});

t.test('shifts and rotates by CL, and on memory', async (tt) => {
  const ops: string[] = [];
  for (const s of SHIFTS) ops.push(`${s} rax, cl`, `${s} eax, cl`, `${s} rcx, cl`, `${s} qword ptr [${SCRATCH}], cl`, `${s} dword ptr [${SCRATCH}], 9`,
    `${s} qword ptr [${SCRATCH}], 45`, `${s} dword ptr [${SCRATCH}], 1`);
  ops.push(`shl dword ptr [${SCRATCH}], 0`, 'rcl rax, 3', 'rcr eax, cl');
  compareTiers(tt, ops);
});

t.test('rotates after a logic op, a shift or a multiply (the record stays lazy) and a Jcc folded after them', async (tt) => {
  const ops = [
    'and eax, ebx\n  rol eax, 5', 'or rax, rbx\n  ror rax, 33', 'xor eax, eax\n  rol eax, cl', 'test ebx, eax\n  rol ebx, 9',
    'imul rax, rbx\n  rol rax, 1', 'imul eax, ebx, 3\n  ror eax, 31', 'shr rax, 3\n  ror eax, cl', 'sar eax, cl\n  rol eax, 2',
    'mul rbx\n  ror rdx, 7', 'xor rax, rbx\n  rol rax, 3\n  ror rax, 60', 'xor eax, ebx\n  rol eax, 3\n  jnz 1f\n  mov edx, 1\n1:',
    'and rax, rbx\n  rol rax, cl\n  jz 1f\n  mov edx, 2\n1:', 'shl eax, 4\n  rol eax, 1\n  jz 1f\n  mov edx, 3\n1:',
  ];
  compareTiers(tt, ops);
});

t.test('SHLD and SHRD', async (tt) => {
  const ops: string[] = [];
  for (const d of ['shld', 'shrd']) {
    for (const c of [0, 1, 13, 31, 32, 40, 63]) ops.push(`${d} rax, rbx, ${c}`, `${d} eax, ebx, ${c}`);
    ops.push(`${d} rax, rbx, cl`, `${d} eax, ebx, cl`, `${d} dword ptr [${SCRATCH}], eax, 5`, `${d} qword ptr [${SCRATCH}], rax, 33`, `${d} dword ptr [${SCRATCH}], eax, cl`,
      `${d} qword ptr [${SCRATCH}], rax, cl`, `${d} rcx, rax, cl`);
  }
  compareTiers(tt, ops);
});

// Flags the compiled code does not compute (overwritten before anything reads them), and ones it must.
const DEAD_FLAGS = `
  mov r8d, 200
  mov eax, 0x9e3779b9
  mov ebx, 0x7f4a7c15
  mov rsi, 0x12345678deadbeef
again:
  rol eax, 7
  ror ebx, 13
  shr rsi, 3
  imul rdx, rsi, 0x5bd1e995
  mov ecx, eax
  add eax, ebx
  xor ebx, ecx
  shl ecx, 5
  rol rsi, 17
  adc r9d, ecx
  shr r9d, 1
  inc r9d
  bt r9d, 3
  bsf r13d, r9d
  xchg r13, r14
  rol r14, 5
  sub r14d, 7
  ror edx, 3
  dec r13
  bts r13, 40
  add r15, r13
  ror rdx, 9
  sbb r11d, edx
  shr rdx, 1
  cmovc r12d, eax
  add r12d, edx
  rol ecx, 3
  dec r8d
  jne again
done:
  nop
`;

t.test('flags overwritten later in the block (not computed when compiled) and flags read later', async (tt) => {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, DEAD_FLAGS);
    tt.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    return snapshot(m.cpu);
  });
  tt.same(states[1], states[0], 'blocks match the interpreter');
  tt.same(states[2], states[0], 'compiled blocks match the interpreter');
});

/** `op` faults in the middle of a block: after flag-writing register forms whose flags it must not drop. */
function faultProgram(op: string): string {
  return `
  mov rsi, 0x100000
  xor r10d, r10d
  xor r11d, r11d
  mov eax, 0x80000001
  mov ebx, 3
again:
  add r10d, 1
  imul eax, ebx, 7
  rol ebx, 1
  shl rax, 3
fault:
  ${op}
  add r11d, 1
  add rsi, 0x1000
  jmp again
done:
  nop
`;
}

for (const [op, readOnly] of [
  ['imul rcx, qword ptr [rsi]', false], ['imul ecx, dword ptr [rsi + 8], 5', false], ['mul qword ptr [rsi]', false],
  ['shl dword ptr [rsi], 3', true], ['ror qword ptr [rsi + 16], cl', true], ['shrd dword ptr [rsi], ebx, 4', true],
] as const) {
  t.test(`a fault in the middle of a block on \`${op}\` leaves precise state`, async (tt) => {
    const src = faultProgram(op);
    const faultAt = labelAddress(src, 'fault');
    const states = TIERS.map((tier) => {
      const m = machine(tier);
      // Page 0x105000: not present, or present and read-only (a write fault; CR0.WP is set).
      m.mem.writeU32(PT + 0x105 * 8, readOnly ? 0x105000 | PTE_P : 0);
      m.mem.writeU32(0x105000, 0x11223344);
      runProgram(m, src);
      tt.equal(m.fault()?.vector, 14, `${tier}: #PF`);
      tt.equal(m.fault()?.address, 0x105000 + (op.includes('+ 8') ? 8 : op.includes('+ 16') ? 16 : 0), `${tier}: CR2`);
      tt.equal(m.cpu.rip, faultAt, `${tier}: RIP at the faulting instruction`);
      tt.equal(m.cpu.lo[10], 6, `${tier}: the instructions before it retired`);
      tt.equal(m.cpu.lo[11], 5, `${tier}: the instruction after it did not`);
      tt.equal(m.mem.readU32(0x105000), 0x11223344, `${tier}: memory unchanged`);
      return snapshot(m.cpu);
    });
    tt.same(states[1], states[0], 'blocks match the interpreter');
    tt.same(states[2], states[0], 'compiled blocks match the interpreter');
  });
}

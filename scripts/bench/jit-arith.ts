/**
 * Micro-benchmark of the translator's multiply and shift/rotate forms: a
 * self-looping guest block per workload, run in compiled mode (blocks
 * compiled on first use), guest instructions per second of process CPU
 * time (the machine may be shared; wall-clock rates are noisier), median of RUNS:
 *   mix:    IMUL r,r / r,r,imm (64- and 32-bit), MUL r64, SHR/SHL/SAR by
 *           immediate and by CL, ROL/ROR 32/64;
 *   chacha: a ChaCha quarter-round (32-bit add, xor, rol 16/12/8/7);
 *   mpi:    mpihelp_submul_1's inner step (64-bit imul x4 of 32-bit halves,
 *           shr 32, add, cmp, cmovae);
 *   submul: the same step with its memory traffic, as the kernel runs it
 *           (the hottest loop of a Linux boot): a limb loaded from one
 *           array, multiplied, subtracted with borrow from the other and
 *           stored back; two 8-byte loads and a store through the TLB;
 *   kernel: mpihelp_submul_1's loop as the Debian kernel has it (41
 *           instructions, 24 limbs a call, kernel direct-map addresses, random
 *           limbs): about 500-900 MIPS here, 2.4 ns an instruction in a boot;
 *   calls:  a call to a two-instruction function, a test and branch, a jump:
 *           five blocks of one to two instructions per iteration, so mostly
 *           the cost of going from one compiled block to the next;
 *   spread: a thousand distinct three-instruction blocks in a row, each its
 *           own compiled function, as a kernel's code is spread over many:
 *           the cost of compiling them (V8's optimising compile included,
 *           which runs on other threads but counts in process CPU time) and
 *           of dispatching among many functions. Measured 2026-11-25: about
 *           270 ns a block over 10000 iterations, against 17 for the calls
 *           workload; run alone for longer, 45 ns a block once all are
 *           optimised (V8's code for a thousand functions outgrows the
 *           host's caches; 20 ns with a hundred).
 *
 * Usage (after `npx tsc -p .`): [TIER=compiled|blocks|interp] node dist/scripts/bench/jit-arith.js [iterations] [runs] [loops]
 * (TIER=blocks runs tier 1 only, never compiling; the default compiles every block at first use).
 */
import { machine, runProgram } from '../../test/tcg-jit-support';

const ITERS = Number(process.argv[2] ?? '1000000');
const RUNS = Number(process.argv[3] ?? '5');
const TIER = (process.env.TIER ?? 'compiled') as 'compiled' | 'blocks' | 'interp' | 'wasm';
const LOOPS = (process.argv[4] ?? 'mix,chacha,mpi,submul,calls,spread').split(',');

/** Blocks in the `spread` workload. */
const SPREAD_BLOCKS = 1000;

/** Loop bodies; each ends with `dec r8d; jne again` (counted in the instruction total). */
const BODIES: Record<string, string> = {
  mix: `
  imul rax, rbx
  imul rdx, rax, 0x12345
  imul esi, edi
  shr rdx, 32
  add rax, rdx
  rol edi, 7
  ror esi, 13
  xor edi, esi
  shl rbx, cl
  sar rbx, 3
  ror rbx, 17
  mul rbx`,
  chacha: `
  add eax, ebx
  xor edx, eax
  rol edx, 16
  add ecx, edx
  xor ebx, ecx
  rol ebx, 12
  add eax, ebx
  xor edx, eax
  rol edx, 8
  add ecx, edx
  xor ebx, ecx
  rol ebx, 7`,
  mpi: `
  mov r10, rax
  mov r11, rax
  shr r11, 32
  mov r12, rbx
  shr r12, 32
  mov r13, r10
  imul r13, r12
  mov r14, r11
  imul r14, rbx
  imul r10, rbx
  imul r11, r12
  add r13, r14
  cmp r13, r14
  cmovae r9, rdx
  shr r10, 32
  add rax, r13`,
  submul: `
  mov esi, r8d
  and esi, 63
  mov rcx, qword ptr [rsi * 8 + 0x20000]
  mov rdx, rcx
  mov ecx, ecx
  shr rdx, 32
  mov r10, rcx
  imul r10, rbx
  mov r13, rdx
  imul r13, rbx
  imul rcx, rdi
  imul rdx, rdi
  mov r14, r10
  mov r10d, r10d
  shr r14, 32
  add rcx, r13
  add rcx, r14
  cmp rcx, r13
  cmovae rdx, r14
  shl rcx, 32
  add r10, rcx
  mov r13, qword ptr [rsi * 8 + 0x30000]
  sub r13, r10
  adc r9, rdx
  mov qword ptr [rsi * 8 + 0x30000], r13`,
  kernel: `
  push r8
  mov edx, 24
  neg edx
  movsxd rax, edx
  mov r8, rax
  mov r12, rax
  movabs rbx, 0xffff8880000200c0
  movabs r11, 0xffff8880000300c0
  mov r9d, 0x9abcdef1
  mov r10, 0x12345678
  movabs rbp, 0x100000000
  xor esi, esi
  jmp kernel_first
kernel_loop:
  movsxd rax, r8d
kernel_first:
  sub rax, r12
  mov rcx, qword ptr [rbx + rax * 8]
  lea rdi, [rax * 8]
  mov rdx, rcx
  mov ecx, ecx
  shr rdx, 32
  mov rax, rcx
  imul rax, r9
  mov r13, rdx
  imul r13, r9
  imul rcx, r10
  imul rdx, r10
  mov r14, rax
  mov eax, eax
  shr r14, 32
  add rcx, r13
  add rcx, r14
  mov r14, rdx
  add rdx, rbp
  cmp rcx, r13
  mov r13, rcx
  cmovae rdx, r14
  add rax, rsi
  shl r13, 32
  add rax, r13
  cmp rax, rsi
  setb sil
  add rdi, r11
  shr rcx, 32
  mov r13, qword ptr [rdi]
  movzx esi, sil
  sub r13, rax
  adc rsi, rcx
  mov qword ptr [rdi], r13
  add rsi, rdx
  add r8d, 1
  jne kernel_loop
  pop r8`,
  calls: `
  call calls_add
  test eax, eax
  jz calls_after
  jmp calls_after
calls_add:
  add eax, 3
  ret
calls_after:`,
  // 1000 blocks of ADD, TEST and a taken JNZ to the next instruction, each its own compiled function.
  spread: Array.from({ length: SPREAD_BLOCKS }, (_, k) => `\n  add ecx, ${k + 1}\n  test ecx, ecx\n  jnz 1f\n1:`).join(''),
};

/** Workloads with an inner loop: guest instructions per outer iteration (the kernel loop: 13 to set up, 40 + 23 x 41 in the loop, POP, DEC, JNE). */
const INSNS_PER_ITERATION: Record<string, number> = { kernel: 999 };

/** Iterations of a workload: `spread` runs a thousand blocks an iteration, so a thousandth as many. */
function iterationsOf(loop: string): number {
  return loop === 'spread' ? Math.max(1, Math.round(ITERS / SPREAD_BLOCKS)) : ITERS;
}

for (const loop of LOOPS) {
  const body = BODIES[loop];
  if (body === undefined) throw new Error(`unknown loop ${loop}`);
  const insnsPerIter = INSNS_PER_ITERATION[loop] ?? body.trim().split('\n').filter((line) => !line.trim().endsWith(':')).length + 2;
  const iterations = iterationsOf(loop);
  const src = `
  mov r8d, ${iterations}
  mov rax, 0x123456789
  mov rbx, 0x987654321
  mov esi, 7
  mov edi, 0x9e3779b9
  mov ecx, 5
  mov edx, 0x11
again:${body}
  dec r8d
  jne again
done:
  nop
`;
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const m = machine(TIER);
    // Limbs for the memory workloads: random 64-bit values, as multi-precision numbers hold (zeros keep every product small).
    for (let a = 0x20000; a < 0x40000; a += 4) m.mem.writeU32(a, (Math.random() * 2 ** 32) >>> 0);
    // The kernel's direct map (0xffff888000000000, PML4 slot 273) onto the same low memory, for the kernel workload's addresses.
    m.mem.writeU32(0x1000 + 273 * 8, m.mem.readU32(0x1000));
    const c0 = process.cpuUsage();
    runProgram(m, src, iterations * insnsPerIter + 100);
    const c1 = process.cpuUsage(c0);
    const ns = (c1.user + c1.system) * 1000;
    if (m.cpu.lo[8] !== 0) throw new Error(`${loop}: loop did not finish: r8d=${m.cpu.lo[8]}`);
    rates.push((iterations * insnsPerIter) / (ns / 1e9) / 1e6);
  }
  rates.sort((a, b) => a - b);
  console.log(`jit-arith ${loop.padEnd(6)}: ${iterations} iterations x ${insnsPerIter} insns, median ${rates[Math.floor(rates.length / 2)].toFixed(1)} MIPS ` +
    `(runs: ${rates.map((x) => x.toFixed(1)).join(' ')})`);
}

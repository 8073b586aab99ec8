/**
 * Micro-benchmark of the translator's multiply and shift/rotate forms: a
 * self-looping guest block of IMUL (r,r / r,r,imm / 64- and 32-bit), MUL,
 * SHR/SHL/SAR by immediate and by CL, ROL/ROR (the mix of mpihelp_submul_1,
 * chacha and sha256), run in compiled mode. Prints guest instructions per
 * second (median of RUNS runs).
 *
 * Usage (after `npx tsc -p .`): node dist/scripts/bench/jit-arith.js [iterations] [runs]
 */
import { machine, runProgram } from '../../test/tcg-jit-support';

const ITERS = Number(process.argv[2] ?? '2000000');
const RUNS = Number(process.argv[3] ?? '5');

const LOOP = `
  mov r8d, ${ITERS}
  mov rax, 0x123456789
  mov rbx, 0x987654321
  mov esi, 7
  mov edi, 0x9e3779b9
  mov ecx, 5
again:
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
  mul rbx
  dec r8d
  jne again
done:
  nop
`;
const INSNS_PER_ITER = 14;

const rates: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const m = machine('compiled');
  const t0 = process.hrtime.bigint();
  runProgram(m, LOOP, ITERS * INSNS_PER_ITER + 100);
  const ns = Number(process.hrtime.bigint() - t0);
  if (m.cpu.lo[8] !== 0) throw new Error(`loop did not finish: r8d=${m.cpu.lo[8]}`);
  rates.push((ITERS * INSNS_PER_ITER) / (ns / 1e9) / 1e6);
}
rates.sort((a, b) => a - b);
console.log(`jit-arith: ${ITERS} iterations x ${INSNS_PER_ITER} insns, median ${rates[Math.floor(rates.length / 2)].toFixed(1)} MIPS (runs: ${rates.map((x) => x.toFixed(1)).join(' ')})`);

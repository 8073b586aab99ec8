/**
 * The WebAssembly tier (src/tcg-fallback/wasm/): each scenario runs on the
 * interpreter and on the tier (every 64-bit block translated before its
 * first run, one module per block, so every transition between blocks goes
 * through the shared table of modules) and must end in the same registers,
 * RFLAGS and memory, having run most of its instructions as WebAssembly.
 * Scenarios: the families it translates, flags carried from one block to the
 * next through the lazy-flags record, exits in the middle of a block (TLB
 * miss, page fault, a store into code), instruction budgets that end a run
 * between blocks, a stop address, and rebuilding every block into one module.
 */
import t from 'tap';
import { Machine, machine, runProgram, snapshot } from './tcg-jit-support';

const DATA = 0x90000;

function state(m: Machine): Record<string, string | number> {
  const s = snapshot(m.cpu);
  s.data = Buffer.from(m.mem.read(DATA, 256)).toString('hex');
  s.stack = Buffer.from(m.mem.read(0x80000 - 256, 256)).toString('hex');
  s.fault = m.fault()?.vector ?? -1;
  return s;
}

/** Runs `source` on the interpreter and the WebAssembly tier; they must agree, and the tier must have run `minWasm` of it. */
function agree(t: tap.Test, name: string, source: string, minWasm = 1, max = 100000): Machine {
  const reference = machine('interp');
  runProgram(reference, source, max);
  const m = machine('wasm');
  runProgram(m, source, max);
  t.same(state(m), state(reference), `${name}: same state as the interpreter`);
  const ran = m.cpu.jit?.wasmInstructions ?? 0;
  t.ok(ran >= minWasm, `${name}: ${ran} instructions ran as WebAssembly (at least ${minWasm})`);
  return m;
}

t.test('integer families: results and flags as the interpreter leaves them', async (t) => {
  agree(t, 'rotates', `
  mov rax, 0x8000000000000001
  rol rax, 1
  setc bl
  ror rax, 5
  seto cl
  mov edx, 0x80000001
  rol edx, 4
  adc esi, 0
  mov di, 0x8001
  ror di, 17
  setc r8b
  rol al, 8
  setc r9b
done:
  nop
`, 10);
  agree(t, 'bit tests and BSWAP', `
  mov rax, 0x8000000000000010
  mov rcx, 63
  bt rax, rcx
  setc bl
  bts rax, 3
  btr rax, 4
  btc rax, 63
  setc dl
  mov rsi, 0x0102030405060708
  bswap rsi
  mov edi, 0x11223344
  bswap edi
done:
  nop
`, 10);
  agree(t, 'MUL and IMUL with one operand, 32 and 64 bits', `
  mov rax, 0xfedcba9876543210
  mov rbx, 0x123456789abcdef1
  mul rbx
  mov r8, rax
  mov r9, rdx
  seto r10b
  mov rax, -5
  mov rbx, 7
  imul rbx
  mov r11, rdx
  mov eax, 0xffffffff
  mov ecx, 0xfffffffe
  mul ecx
  mov r12, rdx
  mov eax, -3
  mov ecx, 1000
  imul ecx
  setc r13b
done:
  nop
`, 16);
  agree(t, 'DIV and IDIV, and the dividends and quotients left to the interpreter', `
  mov rax, 1000001
  xor edx, edx
  mov rcx, 7
  div rcx
  mov r8, rax
  mov r9, rdx
  mov rax, -1000001
  cqo
  idiv rcx
  mov r10, rax
  mov r11, rdx
  mov eax, 0xfffffff0
  mov edx, 3
  mov ecx, 0x10000
  div ecx
  mov r12, rax
  mov eax, -77
  cdq
  mov ecx, 10
  idiv ecx
  mov r13, rdx
  mov rax, 5
  mov edx, 1
  div rcx
  mov r14, rax
done:
  nop
`, 20);
  agree(t, 'ADC and SBB chains, INC keeping CF, NEG and NOT', `
  mov rax, -1
  mov rbx, 1
  add rax, rbx
  adc rcx, 0
  sbb rdx, rbx
  sbb rsi, rsi
  inc rdi
  adc r8, 0
  neg rbx
  setc r9b
  not r10
  mov r11b, 0xff
  add r11b, 1
  adc r12w, 0x7fff
  seto r13b
done:
  nop
`, 14);
  agree(t, 'CMPXCHG, XADD and XCHG with registers and memory', `
  mov qword ptr [${DATA}], 5
  mov rax, 5
  mov rcx, 9
  lock cmpxchg [${DATA}], rcx
  sete bl
  mov rax, 1
  cmpxchg [${DATA}], rcx
  mov r8, 0x1111111122222222
  mov eax, 7
  cmpxchg r8d, ecx
  mov r9, 3
  lock xadd [${DATA + 8}], r9
  mov r10, 4
  xadd r10, r10
  xchg [${DATA + 16}], r10
  xchg r11d, ecx
done:
  nop
`, 14);
  agree(t, 'shifts by CL, zero counts included', `
  mov rax, 0xffffffff12345678
  mov cl, 0
  shl eax, cl
  mov rbx, -1
  shr ebx, 0
  mov cl, 65
  shl rax, cl
  setc dl
  mov cl, 31
  sar rbx, cl
  mov cl, 9
  shr si, cl
  mov cl, 3
  sar byte ptr [${DATA}], cl
done:
  nop
`, 10);
});

t.test('flags cross block boundaries through the record', async (t) => {
  // Each Jcc ends a block: the next block's ADC, Jcc, SETcc and INC read flags their block did not set.
  agree(t, 'carry, sign and overflow across blocks', `
  mov rax, 0x7fffffffffffffff
  add rax, 1
  jno .La
.La:
  seto bl
  adc rcx, 0
  jmp .Lb
.Lb:
  mov rdx, 3
  cmp rdx, 5
  jbe .Lc
.Lc:
  sbb rsi, 0
  inc rdi
  jc .Ld
  setnc r8b
.Ld:
  rol r9, 1
  jl .Le
.Le:
  setle r10b
  imul r11, r11, 3
  jc .Lf
.Lf:
  setnz r12b
done:
  nop
`, 10);
});

t.test('a loop, calls and returns stay in WebAssembly', async (t) => {
  const m = agree(t, 'call loop', `
  mov ecx, 2000
  xor eax, eax
.Lloop:
  call .Lf
  dec ecx
  jnz .Lloop
  jmp .Lend
.Lf:
  add rax, rcx
  ret
.Lend:
done:
  nop
`, 9000);
  // Each block is its own module here: the chain runs through the shared table, so JavaScript enters it only a few times.
  t.ok((m.cpu.jit?.wasmRuns ?? Infinity) < 50, `entered from JavaScript ${m.cpu.jit?.wasmRuns} times for 8000 instructions`);
});

t.test('exits in the middle of a block leave precise state', async (t) => {
  // A page fault on the third instruction of a block: the first two retired, RIP at the faulting one.
  const m = agree(t, 'page fault', `
  mov rax, 1
  mov rbx, 2
  mov rcx, [0x40000000]
  mov rdx, 4
done:
  nop
`, 2);
  t.equal(m.fault()?.vector, 14, 'the #PF reached the policy');
  t.equal(m.cpu.lo[1], 0, 'RCX not loaded');
  t.equal(m.cpu.lo[3], 2, 'RBX written before the fault');
  // Divisions WebAssembly would trap on (a zero divisor, INT64_MIN / -1) leave the block: the interpreter raises #DE.
  for (const [name, divide] of [['zero divisor', 'xor ecx, ecx\n  div rcx'], ['INT64_MIN / -1', 'mov rax, 0x8000000000000000\n  cqo\n  mov rcx, -1\n  idiv rcx'],
    ['32-bit quotient overflow', 'mov edx, 5\n  mov ecx, 2\n  div ecx']]) {
    const d = agree(t, `#DE: ${name}`, `
  mov rbx, 7
  ${divide}
  mov rsi, 9
done:
  nop
`, 1);
    t.equal(d.fault()?.vector, 0, `${name}: #DE reached the policy`);
    t.equal(d.cpu.lo[6], 0, `${name}: nothing after the division ran`);
  }
  // A store into the page holding the running code: the rest of the block runs the new bytes.
  agree(t, 'store into code', `
  mov ecx, 3
.Lagain:
  mov byte ptr [rip + .Lpatch + 1], 7
.Lpatch:
  mov eax, 1
  add ebx, eax
  dec ecx
  jnz .Lagain
done:
  nop
`, 1);
});

t.test('budgets and a stop address end runs exactly', async (t) => {
  const source = `
  mov ecx, 100
.Lloop:
  add rax, rcx
  add rbx, 3
  dec ecx
  jnz .Lloop
done:
  nop
`;
  for (const max of [1, 5, 38, 201]) agree(t, `budget ${max}`, source, 0, max);
});

t.test('rebuilding every block into one module keeps them running', async (t) => {
  // 400 distinct blocks, run three times: more than the 256 that trigger a full rebuild (a new epoch).
  const blocks = Array.from({ length: 400 }, (_, k) => `.Lb${k}:\n  add rax, ${k + 1}\n  cmp rax, 0\n  jne .Lb${k + 1}\n`).join('');
  const m = agree(t, 'many blocks', `
  mov edx, 3
.Ltop:
${blocks}.Lb400:
  dec edx
  jnz .Ltop
done:
  nop
`, 3000, 1000000);
  t.ok((m.cpu.jit?.wasmTier?.merges ?? 0) >= 1, `${m.cpu.jit?.wasmTier?.merges} full rebuilds`);
});

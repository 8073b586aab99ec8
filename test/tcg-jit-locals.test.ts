/**
 * Compiled blocks keep guest registers and the lazy-flags record in
 * JavaScript locals (register-locals.ts): written back before every call
 * out of the block and loaded again after calls that change them. Each
 * scenario mixes inline code with such calls and must leave the state the
 * interpreter leaves.
 */
import t from 'tap';
import { CpuException } from '../src/tcg-fallback/cpu-exception';
import { runProgram, sameOnEveryTier } from './tcg-jit-support';

const HANDLER_IN_THE_MIDDLE = `
  mov ecx, 50
  xor esi, esi
again:
  mov eax, 1
  add esi, ecx
  cpuid
  add esi, eax
  xor esi, ebx
  bswap edx
  add esi, edx
  xchg esi, edi
  add edi, esi
  cmc
  adc esi, 7
  dec ecx
  jnz again
done:
`;

t.test('a handler between inline instructions sees their registers and flags, and they see its results', async (t) => {
  sameOnEveryTier(t, (m, tier) => {
    runProgram(m, HANDLER_IN_THE_MIDDLE);
    t.notOk(m.fault(), `${tier}: no fault`);
  });
});

const FAULT_AFTER_INLINE_WORK = `
  mov ecx, 3
  mov rbx, 0x7fff0000
again:
  add eax, ecx
  lea edx, [rax + rcx * 2]
  shl edx, 3
  dec ecx
  jz bad
  jmp again
bad:
  sub eax, 5
  mov dword ptr [rbx], edx
done:
`;

t.test('a page fault after inline register work leaves those registers and flags in the CPU', async (t) => {
  sameOnEveryTier(t, (m, tier) => {
    m.cpu.lo[0] = 100;
    runProgram(m, FAULT_AFTER_INLINE_WORK, 200);
    const e = m.fault();
    t.ok(e instanceof CpuException && e.vector === 14, `${tier}: #PF at the store`);
    t.equal(m.cpu.lo[0], 100 + 3 + 2 + 1 - 5, `${tier}: EAX holds the SUB before the faulting store`);
  });
});

const HANDLER_OVERWRITES_AN_INLINE_RESULT = `
  mov eax, 0
  xor ecx, ecx
  cpuid
  jmp next
next:
  nop
done:
`;

t.test('a handler that overwrites a register the block assigned earlier (and never reads again) keeps its value', async (t) => {
  sameOnEveryTier(t, (m, tier) => {
    runProgram(m, HANDLER_OVERWRITES_AN_INLINE_RESULT);
    t.not(m.cpu.lo[0], 0, `${tier}: EAX holds CPUID's highest leaf, not the 0 moved in before it`);
  });
});

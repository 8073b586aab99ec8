/**
 * RDRAND/RDSEED: the register gets host randomness, CF=1 says it is valid
 * and the other arithmetic flags are cleared (SDM); the memory form is #UD.
 */
import t from 'tap';
import { run, ARITH, CF, ZF } from './tcg-cpu-support';
import { cpuid } from '../src/tcg-fallback/cpuid';

t.test('CPUID advertises RDRAND (leaf 1 ECX.30) and RDSEED (leaf 7 EBX.18)', async (t) => {
  t.ok((cpuid(1, 0, 0, 1).ecx & (1 << 30)) !== 0);
  t.ok((cpuid(7, 0, 0, 1).ebx & (1 << 18)) !== 0);
});

t.test('RDRAND r64 and RDSEED r32 fill the register and set only CF', async (t) => {
  const values = new Set<bigint>();
  for (let k = 0; k < 8; k++) {
    const r = run('xor eax, eax\nrdrand rax\nmov rbx, rax\nmov rcx, -1\nrdseed ecx');
    t.equal(r.flags & ARITH, CF, 'CF=1, ZF/SF/OF/AF/PF clear even though the xor set ZF');
    t.equal(r.reg('rcx') >> 32n, 0n, 'a 32-bit destination is zero-extended');
    values.add(r.reg('rbx'));
  }
  t.ok(values.size >= 7, `eight RDRANDs give different 64-bit values (${values.size} distinct)`);
  t.ok([...values].some((v) => v >> 32n !== 0n), 'the high half is random too');
});

t.test('RDRAND r16 writes only the low 16 bits', async (t) => {
  const r = run('mov rax, 0x1111222233334444\nrdrand ax');
  t.equal(r.reg('rax') >> 16n, 0x111122223333n);
  t.equal(r.flags & (CF | ZF), CF);
});

t.test('RDRAND with a memory operand, or other 0F C7 forms, raise #UD (a hostile guest gets an exception, not a crash)', async (t) => {
  // 0F C7 /6 with mod=00 (rdrand [rax]) and 0F C7 /5 (unassigned): assembled as bytes.
  for (const bytes of ['.byte 0x0f, 0xc7, 0x30', '.byte 0x0f, 0xc7, 0xe8']) {
    const r = run(`mov rax, 0x600000\n${bytes}`);
    t.equal(r.exception?.vector, 6, `${bytes}: #UD`);
  }
});

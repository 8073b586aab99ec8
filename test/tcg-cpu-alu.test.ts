/**
 * Integer instruction semantics on the software CPU, with results and flags
 * worked out from the Intel SDM's definitions.
 */
import t from 'tap';
import { run, ARITH, CF, PF, AF, ZF, SF, OF } from './tcg-cpu-support';

const M64 = 0xffffffffffffffffn;

t.test('SUB/ADC/SBB flags', async (t) => {
  let r = run('mov eax, 1\nsub eax, 2');
  t.equal(r.reg('rax'), 0xffffffffn);
  t.equal(r.flags & ARITH, CF | SF | AF | PF);
  r = run('stc\nmov al, 0xff\nadc al, 0');
  t.equal(r.reg('rax') & 0xffn, 0n);
  t.equal(r.flags & ARITH, CF | ZF | AF | PF);
  r = run('stc\nxor eax, eax\nstc\nsbb eax, 0');
  t.equal(r.reg('rax'), 0xffffffffn);
  t.equal(r.flags & ARITH, CF | SF | AF | PF);
  r = run('mov rax, 0x8000000000000000\nsub rax, 1');
  t.equal(r.reg('rax'), 0x7fffffffffffffffn);
  t.equal(r.flags & ARITH, OF | AF | PF);
});

t.test('INC/DEC keep CF; NEG sets CF for non-zero', async (t) => {
  let r = run('stc\nmov eax, 0x7fffffff\ninc eax');
  t.equal(r.flags & ARITH, CF | OF | SF | AF | PF);
  r = run('clc\nmov ecx, 5\nneg ecx');
  t.equal(r.reg('rcx'), 0xfffffffbn);
  t.equal(r.flags & CF, CF);
});

t.test('shifts and rotates: results, CF and OF (count 1)', async (t) => {
  let r = run('mov al, 0x81\nshl al, 1');
  t.equal(r.reg('rax') & 0xffn, 0x02n);
  t.equal(r.flags & (CF | OF), CF | OF);
  r = run('mov al, 0x81\nshr al, 1');
  t.equal(r.reg('rax') & 0xffn, 0x40n);
  t.equal(r.flags & (CF | OF), CF | OF);
  r = run('mov al, 0x81\nsar al, 1');
  t.equal(r.reg('rax') & 0xffn, 0xc0n);
  t.equal(r.flags & (CF | OF | SF), CF | SF);
  r = run('mov al, 0x81\nrol al, 1');
  t.equal(r.reg('rax') & 0xffn, 0x03n);
  t.equal(r.flags & (CF | OF), CF | OF);
  r = run('stc\nmov al, 1\nrcr al, 1');
  t.equal(r.reg('rax') & 0xffn, 0x80n);
  t.equal(r.flags & (CF | OF), CF | OF);
  r = run('clc\nmov rax, 0x8000000000000000\nrcl rax, 1');
  t.equal(r.reg('rax'), 0n);
  t.equal(r.flags & CF, CF);
  r = run('mov rax, 0x8000000000000001\nsar rax, 63');
  t.equal(r.reg('rax'), M64);
  r = run('mov rax, 1\nmov cl, 40\nshl rax, cl');
  t.equal(r.reg('rax'), 1n << 40n);
  r = run('mov eax, 0x12345678\nmov edx, 0x9abcdef0\nshld eax, edx, 8');
  t.equal(r.reg('rax'), 0x3456789an);
  r = run('mov eax, 0x12345678\nmov edx, 0x9abcdef0\nshrd eax, edx, 8');
  t.equal(r.reg('rax'), 0xf0123456n);
  r = run('mov eax, 5\nxor ecx, ecx\nshl eax, cl');
  t.equal(r.reg('rax'), 5n, 'a zero count changes nothing');
});

t.test('MUL/IMUL/DIV/IDIV', async (t) => {
  let r = run('mov eax, 0x10000\nimul eax, eax');
  t.equal(r.reg('rax'), 0n);
  t.equal(r.flags & (CF | OF), CF | OF);
  r = run('mov rax, -2\nmov rcx, 3\nimul rcx');
  t.equal(r.reg('rax'), M64 - 5n);
  t.equal(r.reg('rdx'), M64);
  t.equal(r.flags & (CF | OF), 0n);
  r = run('mov rax, -1\nmov rcx, 2\nmul rcx');
  t.equal(r.reg('rax'), M64 - 1n);
  t.equal(r.reg('rdx'), 1n);
  t.equal(r.flags & (CF | OF), CF | OF);
  r = run('mov eax, 0xffffffff\nmov ecx, 0xffffffff\nmul ecx');
  t.equal(r.reg('rax'), 1n);
  t.equal(r.reg('rdx'), 0xfffffffen);
  r = run('mov rax, -7\ncqo\nmov rcx, 2\nidiv rcx');
  t.equal(r.reg('rax'), M64 - 2n);
  t.equal(r.reg('rdx'), M64);
  r = run('mov edx, 1\nxor eax, eax\nmov ecx, 1\ndiv ecx');
  t.equal(r.exception?.vector, 0, 'quotient overflow is #DE');
  r = run('mov eax, 0x80000000\ncdq\nmov ecx, -1\nidiv ecx');
  t.equal(r.exception?.vector, 0, 'INT_MIN / -1 is #DE');
});

t.test('bit operations', async (t) => {
  let r = run('mov eax, 0x100\nbsf ecx, eax\nbsr edx, eax');
  t.equal(r.reg('rcx'), 8n);
  t.equal(r.reg('rdx'), 8n);
  r = run('mov rax, 0x8000000000000000\nbsr rcx, rax\nlzcnt rdx, rax\ntzcnt rsi, rax\npopcnt rdi, rax');
  t.equal(r.reg('rcx'), 63n);
  t.equal(r.reg('rdx'), 0n);
  t.equal(r.reg('rsi'), 63n);
  t.equal(r.reg('rdi'), 1n);
  // Without BMI1 in CPUID, F3 0F BC is BSF: a zero source leaves the destination alone (TZCNT would write 64).
  r = run('mov rsi, 5\nxor eax, eax\ntzcnt rsi, rax');
  t.equal(r.reg('rsi'), 5n, 'TZCNT runs as BSF');
  r = run('mov eax, 0x10\nbts eax, 0\nbtr eax, 4\nbtc eax, 31');
  t.equal(r.reg('rax'), 0x80000001n);
  r = run('mov rsi, 0x600000\nmov ecx, 35\nbts dword ptr [rsi], ecx');
  t.equal(r.data[4], 0x08, 'register bit offsets address beyond the operand');
  r = run('mov rax, 0x0102030405060708\nbswap rax');
  t.equal(r.reg('rax'), 0x0807060504030201n);
});

t.test('CMPXCHG, XADD, CMPXCHG16B', async (t) => {
  let r = run('mov rsi, 0x600000\nmov dword ptr [rsi], 5\nmov eax, 5\nmov ecx, 9\nlock cmpxchg [rsi], ecx');
  t.equal(r.data[0], 9);
  t.equal(r.flags & ZF, ZF);
  r = run('mov rsi, 0x600000\nmov dword ptr [rsi], 5\nmov ecx, 3\nlock xadd [rsi], ecx');
  t.equal(r.data[0], 8);
  t.equal(r.reg('rcx'), 5n);
  r = run('mov rsi, 0x600000\nxor eax, eax\nxor edx, edx\nmov ebx, 1\nmov ecx, 2\nlock cmpxchg16b [rsi]');
  t.equal(r.data[0], 1);
  t.equal(r.data[8], 2);
  r = run('.byte 0xf0, 0x01, 0xc8');
  t.equal(r.exception?.vector, 6, 'LOCK on a register destination is #UD');
});

t.test('string instructions: REP with DF, REPNE SCAS, and a precise fault inside REP MOVSB', async (t) => {
  const data = new Uint8Array(64);
  for (let k = 0; k < 16; k++) data[k] = k + 1;
  let r = run('cld\nmov rsi, 0x600000\nmov rdi, 0x600020\nmov ecx, 16\nrep movsb', { data });
  t.same([...r.data.subarray(0x20, 0x30)], [...data.subarray(0, 16)]);
  t.equal(r.reg('rcx'), 0n);
  r = run('std\nmov rdi, 0x60000c\nmov eax, 0xaabbccdd\nmov ecx, 4\nrep stosd\ncld');
  t.equal(r.reg('rdi'), 0x5ffffcn);
  t.equal(r.data[0], 0xdd);
  t.equal(r.data[15], 0xaa);
  r = run('cld\nmov rdi, 0x600000\nmov al, 5\nmov ecx, 16\nrepne scasb', { data });
  t.equal(r.reg('rcx'), 11n);
  t.equal(r.reg('rdi'), 0x600005n);
  // The destination runs off the end of the 2-page data area at 0x602000 after 8 bytes.
  r = run('cld\nmov rsi, 0x600000\nmov rdi, 0x601ff8\nmov ecx, 32\nrep movsb', { data });
  t.equal(r.exception?.vector, 14);
  t.equal(r.exception?.address, 0x602000n);
  t.equal(r.reg('rcx'), 24n, 'completed iterations are committed');
  t.equal(r.reg('rdi'), 0x602000n);
  t.equal(r.reg('rsi'), 0x600008n);
  t.equal(r.state.rip, 0x400000n + 20n, 'RIP stays on the REP MOVSB');
});

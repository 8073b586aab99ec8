import t from 'tap';
import { run, ARITH, CF, ZF, SF, OF, PF, AF } from './tcg-cpu-support';

t.test('mov, add and 64-bit immediates', async (t) => {
  const r = run('mov rax, 0x123456789abcdef0\nmov rbx, 1\nadd rax, rbx\nmov ecx, -1\nlea rdx, [rax+rcx*2+8]');
  t.equal(r.exception, undefined);
  t.equal(r.reg('rax'), 0x123456789abcdef1n);
  t.equal(r.reg('rcx'), 0xffffffffn);
  t.equal(r.reg('rdx'), (0x123456789abcdef1n + 0x1fffffffen + 8n) & 0xffffffffffffffffn);
});

t.test('add flags: carry, overflow, zero, parity, adjust', async (t) => {
  let r = run('mov al, 0xff\nadd al, 1');
  t.equal(r.flags & ARITH, CF | ZF | PF | AF);
  r = run('mov eax, 0x7fffffff\nadd eax, 1');
  t.equal(r.flags & ARITH, OF | SF | PF | AF);
  r = run('mov rax, -1\nadd rax, 1');
  t.equal(r.flags & ARITH, CF | ZF | PF | AF);
  t.equal(r.reg('rax'), 0n);
});

t.test('push/pop/call/ret through the stack', async (t) => {
  const r = run('mov rax, 5\npush rax\ncall f\npop rbx\njmp done\nf: add qword ptr [rsp+8], 3\nret\ndone: nop');
  t.equal(r.exception, undefined);
  t.equal(r.reg('rbx'), 8n);
});

t.test('div by zero raises #DE with RIP at the instruction', async (t) => {
  const r = run('xor ecx, ecx\nmov eax, 1\ndiv ecx');
  t.equal(r.exception?.vector, 0);
  t.equal(r.state.rip, 0x400000n + 7n);
});

t.test('write to a read-only page is #PF with error code 7 and CR2', async (t) => {
  const r = run('mov rax, 0x400000\nmov byte ptr [rax], 1');
  t.equal(r.exception?.vector, 14);
  t.equal(r.exception?.errorCode, 7);
  t.equal(r.exception?.address, 0x400000n);
});

t.test('executing the data page (NX) is #PF with the fetch bit', async (t) => {
  const r = run('mov rax, 0x600000\njmp rax');
  t.equal(r.exception?.vector, 14);
  t.equal(r.exception?.errorCode, 0x15);
});

void SF; void OF;

t.test('TF set by POPF traps (#DB) after the following instruction', async (t) => {
  const r = run('pushfq\nor qword ptr [rsp], 0x100\npopfq\nnop\nnop');
  t.equal(r.exception?.vector, 1);
  // pushfq (1) + or qword [rsp], imm32 (8) + popfq (1) + nop (1)
  t.equal(r.state.rip, 0x400000n + 11n);
});

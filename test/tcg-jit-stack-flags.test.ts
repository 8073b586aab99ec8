/**
 * Translator forms added for kernel code, each run by the interpreter, by
 * cached blocks and by compiled blocks with identical results: inline CALL,
 * RET, PUSH/POP, indirect CALL/JMP (emit-stack.ts), and the dead-flag
 * elimination of flag-liveness.ts (a skipped record must never be visible:
 * not to a later Jcc, not after the block, not in a fault's saved state).
 */
import t from 'tap';
import { PTE_P, PTE_RW, TIERS, machine, runProgram, sameOnEveryTier, snapshot } from './tcg-jit-support';

const CALLS = `
  mov ecx, 40
  xor eax, eax
  lea rsi, [rip + twice]
  mov qword ptr [0x30000], rsi
again:
  call add3
  lea rdx, [rip + add3]
  call rdx
  push rax
  pop rbx
  call qword ptr [0x30000]
  lea rdx, [rip + back]
  push rdx
  ret 0
back:
  dec ecx
  jnz again
  lea rdx, [rip + finish]
  jmp rdx
add3:
  add eax, 3
  ret
twice:
  add eax, eax
  and eax, 0xffff
  ret
finish:
  nop
done:
  nop
`;

t.test('CALL/RET/PUSH/POP and indirect CALL/JMP give the same state on every tier', async (t) => {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, CALLS);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[4], 0x80000, `${tier}: RSP is balanced after 160 calls and returns`);
    let eax = 0;
    for (let k = 0; k < 40; k++) eax = ((eax + 6) * 2) & 0xffff;
    t.equal(m.cpu.lo[0], eax, `${tier}: every call ran once per iteration`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0], 'blocks match the interpreter');
  t.same(states[2], states[0], 'compiled blocks match the interpreter');
});

t.test('a RET to a non-canonical address raises #GP at the RET with RSP unchanged', async (t) => {
  const src = `
  mov rax, 0x0000800000000000
  push rax
  ret
done:
  nop
`;
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    runProgram(m, src);
    t.equal(m.fault()?.vector, 13, `${tier}: #GP`);
    t.equal(m.cpu.lo[4], 0x80000 - 8, `${tier}: the return address is still on the stack`);
    return snapshot(m.cpu);
  });
  t.same(states[2], states[0], 'compiled blocks match the interpreter');
});

t.test('an indirect CALL or JMP to a non-canonical address raises #GP at it, with nothing pushed', async (t) => {
  for (const branch of ['call rax', 'jmp rax', 'call qword ptr [rbx]', 'jmp qword ptr [rbx]']) {
    const src = `
  mov rax, 0xffff7fffffffffff
  mov rbx, 0x20000
  mov qword ptr [rbx], rax
  mov ecx, 5
  ${branch}
done:
  nop
`;
    const states = TIERS.map((tier) => {
      const m = machine(tier);
      runProgram(m, src);
      t.equal(m.fault()?.vector, 13, `${branch} (${tier}): #GP`);
      t.equal(m.cpu.lo[4], 0x80000, `${branch} (${tier}): RSP unchanged`);
      t.equal(m.cpu.lo[1], 5, `${branch} (${tier}): the instructions before it retired`);
      return snapshot(m.cpu);
    });
    t.same(states[2], states[0], `${branch}: compiled blocks match the interpreter`);
  }
});

t.test('a push that faults (stack page not present) leaves RSP and the flags of earlier instructions', async (t) => {
  // add's flags are overwritten by the sub two instructions later, but the
  // push in between can fault: they must still be in RFLAGS at the fault.
  const src = `
  mov rsp, 0x500000
  mov eax, 0xffffffff
  add eax, 1
  push rax
  sub eax, 5
done:
  nop
`;
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    runProgram(m, src);
    t.equal(m.fault()?.vector, 14, `${tier}: #PF (0x4ffff8 is above the 2 MiB identity map)`);
    t.equal(m.cpu.lo[4], 0x500000, `${tier}: RSP unchanged`);
    t.equal(m.cpu.getEflags() & 0x45, 0x45, `${tier}: CF, PF and ZF of the add are visible at the fault`);
    return snapshot(m.cpu);
  });
  t.same(states[2], states[0], 'compiled blocks match the interpreter');
});

t.test('flags of a dead writer never leak: a chain of ALU ops then Jcc and the flags after the block', async (t) => {
  const src = `
  mov ecx, 1000
  xor edx, edx
loop:
  add edx, ecx
  mov eax, edx
  xor eax, 0x5a5a
  lea rbx, [rax + rcx*2]
  sub ebx, 7
  cmp ecx, 500
  jne skip
  add edx, 1
skip:
  dec ecx
  jnz loop
  add eax, ebx
  mov esi, 3
done:
  nop
`;
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, src);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0], 'blocks match the interpreter (registers and RFLAGS)');
  t.same(states[2], states[0], 'compiled blocks match the interpreter (registers and RFLAGS)');
});

t.test('INC/DEC keep the CF of the ALU op before them (taken from its locals in compiled code)', async (t) => {
  // Each pair leaves CF from the first op and ZF/SF/OF/AF/PF from INC/DEC; pushfq records them.
  const src = `
  mov eax, 0xffffffff
  add eax, 2
  inc ecx
  pushfq
  mov ebx, 3
  sub ebx, 5
  dec edx
  pushfq
  mov esi, 5
  cmp esi, 5
  inc esi
  pushfq
  xor edi, edi
  dec edi
  pushfq
  mov eax, 0
  add eax, 1
  dec eax
  pushfq
  pop r8
  pop r9
  pop r10
  pop r11
  pop r12
done:
  nop
`;
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, src);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[12] & 1, 1, `${tier}: add with a carry out, then INC: CF=1`);
    t.equal(m.cpu.lo[11] & 1, 1, `${tier}: sub with a borrow, then DEC: CF=1`);
    t.equal(m.cpu.lo[10] & 1, 0, `${tier}: cmp equal, then INC: CF=0`);
    t.equal(m.cpu.lo[9] & 1, 0, `${tier}: xor, then DEC: CF=0`);
    t.equal(m.cpu.lo[8] & 0x41, 0x40, `${tier}: add without carry, then DEC to zero: CF=0, ZF=1`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0], 'blocks match the interpreter');
  t.same(states[2], states[0], 'compiled blocks match the interpreter');
});

t.test('a register-only self-loop (registers kept in JS locals) gives the same registers and flags on every tier', async (t) => {
  // 64-bit carries into the high half, partial 8/16-bit writes, a 64-bit
  // counter that wraps below zero once, and a loop exit in the middle of a batch.
  const src = `
  mov rcx, 3000
  mov rax, 0xfffffff0
  mov rbx, 0x100000007
  xor edx, edx
  mov rsi, -5
loop:
  add rax, rbx
  xor rbx, rax
  mov dl, al
  add dx, 0x1234
  inc rsi
  sub rcx, 1
  jnz loop
  mov r8, rsi
done:
  nop
`;
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, src, 100000);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[8], 2995, `${tier}: rsi counted up past zero`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0], 'blocks match the interpreter');
  t.same(states[2], states[0], 'compiled blocks match the interpreter');
});

/**
 * RSP's low half crossing a multiple of 4 GiB: the compiled code moves RSP
 * on its halves, so a push must borrow from the high half and a pop or RET
 * carry into it. The test maps the pages either side of 4 GiB (virtual
 * 0xfffff000 to physical 0x108000, 0x100000000 to 0x109000).
 */
t.test('pushes, calls, pops and returns across a 4 GiB boundary move both halves of RSP', async (t) => {
  // Three rounds: tier 1's handlers take their fast path only once the TLB holds the pages.
  const src = `
  mov esi, 3
again:
  mov rsp, 0x100000008
  mov rax, 0x1122334455667788
  push rax
  push rax
  call 1f
  jmp 2f
1:
  pop rbx
  push rbx
  ret 8
2:
  pop rcx
  mov rdx, rsp
  dec esi
  jnz again
done:
  nop
`;
  const states = sameOnEveryTier(t, (m, tier) => {
    m.mem.writeU32(0x1000, 0x2000 | PTE_P | PTE_RW);
    m.mem.writeU32(0x2000 + 3 * 8, 0xa000 | PTE_P | PTE_RW);
    m.mem.writeU32(0xa000 + 511 * 8, 0xb000 | PTE_P | PTE_RW);
    m.mem.writeU32(0xb000 + 511 * 8, 0x108000 | PTE_P | PTE_RW);
    m.mem.writeU32(0x2000 + 4 * 8, 0xc000 | PTE_P | PTE_RW);
    m.mem.writeU32(0xc000, 0xd000 | PTE_P | PTE_RW);
    m.mem.writeU32(0xd000, 0x109000 | PTE_P | PTE_RW);
    runProgram(m, src);
    t.notOk(m.fault(), `${tier}: no fault`);
    t.same([m.mem.readU32(0x109000), m.mem.readU32(0x109004)], [0x55667788, 0x11223344], `${tier}: the first push, above 4 GiB`);
    t.same([m.mem.readU32(0x108ff8), m.mem.readU32(0x108ffc)], [0x55667788, 0x11223344], `${tier}: the second, below`);
    t.same([m.mem.readU32(0x108ff0), m.mem.readU32(0x108ff4), m.cpu.hi[3]], [m.cpu.lo[3], 0, 0], `${tier}: CALL pushed the return address below, POP read it`);
  });
  t.equal(states[0].r4, '1:8', 'RSP back above 4 GiB after RET 8 and a POP');
  t.equal(states[0].r1, '11223344:55667788', 'POP below 4 GiB read the pushed value');
});

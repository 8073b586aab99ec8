/**
 * The translator's hard cases, each run by the interpreter, by cached
 * blocks and by compiled blocks, with identical architectural results:
 * self-modifying code (inside the running block and in another block),
 * remapping a code page (PTE change + INVLPG), a fault in the middle of a
 * block (precise RIP, retired count, registers), interrupts at block
 * boundaries.
 */
import t from 'tap';
import { CpuInterruptSource } from '../src/tcg-fallback/cpu-interrupt-port';
import type { MmioDevice } from '../src/devices/bus';
import { CODE, PT, PTE_P, PTE_RW, TIERS, labelAddress, machine, pairsAgreeOnEveryTier, runProgram, sameOnEveryTier, snapshot, Machine } from './tcg-jit-support';

const SELF_MODIFY_CURRENT_BLOCK = `
  xor ecx, ecx
  xor edx, edx
again:
  inc ecx
  mov byte ptr [rip + target + 1], cl
target:
  mov eax, 0
  add edx, eax
  cmp ecx, 50
  jne again
done:
  nop
`;

t.test('a store into the running block changes the next instruction', async (t) => {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, SELF_MODIFY_CURRENT_BLOCK);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[0], 50, `${tier}: eax is the last patched immediate`);
    t.equal(m.cpu.lo[2], 1275, `${tier}: every patched immediate was executed`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0], 'blocks match the interpreter');
  t.same(states[2], states[0], 'compiled blocks match the interpreter');
});

const SELF_MODIFY_OTHER_BLOCK = `
  xor ecx, ecx
  xor edx, edx
  jmp again
f:
  mov eax, 0
  ret
again:
  call f
  add edx, eax
  inc ecx
  mov byte ptr [rip + f + 1], cl
  cmp ecx, 40
  jne again
done:
  nop
`;

t.test('a store into another cached block is seen when that block runs next', async (t) => {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { doneAt } = runProgram(m, SELF_MODIFY_OTHER_BLOCK);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[2], 780, `${tier}: sum of 0..39`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

t.test('host writes to RAM through GuestMemory (announced as DMA) are seen by the next execute()', async (t) => {
  for (const tier of TIERS) {
    const m = machine(tier);
    const src = `
again:
  mov eax, 1
  jmp again
done:
  nop
`;
    runProgram(m, src, 300);
    t.equal(m.cpu.lo[0], 1);
    // Patch the immediate behind the CPU's back; GuestMemory.writeU8 announces it (see tcg-jit-dma.test.ts for virtqueues).
    m.mem.writeU8(CODE + 1, 9);
    m.cpu.execute(10);
    t.equal(m.cpu.lo[0], 9, `${tier}: new bytes executed`);
  }
});

const REMAP = `
  mov rbx, 0x100000
  mov rdi, ${PT + 0x100 * 8}
  xor ecx, ecx
  xor edx, edx
again:
  call rbx
  add edx, eax
  mov eax, ecx
  and eax, 1
  shl eax, 12
  add eax, ${0x100000 | PTE_P | PTE_RW}
  mov dword ptr [rdi], eax
  invlpg [rbx]
  inc ecx
  cmp ecx, 30
  jne again
done:
  nop
`;

t.test('remapping a code page (PTE write + INVLPG) runs the new page', async (t) => {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    // Two physical pages behind linear 0x100000: mov eax, 0x11; ret / mov eax, 0x22; ret.
    m.mem.write(0x100000, Uint8Array.of(0xb8, 0x11, 0, 0, 0, 0xc3));
    m.mem.write(0x101000, Uint8Array.of(0xb8, 0x22, 0, 0, 0, 0xc3));
    const { doneAt } = runProgram(m, REMAP);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    // Iteration n (n >= 1) runs the page that iteration n-1 mapped: 0x101000 when n-1 is odd.
    t.equal(m.cpu.lo[2], 16 * 0x11 + 14 * 0x22, `${tier}: both pages ran, alternately`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

const FAULT_MID_BLOCK = `
  mov rsi, 0x100000
  xor r10d, r10d
  xor r11d, r11d
again:
  mov eax, 1
  add r10d, 1
fault:
  mov rcx, qword ptr [rsi]
  add r11d, 1
  add rsi, 0x1000
  jmp again
done:
  nop
`;

t.test('a fault in the middle of a block leaves precise state', async (t) => {
  const faultAt = labelAddress(FAULT_MID_BLOCK, 'fault');
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    m.mem.writeU32(PT + 0x105 * 8, 0); // page 0x105000 not present
    runProgram(m, FAULT_MID_BLOCK);
    t.equal(m.fault()?.vector, 14, `${tier}: #PF`);
    t.equal(m.fault()?.address, 0x105000, `${tier}: CR2`);
    t.equal(m.cpu.rip, faultAt, `${tier}: RIP at the faulting load`);
    t.equal(m.cpu.lo[10], 6, `${tier}: the instruction before it retired`);
    t.equal(m.cpu.lo[11], 5, `${tier}: the instruction after it did not`);
    t.equal(m.cpu.lo[6], 0x105000, `${tier}: RSI`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

/** An interrupt source a device raises (vector 0x30) by an MMIO write, as a LAPIC self-IPI would. */
class MmioRaisedSource implements CpuInterruptSource, MmioDevice {
  pending = false;
  delivered = false;
  writes = 0;
  constructor(private readonly raiseOnWrite: number) {}
  mmioRead(_offset: number, data: Uint8Array): void { data.fill(0); }
  mmioWrite(): void { if (++this.writes === this.raiseOnWrite) this.pending = true; }
  hasPendingInterrupt(): boolean { return this.pending; }
  acknowledgeInterrupt(): number { this.pending = false; this.delivered = true; return 0x30; }
  takeNmi(): boolean { return false; }
  takeInit(): boolean { return false; }
  takeStartup(): number | undefined { return undefined; }
  getTpr(): number { return 0; }
  setTpr(): void { /* no TPR */ }
}

const MMIO_PAGE = 0xfee00000;
const LOOP = `
  mov rbx, 0x1ff000
  xor ecx, ecx
again:
  add eax, 1
  mov dword ptr [rbx], ecx
after_store:
  add edx, 3
  inc ecx
  cmp ecx, 1000
  jne again
done:
  nop
`;

t.test('an interrupt raised mid-block is taken at the next block boundary', async (t) => {
  const again = labelAddress(LOOP, 'again');
  const afterStore = labelAddress(LOOP, 'after_store');
  for (const tier of TIERS) {
    const m = machine(tier);
    const cpu = m.cpu;
    // Linear 0x1ff000 -> the device's page (not RAM).
    m.mem.writeU32(PT + 0x1ff * 8, MMIO_PAGE | PTE_P | PTE_RW);
    const src = new MmioRaisedSource(50);
    cpu.bus.registerMmio(MMIO_PAGE, 4096, src, 'test-irq');
    cpu.eflagsSys |= 0x200; // IF
    cpu.interruptSource = src;
    let at = -1, eax = -1;
    cpu.deliver = (c, vector, _code, _soft, rip) => { if (vector === 0x30) { at = rip; eax = c.lo[0]; } };
    runProgram(m, LOOP);
    t.ok(src.delivered, `${tier}: delivered`);
    t.equal(eax, 50, `${tier}: in the iteration of the 50th store`);
    if (tier === 'interp') t.equal(at, afterStore, 'interpreter: at the next instruction boundary');
    // The WebAssembly tier leaves its block before an MMIO access, and the interpreter runs that one instruction.
    else if (tier === 'wasm') t.equal(at, afterStore, 'wasm: at the instruction after the store, which ran alone');
    else t.equal(at, again, `${tier}: at the end of the block that stored`);
    t.equal(cpu.lo[1], 1000, `${tier}: the loop finished`);
  }
});

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** Each condition after CMP and after TEST; bit n of EDX/ESI set when condition n was false. */
function conditionProgram(): string {
  let src = '  xor edx, edx\n  xor esi, esi\n';
  CC.forEach((cc, n) => {
    src += `  cmp eax, ebx\n  j${cc} 1f\n  or edx, ${1 << n}\n1:\n`;
    src += `  test eax, ebx\n  j${cc} 1f\n  or esi, ${1 << n}\n1:\n`;
  });
  return `${src}done:\n  nop\n`;
}

t.test('conditions folded from a known CMP/TEST result agree with the lazy flags', async (t) => {
  const values = [0, 1, 2, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0xfffffffe, 0x12345678];
  pairsAgreeOnEveryTier(t, values, (m, a, b) => { m.cpu.lo[0] = a; m.cpu.lo[3] = b; }, conditionProgram(), [2, 6]);
  t.pass('every tier took the same branches');
});

const NOPS = `
  mov eax, 7
  mov r8d, 9
  mov ecx, 20
again:
  nop
  nop dword ptr [rax + rax * 1 + 0x7fff0000]
  xchg eax, r8d
  add eax, 1
  nop word ptr [rax]
  dec ecx
  jnz again
done:
  nop
`;

t.test('compiled code skips NOP and the hint NOP (even with a memory operand) but still runs XCHG r8d, eax (90 with REX.B)', async (t) => {
  const states = sameOnEveryTier(t, (m, tier) => {
    const { doneAt } = runProgram(m, NOPS);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.notOk(m.fault(), `${tier}: the hint NOP's operand is never accessed`);
  });
  t.equal(states[0].r0, '0:11', 'EAX and R8D swapped every time (20 swaps, +1 each)');
});

// A forward JMP within the page does not end a block in 64-bit code: the block
// goes on at the target (block-builder.ts followedJump), skipping the bytes between.
const FOLLOWED_JUMPS = `
  mov eax, 1
  mov rbx, 0x7fff0000
  jmp 1f
  ud2
1:
  add eax, 2
  jmp 2f
  .byte 0xff, 0xff, 0xff
2:
  add eax, 4
  mov dword ptr [rbx], eax
done:
  nop
`;

t.test('a block that follows forward JMPs runs the instructions after them, and a fault there is precise', async (t) => {
  const faultAt = labelAddress(FOLLOWED_JUMPS, 'done') - 2; // the 2-byte store before done
  sameOnEveryTier(t, (m, tier) => {
    runProgram(m, FOLLOWED_JUMPS);
    t.equal(m.fault()?.vector, 14, `${tier}: #PF at the store`);
    t.equal(m.cpu.rip, faultAt, `${tier}: RIP is the store's`);
    t.equal(m.cpu.lo[0], 7, `${tier}: EAX holds the work before it, past both JMPs`);
  });
});

// The JMP's target is an instruction that crosses into the next page: the block ends at the JMP as before.
const JUMP_TO_PAGE_CROSSER = `
  mov ecx, 3
again:
  jmp 1f
  .org 0xffc
1:
  movabs rax, 0x1122334455667788
  dec ecx
  jnz again
done:
  nop
`;

t.test('a forward JMP to an instruction that crosses the page still jumps, on every tier', async (t) => {
  const states = sameOnEveryTier(t, (m, tier) => {
    const { doneAt } = runProgram(m, JUMP_TO_PAGE_CROSSER);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
  });
  t.equal(states[0].r0, '11223344:55667788', 'RAX loaded by the page-crossing MOV');
});

// FS/GS-relative accesses in 64-bit code take the inline TLB path with the segment's base,
// read at block entry (WRMSR, SWAPGS and segment loads end a block). The JMP ends the last
// block before done, so it runs compiled in the compiled tier. No RAX operands: those would
// assemble to the moffs forms (A1/A3), which take a handler. The first loads put the pages
// of the offsets alone in the TLB, so leaving out the base would read the wrong page.
const GS_ACCESSES = `
  mov r8, qword ptr [0x10]
  mov r9, qword ptr [0x30010]
  mov rdi, qword ptr gs:[0x10]
  mov qword ptr gs:[0x18], rdi
  mov ecx, 0xc0000101
  mov eax, 0x30000
  xor edx, edx
  wrmsr
  mov rbx, qword ptr gs:[0x10]
  mov qword ptr gs:[0x20], rbx
  mov rsi, qword ptr fs:[0x8]
  jmp 2f
2:
done:
  nop
`;

t.test('FS/GS loads and stores in compiled code add the segment base, the new one after a WRMSR to GS_BASE', async (t) => {
  const states = sameOnEveryTier(t, (m, tier) => {
    m.cpu.segs[5].base = 0x20000;
    m.cpu.segs[4].base = 0x40000;
    m.mem.writeU32(0x20010, 0x11111111); m.mem.writeU32(0x20014, 0x2222);
    m.mem.writeU32(0x30010, 0x33333333); m.mem.writeU32(0x30014, 0x4444);
    m.mem.writeU32(0x40008, 0x55555555);
    runProgram(m, GS_ACCESSES);
    t.notOk(m.fault(), `${tier}: no fault`);
    t.equal(m.mem.readU32(0x20018), 0x11111111, `${tier}: stored through the first GS base`);
    t.equal(m.mem.readU32(0x30020), 0x33333333, `${tier}: loaded and stored through the GS base WRMSR set`);
  });
  t.equal(states[0].r3, '4444:33333333', 'RBX loaded through the new GS base');
  t.equal(states[0].r6, '0:55555555', 'RSI loaded through the FS base');
});

// Read-modify-write of memory (ALU to memory, INC/DEC, through GS as per-CPU counters are)
// takes the inline path in compiled code; the first loads fill the TLB for the offsets alone.
const MEMORY_RMW = `
  mov r8, qword ptr [0x10]
  mov rbx, 0x20100
  add qword ptr [rbx], 5
  sub dword ptr [rbx + 8], 3
  or qword ptr [rbx + 16], rbx
  inc dword ptr gs:[0x10]
  dec qword ptr gs:[0x18]
  add dword ptr gs:[0x20], 0x7f
  setz cl
  jmp 2f
2:
done:
  nop
`;

t.test('memory read-modify-writes in compiled code, also GS-relative, change the right bytes', async (t) => {
  sameOnEveryTier(t, (m, tier) => {
    m.cpu.segs[5].base = 0x20000;
    m.mem.writeU32(0x20100, 0xfffffffe); m.mem.writeU32(0x20104, 7);
    m.mem.writeU32(0x20108, 1);
    m.mem.writeU32(0x20010, 41); m.mem.writeU32(0x20018, 0); m.mem.writeU32(0x2001c, 0);
    m.mem.writeU32(0x20020, 0xffffff81);
    runProgram(m, MEMORY_RMW);
    t.notOk(m.fault(), `${tier}: no fault`);
    t.same([m.mem.readU32(0x20100), m.mem.readU32(0x20104)], [3, 8], `${tier}: ADD carried into the high dword`);
    t.equal(m.mem.readU32(0x20108), 0xfffffffe, `${tier}: SUB wrapped`);
    t.equal(m.mem.readU32(0x20110), 0x20100, `${tier}: OR wrote the register`);
    t.equal(m.mem.readU32(0x20010), 42, `${tier}: INC through GS`);
    t.same([m.mem.readU32(0x20018), m.mem.readU32(0x2001c)], [0xffffffff, 0xffffffff], `${tier}: DEC through GS borrowed`);
    t.equal(m.mem.readU32(0x20020), 0, `${tier}: ADD through GS wrapped to zero`);
    t.equal(m.cpu.lo[1] & 0xff, 1, `${tier}: and set ZF`);
  });
});

/**
 * Maps virtual 0xffffffff80000000 (where Linux's text and its per-CPU data
 * live: the high half of the address negative) to physical 0x100000 and
 * 0x103000 (not adjacent, so an access crossing between them that took
 * the inline path would show): the inline TLB path computes the page number
 * and slot from the address's halves, and must agree with the TLB's own
 * numbering there.
 */
function mapKernelHalf(m: Machine): void {
  m.mem.writeU32(0x1000 + 511 * 8, 0x5000 | PTE_P | PTE_RW);
  m.mem.writeU32(0x5000 + 510 * 8, 0x6000 | PTE_P | PTE_RW);
  m.mem.writeU32(0x6000, 0x7000 | PTE_P | PTE_RW);
  m.mem.writeU32(0x7000, 0x100000 | PTE_P | PTE_RW);
  m.mem.writeU32(0x7008, 0x103000 | PTE_P | PTE_RW);
}

// The quadword the RIP-relative load reads sits before the code, jumped over.
const KERNEL_HALF_ACCESSES = `
  jmp 1f
value:
  .quad 0x0102030405060708
1:
  mov rbx, 0xffffffff80000ff0
  mov rax, 0x1122334455667788
  mov qword ptr [rbx], rax
  mov rcx, qword ptr [rbx]
  mov dword ptr [rbx + 14], 0xaabbccdd
  mov edx, dword ptr [rbx + 14]
  add qword ptr [rbx - 8], 3
  mov rsp, 0xffffffff80001020
  push rax
  push rbx
  pop rsi
  pop rdi
  mov r8, qword ptr [rip + value]
  jmp 2f
2:
done:
  nop
`;

t.test('loads, stores, pushes and pops at kernel-half addresses, also across a page, agree on every tier', async (t) => {
  const states = sameOnEveryTier(t, (m, tier) => {
    mapKernelHalf(m);
    m.mem.writeU32(0x100fe8, 0xfffffffe);
    runProgram(m, KERNEL_HALF_ACCESSES);
    t.notOk(m.fault(), `${tier}: no fault`);
    t.same([m.mem.readU32(0x100ff0), m.mem.readU32(0x100ff4)], [0x55667788, 0x11223344], `${tier}: the stored qword`);
    t.same([m.mem.readU32(0x100ffc), m.mem.readU16(0x103000)], [0xccdd0000, 0xaabb], `${tier}: the page-crossing dword, half on each physical page`);
    t.same([m.mem.readU32(0x100fe8), m.mem.readU32(0x100fec)], [1, 1], `${tier}: ADD carried into the high dword`);
    t.same([m.mem.readU32(0x103018), m.mem.readU32(0x103010)], [0x55667788, 0x80000ff0], `${tier}: the pushes`);
  });
  t.equal(states[0].r1, '11223344:55667788', 'RCX loaded the stored qword');
  t.equal(states[0].r2, '0:aabbccdd', 'EDX read the crossing dword back');
  t.equal(states[0].r6, 'ffffffff:80000ff0', 'POP returned the last push (RBX)');
  t.equal(states[0].r7, '11223344:55667788', 'then the first (RAX)');
  t.equal(states[0].r4, 'ffffffff:80001020', 'RSP balanced');
  t.equal(states[0].r8, '1020304:5060708', 'RIP-relative load');
});

// GS-relative accesses as the kernel's per-CPU variables make them, with a GS base in the
// kernel half (0xfffffffec0000000) whose low half carries into the high one when the offset's
// is added: compiled code adds base and offset on halves and must wrap as the CPU does. The
// address a lost carry would give (0xfffffffe80000ff0) is mapped elsewhere and read first, so
// its TLB entry is there to be hit wrongly.
const GS_KERNEL_HALF = `
  mov r9, 0xfffffffe80000ff0
  mov r10, qword ptr [r9]
  mov rbx, 0xc0000ff0
  mov rax, qword ptr gs:[rbx]
  mov qword ptr gs:[rbx + 8], rax
  mov rcx, -2
  mov rsi, 0xc0001020
  inc dword ptr gs:[rsi + rcx * 8]
  mov edx, dword ptr gs:[rsi + rcx * 8]
  jmp 2f
2:
done:
  nop
`;

t.test('GS-relative accesses with a kernel-half GS base and a carry between the halves agree on every tier', async (t) => {
  const states = sameOnEveryTier(t, (m, tier) => {
    mapKernelHalf(m);
    m.mem.writeU32(0x5000 + 506 * 8, 0x8000 | PTE_P | PTE_RW); // 0xfffffffe80000000 -> 0x108000
    m.mem.writeU32(0x8000, 0x9000 | PTE_P | PTE_RW);
    m.mem.writeU32(0x9000, 0x108000 | PTE_P | PTE_RW);
    m.cpu.segs[5].base = -0x140000000; // 0xfffffffec0000000
    m.mem.writeU32(0x100ff0, 0x89abcdef); m.mem.writeU32(0x100ff4, 0x01234567);
    m.mem.writeU32(0x103010, 41);
    runProgram(m, GS_KERNEL_HALF);
    t.notOk(m.fault(), `${tier}: no fault`);
    t.same([m.mem.readU32(0x100ff8), m.mem.readU32(0x100ffc)], [0x89abcdef, 0x01234567], `${tier}: stored next to what it loaded (0xffffffff80000ff8)`);
    t.equal(m.mem.readU32(0x103010), 42, `${tier}: INC at 0xffffffff80001010 (a negative index)`);
  });
  t.equal(states[0].r0, '1234567:89abcdef', 'RAX loaded from 0xffffffff80000ff0');
  t.equal(states[0].r2, '0:2a', 'EDX read the incremented dword back');
});

t.test('accesses at and past the edge of the canonical range fault alike on every tier, leaving RAX', async (t) => {
  // Wholly non-canonical: #GP (#SS through RSP). Starting on the last, unmapped canonical page and
  // reaching past it: the interpreter's #PF on that page. Either way never the inline path.
  const cases: [string, string, number][] = [
    ['mov rax, qword ptr [rbx]', '0x0000800000000000', 13],
    ['mov qword ptr [rbx], rax', '0xffff7ffffffffff8', 13],
    ['mov dword ptr [rbx], eax', '0x7fffffffffffffff', 13],
    ['add qword ptr [rbx], 1', '0x0000800000000010', 13],
    ['push rax', '0x0000800000000010', 12],
    ['mov rax, qword ptr [rbx]', '0x00007ffffffffffc', 14],
    ['add qword ptr [rbx], 1', '0x00007ffffffffff9', 14],
    ['push rax', '0x0000800000000004', 14],
  ];
  for (const [access, address, vector] of cases) {
    const src = `
  mov rbx, ${address}
  mov rax, 7
  ${access.startsWith('push') ? 'mov rsp, rbx' : 'nop'}
  ${access}
done:
  nop
`;
    const states = sameOnEveryTier(t, (m, tier) => {
      runProgram(m, src);
      t.equal(m.fault()?.vector, vector, `${access} at ${address} (${tier}): vector ${vector}`);
    });
    t.equal(states[2].r0, '0:7', `${access} at ${address}: RAX unchanged`);
  }
});

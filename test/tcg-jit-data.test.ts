/**
 * The translator's inline data-movement and narrow/carry ALU forms
 * (jit/emit-data.ts), each scenario run by the interpreter, by cached blocks
 * and by compiled blocks with identical architectural results (registers,
 * RFLAGS, memory): high-byte registers, sign and zero extension, CMOV with a
 * false condition, ADC/SBB with a carry in, 8/16-bit read-modify-write,
 * bit tests, CMPXCHG/XADD, conditions folded from known results, faults in
 * the middle of a block leaving precise state, and the same forms in real
 * and 32-bit protected mode. A last check makes sure the scenarios really
 * ran as generated code: no handler but PUSHF's may be called.
 */
import t from 'tap';
import { Cpu, Handler } from '../src/tcg-fallback/cpu';
import { handlerTable } from '../src/tcg-fallback/handler-table';
import { CR0_PE, SEG_CS } from '../src/tcg-fallback/cpu-constants';
import { GuestMemory } from '../src/memory/guest-memory';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { assemble } from './tcg-cpu-support';
import { PT, PTE_P, TIERS, Machine, Tier, labelAddress, machine, runProgram, snapshot } from './tcg-jit-support';

/** Scratch data page (identity-mapped, writable). */
const DATA = 0x90000;

/** Registers, flags and the scratch and stack memory: everything a scenario may touch. */
function state(m: Machine): Record<string, string | number> {
  const s = snapshot(m.cpu);
  s.data = Buffer.from(m.mem.read(DATA, 256)).toString('hex');
  s.stack = Buffer.from(m.mem.read(0x80000 - 1024, 1024)).toString('hex');
  return s;
}

/** Runs `source` in every tier with `setup` applied first; checks all tiers agree and returns the machines (interpreter first). */
function agree(t: tap.Test, name: string, source: string, setup: (m: Machine) => void = () => undefined): Machine[] {
  const machines = TIERS.map((tier) => {
    const m = machine(tier);
    setup(m);
    runProgram(m, source);
    return m;
  });
  const states = machines.map(state);
  t.same(states[1], states[0], `${name}: blocks match the interpreter`);
  t.same(states[2], states[0], `${name}: compiled blocks match the interpreter`);
  return machines;
}

const HIGH_BYTES = `
  mov eax, 0x11223344
  mov ebx, 0x55667788
  mov ecx, 0x99aabbcc
  mov edx, 0xddeeff00
  mov rbp, ${DATA}
  mov ah, bl
  mov ch, dh
  add ah, ch
  adc bh, ah
  sub dh, 0x80
  xchg ah, cl
  movzx esi, ah
  movsx edi, bh
  movzx dx, ch
  mov byte ptr [rbp], ah
  mov byte ptr [rbp + 1], bh
  mov dh, byte ptr [rbp]
  mov r9b, 0x81
  mov sil, r9b
  mov bh, 0xfe
  inc bh
  dec ch
  neg dh
  not ah
  cmp bh, ah
  setb ch
  sete byte ptr [rbp + 2]
  test bh, 0x80
  setnz dh
  bt eax, 9
  setc cl
  xchg bh, byte ptr [rbp + 1]
  add byte ptr [rbp + 1], ah
  movabs byte ptr [${DATA + 0x44}], al
  movabs eax, dword ptr [${DATA}]
  movabs qword ptr [${DATA + 0x48}], rax
  movabs ax, word ptr [${DATA + 1}]
done:
  nop
`;

t.test('AH/CH/DH/BH without REX, SIL/R9B with it', async (t) => {
  const [m] = agree(t, 'high bytes', HIGH_BYTES);
  // Spot checks against hand-computed values (the interpreter is the reference for the rest).
  t.equal(m.cpu.lo[9] & 0xff, 0x81, 'r9b');
  t.equal(m.cpu.lo[6] & 0xff, 0x81, 'sil written through REX, not DH');
});

const EXTEND = `
  mov rbp, ${DATA}
  mov qword ptr [rbp], rax
  mov word ptr [rbp + 8], bx
  movsx rsi, byte ptr [rbp]
  movsx edi, word ptr [rbp + 8]
  movsx r8w, al
  movsx r9, bx
  movzx r10, word ptr [rbp + 1]
  movzx r11w, byte ptr [rbp + 3]
  movsxd r12, dword ptr [rbp]
  movsxd r13, ebx
  mov r14, rax
  mov r15, rbx
  cbw
  mov ecx, eax
  cwde
  mov edx, eax
  cdqe
  mov qword ptr [rbp + 16], rax
  mov rax, rbx
  cwd
  mov qword ptr [rbp + 24], rdx
  cdq
  mov qword ptr [rbp + 32], rdx
  cqo
  mov qword ptr [rbp + 40], rdx
done:
  nop
`;

t.test('sign and zero extension at every width', async (t) => {
  const values: [number, number][] = [[0, 0], [0x80, 0x8000], [0x7f, 0x7fff], [0xffffff80, 0xffff8000], [0x12348765, 0x9abcdef0]];
  for (const [a, b] of values) {
    agree(t, `rax=${a.toString(16)} rbx=${b.toString(16)}`, EXTEND, (m) => {
      m.cpu.lo[0] = a; m.cpu.hi[0] = 0xdeadbeef; m.cpu.lo[3] = b; m.cpu.hi[3] = 0x80000001;
    });
  }
});

const CMOV = `
  mov rbp, ${DATA}
  mov rax, -1
  mov rcx, -1
  mov rdx, -1
  mov rsi, -1
  mov rbx, 0x1122334455667788
  mov qword ptr [rbp], rbx
  cmp ebx, ebx
  cmovne eax, ebx
  cmovne rcx, rbx
  cmovne dx, bx
  cmovne esi, dword ptr [rbp]
  cmove rdi, qword ptr [rbp]
  cmp bl, 0x90
  cmovl r8, rbx
  cmova r9d, ebx
  mov r10d, 5
  dec r10d
  cmovz r10d, ebx
  cmovnz r11d, ebx
done:
  nop
`;

t.test('CMOV with a false condition still zero-extends a 32-bit destination', async (t) => {
  const [m] = agree(t, 'cmov', CMOV);
  t.equal(m.cpu.hi[0], 0, 'cmovne eax: high half cleared');
  t.equal(m.cpu.lo[0], 0xffffffff, 'cmovne eax: low half kept');
  t.equal(m.cpu.hi[1], 0xffffffff, 'cmovne rcx: untouched');
  t.equal(m.cpu.lo[2], 0xffffffff, 'cmovne dx: untouched');
  t.equal(m.cpu.hi[6], 0, 'cmovne esi, [mem]: high half cleared');
  t.equal(m.cpu.hi[7], 0x11223344, 'cmove rdi, [mem]: moved');
});

t.test('CMOV reads its memory operand even when the condition is false (#PF)', async (t) => {
  const src = `
  mov rsi, 0x105000
  xor r10d, r10d
  xor r11d, r11d
  cmp eax, eax
  inc r10d
fault:
  cmovne ecx, dword ptr [rsi]
  inc r11d
done:
  nop
`;
  const faultAt = labelAddress(src, 'fault');
  for (const tier of TIERS) {
    const m = machine(tier);
    m.mem.writeU32(PT + 0x105 * 8, 0);
    m.cpu.hi[1] = 0x1234;
    runProgram(m, src);
    t.equal(m.fault()?.vector, 14, `${tier}: #PF`);
    t.equal(m.cpu.rip, faultAt, `${tier}: RIP at the CMOV`);
    t.equal(m.cpu.lo[10], 1, `${tier}: the instruction before retired`);
    t.equal(m.cpu.lo[11], 0, `${tier}: the one after did not`);
    t.equal(m.cpu.hi[1], 0x1234, `${tier}: the faulting CMOV changed nothing`);
  }
});

/** ADC/SBB at every size and form after STC/CLC, each followed by PUSHF so the stack records the flags. */
const CARRY = `
  mov rbp, ${DATA}
  mov qword ptr [rbp], rax
  mov qword ptr [rbp + 8], rbx
  stc
  adc al, bl
  pushfq
  adc ax, bx
  pushfq
  adc eax, ebx
  pushfq
  adc rax, rbx
  pushfq
  stc
  sbb cl, bl
  pushfq
  sbb cx, 1
  pushfq
  sbb ecx, ebx
  pushfq
  sbb rcx, rbx
  pushfq
  stc
  adc byte ptr [rbp], bl
  pushfq
  adc word ptr [rbp + 2], 0x7fff
  pushfq
  stc
  adc dword ptr [rbp + 4], ebx
  pushfq
  sbb qword ptr [rbp + 8], rax
  pushfq
  stc
  sbb dl, byte ptr [rbp + 9]
  pushfq
  adc rdx, qword ptr [rbp]
  pushfq
  stc
  adc eax, 0x7fffffff
  pushfq
  sbb rax, -1
  pushfq
  clc
  adc bh, 0xff
  pushfq
  stc
  sbb r8d, r8d
  setc r9b
  seto r10b
  setz r11b
  sets r12b
  setp r13b
  cmovc r14, rbx
  add ax, 0x8000
  setl r15b
  pushfq
done:
  nop
`;

t.test('ADC/SBB with a carry in, every size, register and memory', async (t) => {
  const values = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];
  for (const a of values) {
    for (const b of [0, 1, 0x80, 0xffff, 0xffffffff]) {
      agree(t, `a=${a.toString(16)} b=${b.toString(16)}`, CARRY, (m) => {
        m.cpu.lo[0] = a; m.cpu.hi[0] = a; m.cpu.lo[3] = b; m.cpu.hi[3] = b === 0 ? 0xffffffff : 0;
        m.cpu.lo[1] = b; m.cpu.lo[2] = a ^ b;
      });
    }
  }
});

const NARROW_ALU = `
  mov rbp, ${DATA}
  mov qword ptr [rbp], rax
  mov qword ptr [rbp + 8], rbx
  add al, bl
  pushfq
  or cx, ax
  pushfq
  and dl, 0xf0
  pushfq
  sub bx, 0x8000
  pushfq
  xor ah, bl
  pushfq
  cmp al, 0x80
  pushfq
  cmp word ptr [rbp], 0x7fff
  pushfq
  cmp byte ptr [rbp + 1], ch
  pushfq
  test byte ptr [rbp + 2], 0x81
  pushfq
  test word ptr [rbp + 2], bx
  pushfq
  test qword ptr [rbp], rcx
  pushfq
  test al, 0x80
  pushfq
  test ax, 0x8001
  pushfq
  add byte ptr [rbp + 3], 0x90
  pushfq
  sub word ptr [rbp + 4], ax
  pushfq
  or byte ptr [rbp + 5], cl
  pushfq
  neg byte ptr [rbp + 6]
  pushfq
  neg ax
  pushfq
  neg rbx
  pushfq
  not word ptr [rbp + 6]
  not rdx
  inc word ptr [rbp + 10]
  pushfq
  dec byte ptr [rbp + 11]
  pushfq
  inc qword ptr [rbp + 8]
  pushfq
  dec dword ptr [rbp + 12]
  pushfq
  inc si
  pushfq
  dec cx
  pushfq
  add si, -1
  pushfq
  sub ecx, -128
  pushfq
  cmp dl, bl
  jb 1f
  inc r8d
1:
  cmp bx, dx
  jl 1f
  inc r9d
1:
  sub al, 1
  jz 1f
  inc r10d
1:
  and bl, 0x80
  js 1f
  inc r11d
1:
  xchg r12w, ax
  xchg edx, ecx
  xchg rbx, r13
  xchg word ptr [rbp + 14], si
  lea r14, [rbx + rsi * 4 + 0x12345678]
  lea r15d, [rdx + rcx * 8 - 4]
  lea di, [rbx + 3]
  lea rcx, [rip + 0x100]
  bts rax, 40
  pushfq
  btr rbx, rsi
  pushfq
  btc edx, 31
  pushfq
  bt cx, si
  pushfq
done:
  nop
`;

t.test('8/16-bit ALU, TEST, NEG/NOT, INC/DEC, XCHG, LEA and BT match on edge values', async (t) => {
  const values = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x80000000, 0xffffffff, 0x12345678];
  for (const a of values) {
    for (const b of [0, 0x80, 0xffff, 0xffffffff]) {
      agree(t, `a=${a.toString(16)} b=${b.toString(16)}`, NARROW_ALU, (m) => {
        m.cpu.lo[0] = a; m.cpu.hi[0] = b; m.cpu.lo[3] = b; m.cpu.hi[3] = a;
        m.cpu.lo[1] = a ^ 0x5a5a; m.cpu.lo[2] = b ^ a; m.cpu.lo[6] = (a + 1) >>> 0; m.cpu.hi[13] = 0xffffffff;
      });
    }
  }
});

const BIT_MEMORY = `
  mov rbp, ${DATA + 128}
  mov qword ptr [rbp - 16], rax
  mov qword ptr [rbp - 8], rbx
  mov qword ptr [rbp], rax
  mov qword ptr [rbp + 8], rbx
  bt qword ptr [rbp], rcx
  setc r8b
  bts dword ptr [rbp], ecx
  pushfq
  btr word ptr [rbp + 8], cx
  pushfq
  btc qword ptr [rbp - 8], rdx
  pushfq
  bt word ptr [rbp], 13
  pushfq
  lock bts qword ptr [rbp + 8], 63
  pushfq
  btr dword ptr [rbp - 16], 31
  pushfq
  btc word ptr [rbp - 4], 0
  pushfq
  lock btr dword ptr [rbp], edx
  pushfq
done:
  nop
`;

t.test('BT/BTS/BTR/BTC on memory with signed register offsets and immediates', async (t) => {
  // Offsets reach the elements before and after the operand (signed) and the high dword.
  const offsets: [number, number][] = [[0, 0], [5, 33], [63, 64], [0xffffffff, 0xffffffc1], [0xffffff80, 0x7f], [100, 0xffffffa0], [40, 1]];
  for (const [c, d] of offsets) {
    agree(t, `rcx=${c.toString(16)} rdx=${d.toString(16)}`, BIT_MEMORY, (m) => {
      m.cpu.lo[0] = 0x8000a5a5; m.cpu.hi[0] = 0x12345678; m.cpu.lo[3] = 0xffff0000; m.cpu.hi[3] = 0x80000001;
      m.cpu.lo[1] = c; m.cpu.hi[1] = (c | 0) < 0 ? 0xffffffff : 0;
      m.cpu.lo[2] = d; m.cpu.hi[2] = (d | 0) < 0 ? 0xffffffff : 0;
    });
  }
});

const ATOMICS = `
  mov rbp, ${DATA}
  mov qword ptr [rbp], rax
  mov qword ptr [rbp + 8], rbx
  mov r8, rax
  mov r9, rbx
  lock cmpxchg qword ptr [rbp], rcx
  pushfq
  lock cmpxchg dword ptr [rbp + 8], edx
  pushfq
  cmpxchg word ptr [rbp + 4], si
  pushfq
  cmpxchg byte ptr [rbp + 9], dh
  pushfq
  cmpxchg r8d, ecx
  pushfq
  cmpxchg r9, rdx
  pushfq
  cmpxchg bl, ah
  pushfq
  lock xadd qword ptr [rbp], rcx
  pushfq
  lock xadd word ptr [rbp + 12], dx
  pushfq
  xadd byte ptr [rbp + 14], ch
  pushfq
  xadd r10d, esi
  pushfq
  xadd r11, r11
  pushfq
  xadd al, ah
  pushfq
done:
  nop
`;

t.test('CMPXCHG and XADD, equal and unequal, register and memory', async (t) => {
  for (const [a, b, c] of [[0, 0, 1], [5, 5, 0x80000000], [0xffffffff, 0x7f, 0xffffffff], [0x80, 0x80008080, 0x7fff]]) {
    agree(t, `a=${a.toString(16)} b=${b.toString(16)} c=${c.toString(16)}`, ATOMICS, (m) => {
      m.cpu.lo[0] = a; m.cpu.hi[0] = c; m.cpu.lo[3] = b; m.cpu.hi[3] = c;
      m.cpu.lo[1] = c; m.cpu.lo[2] = b ^ c; m.cpu.lo[6] = a; m.cpu.hi[8] = 0x55; m.cpu.lo[10] = b; m.cpu.lo[11] = c; m.cpu.hi[11] = a;
    });
  }
});

const SCANS = `
  mov rbp, ${DATA}
  mov qword ptr [rbp], rax
  mov r8, -1
  mov r9, -1
  mov r10, -1
  mov r11, -1
  bsf r8, rax
  pushfq
  bsr r9, rax
  pushfq
  bsf r10d, eax
  pushfq
  bsr r11w, ax
  pushfq
  bsf r12, qword ptr [rbp]
  bsr r13d, dword ptr [rbp + 4]
  bsf r14w, word ptr [rbp + 2]
  pushfq
  popcnt r15, rax
  pushfq
  popcnt esi, dword ptr [rbp + 4]
  pushfq
  popcnt di, ax
  pushfq
  mov rbx, rax
  bswap rbx
  mov rcx, rax
  bswap ecx
  mov rdx, rax
  .byte 0x66, 0x0f, 0xca
  stc
  cmc
  setc byte ptr [rbp + 8]
  cmc
  setc byte ptr [rbp + 9]
  clc
  pushfq
  std
  pushfq
  cld
  pushfq
done:
  nop
`;

t.test('BSF/BSR (zero source keeps the destination), POPCNT, BSWAP, CLC/STC/CMC/CLD/STD', async (t) => {
  const values: [number, number][] = [[0, 0], [0, 0x80000000], [1, 0], [0x80000000, 1], [0x00f0f000, 0xffffffff], [0x10000, 0]];
  for (const [a, b] of values) {
    agree(t, `rax=${b.toString(16)}:${a.toString(16)}`, SCANS, (m) => { m.cpu.lo[0] = a; m.cpu.hi[0] = b; });
  }
});

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/**
 * SETcc and CMOVcc for every condition right after a 32-bit CMP/TEST (the
 * translator folds the condition from the known result), after 8/16-bit ones
 * (only ZF may be folded there) and after a 64-bit CMP.
 */
function conditionProgram(): string {
  let src = `  mov rbp, ${DATA}\n  xor esi, esi\n  xor edi, edi\n`;
  CC.forEach((cc, n) => {
    src += `  cmp eax, ebx\n  set${cc} byte ptr [rbp + ${n}]\n`;
    src += `  test eax, ebx\n  set${cc} byte ptr [rbp + ${16 + n}]\n`;
    src += `  cmp al, bl\n  set${cc} byte ptr [rbp + ${32 + n}]\n`;
    src += `  test bx, ax\n  set${cc} byte ptr [rbp + ${48 + n}]\n`;
    src += `  cmp rax, rbx\n  set${cc} byte ptr [rbp + ${64 + n}]\n`;
    src += `  mov ecx, ${n}\n  cmp eax, ebx\n  cmov${cc} esi, ecx\n  cmp ah, bh\n  cmov${cc} edi, ecx\n`;
    src += `  mov dword ptr [rbp + ${80 + 8 * n}], esi\n  mov dword ptr [rbp + ${84 + 8 * n}], edi\n`;
  });
  return `${src}done:\n  nop\n`;
}

t.test('SETcc/CMOVcc folded from a known CMP/TEST result agree with the lazy flags', async (t) => {
  const values = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678];
  const src = conditionProgram();
  let bad = 0;
  for (const a of values) {
    for (const b of values) {
      const results = TIERS.map((tier) => {
        const m = machine(tier);
        m.cpu.lo[0] = a; m.cpu.lo[3] = b; m.cpu.hi[0] = b; m.cpu.hi[3] = a;
        runProgram(m, src);
        return Buffer.from(m.mem.read(DATA, 208)).toString('hex');
      });
      if (results[1] !== results[0] || results[2] !== results[0]) { bad++; t.fail(`a=${a.toString(16)} b=${b.toString(16)}`); }
    }
  }
  t.equal(bad, 0, 'every tier computed the same conditions');
});

const FAULT_RMW = `
  mov rsi, 0x105000
  mov rbp, ${DATA}
  xor r10d, r10d
  xor r11d, r11d
  mov byte ptr [rbp], 7
  inc r10d
  add al, 1
  stc
fault:
  adc byte ptr [rsi + 3], al
  inc r11d
done:
  nop
`;

t.test('a read-modify-write to a read-only page faults before reading, with precise state', async (t) => {
  const faultAt = labelAddress(FAULT_RMW, 'fault');
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    m.mem.writeU32(PT + 0x105 * 8, 0x105000 | PTE_P); // present, read-only (CR0.WP is set)
    m.mem.writeU8(0x105003, 0x42);
    runProgram(m, FAULT_RMW);
    t.equal(m.fault()?.vector, 14, `${tier}: #PF`);
    t.equal((m.fault()?.errorCode ?? 0) & 3, 3, `${tier}: a write to a present page`);
    t.equal(m.fault()?.address, 0x105003, `${tier}: CR2`);
    t.equal(m.cpu.rip, faultAt, `${tier}: RIP at the ADC`);
    t.equal(m.cpu.lo[10], 1, `${tier}: earlier instructions retired`);
    t.equal(m.cpu.lo[11], 0, `${tier}: later ones did not`);
    t.equal(m.mem.readU8(0x105003), 0x42, `${tier}: memory untouched`);
    t.equal(m.mem.readU8(DATA), 7, `${tier}: the earlier store is done`);
    return state(m);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

const FAULT_LOAD = `
  mov rsi, 0x105000
  xor r10d, r10d
  xor r11d, r11d
again:
  inc r10d
fault:
  movzx eax, word ptr [rsi + 0xfff]
  inc r11d
  add rsi, 0x800
  jmp again
done:
  nop
`;

t.test('a MOVZX straddling into a missing page faults precisely', async (t) => {
  const faultAt = labelAddress(FAULT_LOAD, 'fault');
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    m.mem.writeU32(PT + 0x108 * 8, 0);
    runProgram(m, FAULT_LOAD);
    t.equal(m.fault()?.vector, 14, `${tier}: #PF`);
    t.equal(m.fault()?.address, 0x108000, `${tier}: CR2 at the second page`);
    t.equal(m.cpu.rip, faultAt, `${tier}: RIP at the load`);
    t.equal(m.cpu.lo[10], m.cpu.lo[11] + 1, `${tier}: the increments around it are precise`);
    return state(m);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

const SELF_MODIFY_NARROW = `
  xor ecx, ecx
  xor edx, edx
again:
  inc ecx
  mov byte ptr [rip + target + 1], cl
  add byte ptr [rip + target + 1], 1
target:
  mov eax, 0
  add edx, eax
  cmp ecx, 30
  jne again
done:
  nop
`;

t.test('an 8-bit read-modify-write into the running block is seen by the next instruction', async (t) => {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    runProgram(m, SELF_MODIFY_NARROW);
    t.equal(m.cpu.lo[0], 31, `${tier}: eax is the last patched immediate`);
    t.equal(m.cpu.lo[2], 30 * 31 / 2 + 30, `${tier}: every patched immediate ran`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

/** Data area and code origin of the 16/32-bit scenarios (below 64 KiB, so real mode reaches them). */
const LEGACY_DATA = 0x3000, LEGACY_CODE = 0x1000;

/** A CPU without paging in real mode (16) or flat 32-bit protected mode (32), in one of the tiers. */
function legacyCpu(tier: Tier, bits: 16 | 32): { cpu: Cpu; mem: GuestMemory } {
  const mem = new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(1 << 20) }]);
  const cpu = new Cpu(mem, new IoBus(memoryLogger()));
  cpu.handlers = handlerTable();
  cpu.setTranslation(tier !== 'interp');
  if (cpu.jit !== undefined) cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
  cpu.policy = { onException: () => true };
  cpu.cr0 = (bits === 32 ? CR0_PE : 0) | 0x10;
  cpu.segs.forEach((sg, n) => {
    sg.selector = 0; sg.base = 0; sg.limit = bits === 32 ? 0xffffffff : 0xffff;
    sg.type = n === SEG_CS ? 0xb : 3; sg.s = true; sg.present = true; sg.unusable = false;
    sg.db = bits === 32; sg.l = false;
  });
  cpu.updateMode();
  cpu.lo[4] = 0x8000;
  return { cpu, mem };
}

/** One source assembled as 16-bit and as 32-bit code: operand/address-size prefixes flip between the two. */
const LEGACY = `
  mov ebp, ${LEGACY_DATA}
  mov dword ptr [ebp], eax
  mov dword ptr [ebp + 4], ebx
  mov word ptr [ebp + 8], cx
  add al, bl
  pushfd
  adc ah, byte ptr [ebp + 1]
  pushfd
  sbb cx, word ptr [ebp + 4]
  pushfd
  sub byte ptr [ebp + 2], dl
  pushfd
  adc word ptr [ebp + 6], 0x7fff
  pushfd
  inc cx
  dec dx
  pushfd
  inc ebx
  dec eax
  pushfd
  inc byte ptr [ebp + 3]
  neg word ptr [ebp + 8]
  pushfd
  not byte ptr [ebp + 9]
  movzx esi, byte ptr [ebp + 1]
  movsx edi, word ptr [ebp + 2]
  movzx cx, bh
  cmp al, 0x80
  cmovb edx, dword ptr [ebp]
  setg byte ptr [ebp + 10]
  setnz ch
  mov bx, ${LEGACY_DATA}
  mov si, 4
  mov al, byte ptr [bx + si]
  mov byte ptr [bx + si + 12], ah
  add word ptr [bx + si + 2], ax
  pushfd
  lea di, [bx + si + 7]
  lea edi, [ebp + esi * 2 + 5]
  xchg al, ah
  xchg bx, cx
  cbw
  cwde
  cwd
  cdq
  bt eax, 3
  bts word ptr [ebp + 4], 9
  pushfd
  bsf ecx, eax
  bswap edx
  xadd byte ptr [ebp + 11], cl
  cmpxchg word ptr [ebp + 12], dx
  pushfd
  mov word ptr [${LEGACY_DATA + 0x14}], ax
  mov al, byte ptr [${LEGACY_DATA + 3}]
  mov dword ptr [${LEGACY_DATA + 0x18}], eax
done:
  nop
`;

t.test('real mode and 32-bit protected mode: 16/32-bit operands, 16-bit addressing, segment checks', async (t) => {
  for (const bits of [16, 32] as const) {
    const source = `.intel_syntax noprefix\n${LEGACY}`;
    const code = assemble(source, bits, LEGACY_CODE);
    const doneAt = LEGACY_CODE + assemble(source.slice(0, source.indexOf('\ndone:')), bits, LEGACY_CODE).length;
    for (const [a, b] of [[0x12348081, 0xffff7f01], [0x80, 0x8000ffff], [0, 0xffffffff]]) {
      const states = TIERS.map((tier) => {
        const { cpu, mem } = legacyCpu(tier, bits);
        mem.write(LEGACY_CODE, code);
        cpu.lo[0] = a; cpu.lo[3] = b; cpu.lo[1] = a ^ b; cpu.lo[2] = b >>> 3;
        cpu.rip = LEGACY_CODE;
        cpu.execute(10000, doneAt);
        const st = snapshot(cpu);
        st.data = Buffer.from(mem.read(LEGACY_DATA, 32)).toString('hex');
        st.stack = Buffer.from(mem.read(0x8000 - 128, 128)).toString('hex');
        return st;
      });
      t.equal(states[0].rip, doneAt, `${bits}-bit: the interpreter reached done`);
      t.same(states[1], states[0], `${bits}-bit a=${a.toString(16)} b=${b.toString(16)}: blocks match the interpreter`);
      t.same(states[2], states[0], `${bits}-bit a=${a.toString(16)} b=${b.toString(16)}: compiled blocks match the interpreter`);
    }
    // Everything but PUSHFD is inline in these modes too (a jump ends the last block at done, as in handlerCalls).
    const jumped = source.replace('\ndone:', '\n  jmp 1f\n1:\ndone:');
    const { cpu, mem } = legacyCpu('compiled', bits);
    mem.write(LEGACY_CODE, assemble(jumped, bits, LEGACY_CODE));
    const called = new Set<number>();
    const table: Handler[] = cpu.handlers;
    cpu.handlers = table.map((h, op): Handler => (c, i) => { called.add(op); h(c, i); });
    cpu.rip = LEGACY_CODE;
    cpu.execute(10000, LEGACY_CODE + assemble(jumped.slice(0, jumped.indexOf('\ndone:')), bits, LEGACY_CODE).length);
    t.same([...called].filter((op) => op !== 0x9c).map((op) => op.toString(16)), [], `${bits}-bit: no handler but PUSHFD ran`);
  }
});

/**
 * Opcodes whose interpreter handler ran while `source` executed in compiled
 * blocks. A jump to `done` ends the last block there, so the runner never
 * single-steps up to the stop address; a block whose generated code failed
 * to compile would run its handlers and show up here too.
 */
function handlerCalls(t: tap.Test, source: string): Set<number> {
  const m = machine('compiled');
  const called = new Set<number>();
  const table: Handler[] = m.cpu.handlers;
  m.cpu.handlers = table.map((h, op): Handler => (cpu, i) => { called.add(op); h(cpu, i); });
  runProgram(m, source.replace('\ndone:', '\n  jmp 1f\n1:\ndone:'));
  t.equal(m.fault(), undefined, 'no exception');
  return called;
}

t.test('the forms above are inline in compiled blocks: only PUSHF calls a handler', async (t) => {
  const allowed = new Set([0x9c]);
  for (const [name, src] of [['high bytes', HIGH_BYTES], ['extend', EXTEND], ['cmov', CMOV], ['carry', CARRY], ['narrow alu', NARROW_ALU], ['bit memory', BIT_MEMORY], ['atomics', ATOMICS], ['scans', SCANS]]) {
    const left = [...handlerCalls(t, src)].filter((op) => !allowed.has(op)).map((op) => op.toString(16));
    t.same(left, [], `${name}: no other handler ran`);
  }
});

t.test('32-bit code: the inline memory path is for flat segments only; a limit or a read-only segment still faults', async (t) => {
  const source = `.intel_syntax noprefix
  mov eax, dword ptr [${LEGACY_DATA}]
  mov dword ptr [${LEGACY_DATA + 4}], 7
  mov ebx, dword ptr [0x5000]
done:
  nop
`;
  const code = assemble(source, 32, LEGACY_CODE);
  const doneAt = LEGACY_CODE + assemble(source.slice(0, source.indexOf('\ndone:')), 32, LEGACY_CODE).length;
  const cases: { name: string; limit: number; type: number; vector: number | undefined; rip: number }[] = [
    { name: 'flat', limit: 0xffffffff, type: 3, vector: undefined, rip: doneAt },
    // The first two instructions are 5 and 10 bytes (A1 moffs32; C7 05 disp32 imm32).
    { name: 'limit below 0x5000', limit: 0x4fff, type: 3, vector: 13, rip: LEGACY_CODE + 15 },
    { name: 'read-only data', limit: 0xffffffff, type: 1, vector: 13, rip: LEGACY_CODE + 5 },
  ];
  for (const c of cases) {
    const states = TIERS.map((tier) => {
      const { cpu, mem } = legacyCpu(tier, 32);
      let vector: number | undefined;
      cpu.policy = { onException: (e) => { vector = e.vector; return true; } };
      const ds = cpu.segs[3];
      ds.limit = c.limit; ds.type = c.type;
      mem.write(LEGACY_CODE, code);
      mem.write(LEGACY_DATA, Uint8Array.of(0x78, 0x56, 0x34, 0x12));
      cpu.rip = LEGACY_CODE;
      cpu.execute(100, doneAt);
      t.equal(vector, c.vector, `${c.name}, ${tier}: ${c.vector === undefined ? 'no fault' : `#GP`}`);
      t.equal(cpu.rip, c.rip, `${c.name}, ${tier}: stopped at the right instruction`);
      return { ...snapshot(cpu), data: Buffer.from(mem.read(LEGACY_DATA, 8)).toString('hex') };
    });
    t.same(states[2], states[0], `${c.name}: compiled blocks match the interpreter`);
  }
});

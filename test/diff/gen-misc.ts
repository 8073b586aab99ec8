/**
 * Two small groups: `misc` (instructions that must do little: multi-byte
 * NOPs and PREFETCH with arbitrary addresses that are never accessed, fences,
 * PAUSE, ENDBR64, XCHG EAX,EAX vs NOP, XLAT, MOVNTI, LOOP/LOOPcc) and
 * `privileged` (what ring 3 may not do: each must raise #GP(0) or #UD).
 */
import { MemOp, le, reg } from './encoder';
import { ALL_FLAGS, SeqBuilder, WRITABLE_REGS } from './gen-core';
import { DATA, DATA_SIZE, ZF } from './layout';

/** Any address at all: used where the CPU must not access memory. */
function anyAddress(g: SeqBuilder): MemOp {
  const r = g.rng;
  const base = r.int(16);
  const disp = r.pick([0, r.range(-128, 127), r.range(-0x80000000, 0x7fffffff)]);
  if (r.chance(0.3)) return { kind: 'mem', size: 8, base, index: r.pick(WRITABLE_REGS), scale: r.pick([1, 2, 4, 8] as const), disp };
  return { kind: 'mem', size: 8, base, disp };
}

export function genMisc(g: SeqBuilder): void {
  const r = g.rng;
  switch (r.int(9)) {
    case 0: { // multi-byte NOPs, 0F 1F /0 with any address
      if (r.chance(0.3)) g.emit(r.pick([[0x90], [0x66, 0x90], [0xf3, 0x0f, 0x1e, 0xfa]]));
      else g.emitModRm({ prefixes: r.chance(0.3) ? [0x66] : [], opcode: [0x0f, 0x1f], regField: 0, rm: anyAddress(g) });
      return;
    }
    case 1: // PREFETCHNTA/T0/T1/T2: never faults
      g.emitModRm({ opcode: [0x0f, 0x18], regField: r.int(4), rm: anyAddress(g) });
      return;
    case 2: // PAUSE, LFENCE, MFENCE, SFENCE
      g.emit(r.pick([[0xf3, 0x90], [0x0f, 0xae, 0xe8], [0x0f, 0xae, 0xf0], [0x0f, 0xae, 0xf8]]));
      return;
    case 3: // 87 C0 (XCHG EAX,EAX) zero-extends RAX; 90 does not
      g.emit(r.pick([[0x87, 0xc0], [0x90], [0x48, 0x87, 0xc0], [0x87, 0xc9]]));
      return;
    case 4: // XLAT: AL = [RBX + AL]
      g.movImm(3, DATA + BigInt(r.int(DATA_SIZE - 300)));
      g.emit(r.chance(0.5) ? [0xd7] : [0x48, 0xd7]);
      return;
    case 5: { // MOVNTI m32/m64
      const wide = r.chance(0.5);
      g.emitModRm({ opcode: [0x0f, 0xc3], regField: reg(r.int(16), wide ? 8 : 4), rm: g.mem(wide ? 8 : 4), w: wide });
      return;
    }
    default: { // mov ecx, n; L: add reg, imm8; LOOP/LOOPE/LOOPNE L (the body never touches RCX)
      const n = r.range(1, 6); // LOOP decrements before testing: 0 would mean 2^64 rounds
      const op = r.pick([0xe2, 0xe1, 0xe0]);
      g.emit([0xb9, ...le(n, 4)]);
      const top = g.bytes.length;
      const target = r.pick(WRITABLE_REGS.filter((x) => x !== 1));
      g.emitModRm({ opcode: [0x83], regField: 0, rm: reg(target, 8), w: true, imm: [r.pick([0, 1, 0xff, r.int(256)])] }, ALL_FLAGS);
      const at = g.emit([op, 0], op === 0xe2 ? {} : { reads: ZF });
      g.bytes[at + 1] = (top - (at + 2)) & 0xff;
    }
  }
}

/** Each of these raises #GP(0) at CPL 3 (IOPL 0), or #UD where noted. */
const PRIVILEGED: readonly number[][] = [
  [0xf4], // HLT
  [0xfa], [0xfb], // CLI, STI
  [0xe4, 0x80], [0xe6, 0x80], [0xec], [0xee], [0xed], [0x66, 0xef], // IN/OUT
  [0x6c], [0x6e], // INSB, OUTSB
  [0x0f, 0x20, 0xc0], [0x0f, 0x22, 0xd8], [0x0f, 0x20, 0xe0], // MOV from CR0, to CR3, from CR4
  [0x0f, 0x21, 0xf8], [0x0f, 0x23, 0xf8], // MOV from/to DR7
  [0x0f, 0x30], [0x0f, 0x32], // WRMSR, RDMSR
  [0x0f, 0x06], [0x0f, 0x09], [0x0f, 0x08], // CLTS, WBINVD, INVD
  [0x0f, 0x01, 0xf8], [0x0f, 0x07], // SWAPGS, SYSRET
  [0x0f, 0x00, 0xd8], [0x0f, 0x00, 0xd0], // LTR AX, LLDT AX
  [0x0f, 0x01, 0xf0], // LMSW AX
  [0x0f, 0x0b], // UD2: #UD
  [0xce], [0x37], [0x06], [0x1f], [0x60], // INTO, AAA, PUSH ES, POP DS, PUSHA: #UD in 64-bit mode
  [0x8e, 0xc8], // MOV CS, AX: #UD
  [0xf0, 0x90], // LOCK NOP: #UD
];

export function genPrivileged(g: SeqBuilder): void {
  const r = g.rng;
  // A few ordinary instructions first, so the fault's RIP and state are not trivial.
  if (r.chance(0.5)) g.movImm(r.pick(WRITABLE_REGS), r.interesting64());
  if (r.chance(0.3)) {
    // LGDT/LIDT/INVLPG with a memory operand in the data page.
    g.emitModRm({ opcode: [0x0f, 0x01], regField: r.pick([2, 3, 7]), rm: g.mem(8, { faults: false }) });
    return;
  }
  g.emit(r.pick(PRIVILEGED));
}

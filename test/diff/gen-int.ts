/**
 * Integer instruction groups. Each generator emits one "unit" (an
 * instruction, sometimes with the MOVs that set up its operands). The flag
 * effects follow the SDM's per-instruction definitions, so flags the
 * architecture leaves undefined are never compared nor consumed.
 */
import { readFileSync } from 'node:fs';
import { MemOp, OpSize, RegOp, le, reg, sizePrefix } from './encoder';
import { ALL_FLAGS, FlagEffect, SeqBuilder, WRITABLE_REGS, compatible } from './gen-core';
import { AF, ARITH_FLAGS, CF, CODE, DATA, DATA_SIZE, OF, PF, RODATA, SF, UNMAPPED, ZF } from './layout';

const SIZES: readonly OpSize[] = [1, 2, 4, 8];
const WIDE: readonly OpSize[] = [2, 4, 8];

/** Opcode for an 8-bit form `op8`; the 16/32/64 form is op8+1. */
const op8 = (base: number, size: OpSize): number => (size === 1 ? base : base + 1);

function immFor(g: SeqBuilder, size: OpSize): number[] {
  const v = g.rng.interesting64();
  return le(v, size === 8 ? 4 : size);
}

/** Flags read by condition code cc (Jcc/SETcc/CMOVcc low nibble). */
export function condReads(cc: number): number {
  return [OF, OF, CF, CF, ZF, ZF, CF | ZF, CF | ZF, SF, SF, PF, PF, SF | OF, SF | OF, ZF | SF | OF, ZF | SF | OF][cc];
}

const LOGIC: FlagEffect = { writes: ARITH_FLAGS & ~AF, undef: AF };

export function genAlu(g: SeqBuilder): void {
  const r = g.rng;
  const size = r.pick(SIZES);
  const { prefixes, w } = sizePrefix(size);
  const kind = r.int(10);
  if (kind < 6) {
    const op = r.int(8); // add or adc sbb and sub xor cmp
    const flags: FlagEffect = op === 2 || op === 3 ? { reads: CF, writes: ARITH_FLAGS }
      : op === 1 || op === 4 || op === 6 ? LOGIC : ALL_FLAGS;
    const rm = g.rm(size, 0.3);
    const rg = compatible(rm, g.gpr(size));
    const form = r.int(4);
    const lock = rm.kind === 'mem' && op !== 7 && form !== 1 && r.chance(0.2) ? [0xf0] : [];
    if (form === 0) g.emitModRm({ prefixes: [...lock, ...prefixes], opcode: [op8(op * 8, size)], regField: rg, rm, w }, flags);
    else if (form === 1) g.emitModRm({ prefixes, opcode: [op8(op * 8 + 2, size)], regField: rm.kind === 'reg' ? rm : rg, rm: rm.kind === 'reg' ? rg : rm, w }, flags);
    else if (form === 2 && size !== 1 && r.chance(0.5)) {
      g.emitModRm({ prefixes: [...lock, ...prefixes], opcode: [0x83], regField: op, rm, w, imm: [r.int(256)] }, flags);
    } else if (form === 3) {
      g.emit([...prefixes, ...(w ? [0x48] : []), op8(op * 8 + 4, size), ...immFor(g, size)], flags);
    } else {
      g.emitModRm({ prefixes: [...lock, ...prefixes], opcode: [op8(0x80, size)], regField: op, rm, w, imm: immFor(g, size) }, flags);
    }
    return;
  }
  const rm = g.rm(size, 0.25);
  switch (kind) {
    case 6: // NOT / NEG
      if (r.chance(0.5)) g.emitModRm({ prefixes, opcode: [op8(0xf6, size)], regField: 2, rm, w });
      else g.emitModRm({ prefixes, opcode: [op8(0xf6, size)], regField: 3, rm, w }, ALL_FLAGS);
      return;
    case 7: // INC / DEC leave CF alone
      g.emitModRm({ prefixes, opcode: [op8(0xfe, size)], regField: r.int(2), rm, w }, { writes: ARITH_FLAGS & ~CF });
      return;
    default: // TEST
      if (r.chance(0.5)) g.emitModRm({ prefixes, opcode: [op8(0x84, size)], regField: compatible(rm, g.gpr(size)), rm, w }, LOGIC);
      else g.emitModRm({ prefixes, opcode: [op8(0xf6, size)], regField: 0, rm, w, imm: immFor(g, size) }, LOGIC);
  }
}

export function genShift(g: SeqBuilder): void {
  const r = g.rng;
  if (r.chance(0.25)) return genDoubleShift(g);
  const size = r.pick(SIZES);
  const { prefixes, w } = sizePrefix(size);
  const op = r.int(8);
  const rm = g.rm(size, 0.2);
  const width = size * 8;
  const count = r.pick([1, r.int(width + 3), r.int(256), 0]);
  const form = count === 1 && r.chance(0.5) ? 'one' : r.pick(['imm', 'cl']);
  const c = count & (size === 8 ? 63 : 31);
  let flags: FlagEffect = {};
  if (c !== 0) {
    const ofEffect = c === 1 ? { writes: OF } : { undef: OF };
    if (op <= 1) flags = { writes: CF | (ofEffect.writes ?? 0), undef: ofEffect.undef ?? 0 };
    else if (op <= 3) flags = { reads: CF, writes: CF | (ofEffect.writes ?? 0), undef: ofEffect.undef ?? 0 };
    else {
      const cfUndef = op !== 7 && c >= width;
      flags = {
        writes: SF | ZF | PF | (cfUndef ? 0 : CF) | (ofEffect.writes ?? 0),
        undef: AF | (cfUndef ? CF : 0) | (ofEffect.undef ?? 0),
      };
    }
  }
  if (form === 'one') g.emitModRm({ prefixes, opcode: [op8(0xd0, size)], regField: op, rm, w }, flags);
  else if (form === 'imm') g.emitModRm({ prefixes, opcode: [op8(0xc0, size)], regField: op, rm, w, imm: [count] }, flags);
  else {
    g.emit([0xb1, count]); // mov cl, count: a static count keeps the flag analysis exact
    g.emitModRm({ prefixes, opcode: [op8(0xd2, size)], regField: op, rm, w }, flags);
  }
}

function genDoubleShift(g: SeqBuilder): void {
  const r = g.rng;
  const size = r.pick(WIDE);
  const { prefixes, w } = sizePrefix(size);
  const right = r.chance(0.5);
  const rm = g.rm(size, 0.2);
  const src = g.gpr(size);
  // For 16-bit operands a count above 16 gives an undefined result: never generate it.
  const count = size === 2 ? r.pick([r.int(17), r.int(17) + 32]) : r.pick([1, r.int(size * 8 + 2), r.int(256)]);
  const c = count & (size === 8 ? 63 : 31);
  const flags: FlagEffect = c === 0 ? {} : { writes: SF | ZF | PF | CF | (c === 1 ? OF : 0), undef: AF | (c === 1 ? 0 : OF) };
  if (r.chance(0.5)) {
    g.emitModRm({ prefixes, opcode: [0x0f, right ? 0xac : 0xa4], regField: src, rm, w, imm: [count] }, flags);
  } else {
    g.emit([0xb1, count]);
    g.emitModRm({ prefixes, opcode: [0x0f, right ? 0xad : 0xa5], regField: src, rm, w }, flags);
  }
}

export function genMulDiv(g: SeqBuilder): void {
  const r = g.rng;
  const size = r.pick(SIZES);
  const { prefixes, w } = sizePrefix(size);
  const mulFlags: FlagEffect = { writes: CF | OF, undef: SF | ZF | AF | PF };
  const kind = r.int(5);
  if (kind === 0 || (kind <= 2 && size === 1)) {
    g.emitModRm({ prefixes, opcode: [op8(0xf6, size)], regField: r.pick([4, 5]), rm: g.rm(size, 0.25), w }, mulFlags);
  } else if (kind === 1) {
    g.emitModRm({ prefixes, opcode: [0x0f, 0xaf], regField: g.gpr(size), rm: g.rm(size, 0.25), w }, mulFlags);
  } else if (kind === 2) {
    const small = r.chance(0.5);
    const imm = small ? [r.int(256)] : le(r.interesting64(), size === 2 ? 2 : 4);
    g.emitModRm({ prefixes, opcode: [small ? 0x6b : 0x69], regField: g.gpr(size), rm: g.rm(size, 0.25), w, imm }, mulFlags);
  } else {
    const signed = r.chance(0.5);
    // Usually widen the dividend properly so most divisions succeed; the rest hit #DE.
    if (r.chance(0.7)) {
      if (size === 1) g.emit(signed ? [0x66, 0x98] : [0x0f, 0xb6, 0xc0]);
      else if (signed) g.emit([...prefixes, ...(w ? [0x48] : []), 0x99]);
      else g.emit([0x31, 0xd2], LOGIC);
    }
    let rm: RegOp | MemOp = g.rm(size, 0.25);
    if (rm.kind === 'reg' && r.chance(0.7)) rm = reg(r.pick([1, 3, 6, 7, 8, 9, 11, 12]), size);
    g.emitModRm({ prefixes, opcode: [op8(0xf6, size)], regField: signed ? 7 : 6, rm, w }, { undef: ARITH_FLAGS });
  }
}

/** Host CPU flags (/proc/cpuinfo): the host is the reference, so it must implement what we generate. */
let features: Set<string> | undefined;
function hostHas(flag: string): boolean {
  if (!features) {
    try {
      const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
      features = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
    } catch {
      features = new Set();
    }
  }
  return features.has(flag);
}

export function genBitOps(g: SeqBuilder): void {
  const r = g.rng;
  const size = r.pick(WIDE);
  const { prefixes, w } = sizePrefix(size);
  const btFlags: FlagEffect = { writes: CF, undef: OF | SF | AF | PF };
  let pick = r.int(9);
  // Without LZCNT (abm), POPCNT or MOVBE on the host, fall back to BSF/BSR.
  if ((pick === 3 && !hostHas('abm')) || (pick === 4 && !hostHas('popcnt')) || (pick === 6 && !hostHas('movbe'))) pick = 2;
  switch (pick) {
    case 0: case 1: { // BT/BTS/BTR/BTC
      const op = r.int(4);
      if (r.chance(0.5)) {
        g.emitModRm({ prefixes: r.chance(0.1) ? [0xf0, ...prefixes] : prefixes, opcode: [0x0f, 0xba], regField: 4 + op, rm: g.rm(size, 0.3), w, imm: [r.int(256)] }, btFlags);
      } else {
        const rm = g.rm(size, 0.3);
        // The bit offset register must not be the address's base or index.
        const bitReg = r.pick(WRITABLE_REGS.filter((n) => rm.kind === 'reg' || (n !== rm.base && n !== rm.index)));
        const bit = reg(bitReg, size);
        // A register bit offset addresses a bit string around the operand: keep it near.
        if (rm.kind === 'mem') g.movImm(bit.n, BigInt(r.range(-64, 400)));
        g.emitModRm({ prefixes, opcode: [0x0f, 0xa3 + op * 8], regField: bit, rm, w }, btFlags);
      }
      return;
    }
    case 2: // BSF / BSR
      g.emitModRm({ prefixes, opcode: [0x0f, r.pick([0xbc, 0xbd])], regField: g.gpr(size), rm: g.rm(size, 0.25), w }, { writes: ZF, undef: CF | OF | SF | AF | PF });
      return;
    case 3: // LZCNT. Not TZCNT: it is BMI1, which the software CPU's CPUID lacks, so there F3 0F BC is
      // BSF (REP ignored) while a BMI1 host counts; BSF itself is case 2.
      g.emitModRm({ prefixes: [0xf3, ...prefixes], opcode: [0x0f, 0xbd], regField: g.gpr(size), rm: g.rm(size, 0.25), w }, { writes: CF | ZF, undef: OF | SF | AF | PF });
      return;
    case 4: // POPCNT clears OF SF AF CF PF and sets ZF
      g.emitModRm({ prefixes: [0xf3, ...prefixes], opcode: [0x0f, 0xb8], regField: g.gpr(size), rm: g.rm(size, 0.25), w }, ALL_FLAGS);
      return;
    case 5: { // BSWAP (32/64; the 16-bit form is undefined)
      const n = r.pick(WRITABLE_REGS);
      const wide = r.chance(0.5);
      g.emit([...(wide || n >= 8 ? [0x40 | (wide ? 8 : 0) | (n >= 8 ? 1 : 0)] : []), 0x0f, 0xc8 + (n & 7)]);
      return;
    }
    case 6: { // MOVBE load/store
      const store = r.chance(0.5);
      g.emitModRm({ prefixes, opcode: [0x0f, 0x38, store ? 0xf1 : 0xf0], regField: g.gpr(size), rm: g.mem(size), w });
      return;
    }
    default: { // ADCX/ADOX would need ADX; plain BT on registers with small offsets
      g.emitModRm({ prefixes, opcode: [0x0f, 0xa3], regField: g.gpr(size), rm: g.gpr(size), w }, btFlags);
    }
  }
}

/** Indirect JMP/CALL through a register or memory to a forward target (patched once the body is known). */
function genIndirect(g: SeqBuilder): void {
  const r = g.rng;
  const viaMemory = r.chance(0.4);
  const isCall = r.chance(0.4);
  const target = r.pick(WRITABLE_REGS);
  const slot = DATA + BigInt(r.int(DATA_SIZE / 8 - 1) * 8);
  // Load the (patched later) target: into a register, or into a data-page qword.
  const loadAt = g.bytes.length;
  if (viaMemory) g.emitModRm({ opcode: [0xc7], regField: 0, rm: { kind: 'mem', size: 8, disp: Number(slot) }, w: true, imm: [0, 0, 0, 0] });
  else g.emitModRm({ opcode: [0xc7], regField: 0, rm: reg(target, 8), w: true, imm: [0, 0, 0, 0] });
  const loadLength = g.bytes.length - loadAt;
  const ext = isCall ? 2 : 4;
  const rm: RegOp | MemOp = viaMemory ? (r.chance(0.5) ? { kind: 'mem', size: 8, disp: Number(slot) } : { kind: 'mem', size: 8, disp: 0, ripTarget: slot }) : reg(target, 8);
  g.emitModRm({ opcode: [0xff], regField: ext, rm });
  const undefAtBranch = g.undef;
  let over = -1;
  if (isCall) over = g.emit([0xeb, 0]); // the callee returns here, then jumps over it
  const bodyStart = g.bytes.length;
  genAlu(g);
  if (isCall) {
    g.emit([0xc3]);
    g.bytes[over + 1] = g.bytes.length - (over + 2);
  }
  const dest = isCall ? CODE + BigInt(bodyStart) : CODE + BigInt(g.bytes.length);
  g.bytes.splice(loadAt + loadLength - 4, 4, ...le(dest, 4));
  g.undef |= undefAtBranch;
}

export function genFlow(g: SeqBuilder, depth = 0): void {
  const r = g.rng;
  const cc = r.int(16);
  if (depth === 0 && r.chance(0.12)) return genIndirect(g);
  switch (r.int(8)) {
    case 0: case 1: { // Jcc / JMP / JRCXZ over 1-3 units
      const kind = r.int(6);
      const at = kind === 0 ? g.emit([0xeb, 0]) : kind === 1 ? g.emit([0xe3, 0]) : g.emit([0x70 + cc, 0], { reads: condReads(cc) });
      const undefAtBranch = g.undef;
      const n = depth > 0 ? 1 : r.range(1, 3);
      for (let i = 0; i < n; i++) {
        if (r.chance(0.7) || depth > 0) genAlu(g);
        else genFlow(g, depth + 1);
      }
      const rel = g.bytes.length - (at + 2);
      if (rel > 127) throw new Error('jump body too long');
      g.bytes[at + 1] = rel;
      g.undef |= undefAtBranch;
      return;
    }
    case 2: { // CMOVcc
      const size = r.pick(WIDE);
      const { prefixes, w } = sizePrefix(size);
      g.emitModRm({ prefixes, opcode: [0x0f, 0x40 + cc], regField: g.gpr(size), rm: g.rm(size, 0.25), w }, { reads: condReads(cc) });
      return;
    }
    case 3: // SETcc
      g.emitModRm({ opcode: [0x0f, 0x90 + cc], regField: 0, rm: g.rm(1, 0.25) }, { reads: condReads(cc) });
      return;
    case 4: { // flag instructions
      const k = r.int(6);
      if (k === 0) g.emit([0xf8], { writes: CF });
      else if (k === 1) g.emit([0xf9], { writes: CF });
      else if (k === 2) g.emit([0xf5], { reads: CF, writes: CF });
      else if (k === 3) g.emit([0x9f], { reads: SF | ZF | AF | PF | CF });
      else if (k === 4) g.emit([0x9e], { writes: SF | ZF | AF | PF | CF });
      else g.emit([r.pick([0xfc, 0xfd])]);
      return;
    }
    default:
      genAlu(g);
  }
}

/** A random addressing form for LEA: no access happens, so any register values are fine. */
function leaOperand(g: SeqBuilder): MemOp {
  const r = g.rng;
  const form = r.int(6);
  if (form === 0) return { kind: 'mem', size: 8, disp: 0, ripTarget: DATA + BigInt(r.int(10000)) - 5000n };
  if (form === 1) return { kind: 'mem', size: 8, disp: r.range(-0x80000000, 0x7fffffff) };
  const base = r.int(16);
  const disp = r.pick([0, r.range(-128, 127), r.range(-0x80000000, 0x7fffffff)]);
  if (form === 2) return { kind: 'mem', size: 8, base, disp, addr32: r.chance(0.2) };
  const index = r.pick([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const scale = r.pick([1, 2, 4, 8] as const);
  if (form === 3) return { kind: 'mem', size: 8, index, scale, disp, addr32: r.chance(0.2) };
  return { kind: 'mem', size: 8, base, index, scale, disp, addr32: r.chance(0.2) };
}

export function genMov(g: SeqBuilder): void {
  const r = g.rng;
  switch (r.int(8)) {
    case 0: case 1: {
      const size = r.pick(WIDE);
      const { prefixes, w } = sizePrefix(size);
      g.emitModRm({ prefixes, opcode: [0x8d], regField: g.gpr(size), rm: leaOperand(g), w });
      return;
    }
    case 2: { // MOVSX / MOVZX / MOVSXD
      const size = r.pick(WIDE);
      const { prefixes, w } = sizePrefix(size);
      const k = r.int(5);
      if (k === 4 && size === 8) g.emitModRm({ opcode: [0x63], regField: g.gpr(8), rm: g.rm(4, 0.3), w: true });
      else {
        const srcSize: OpSize = k & 1 ? 2 : 1;
        const src = g.rm(srcSize, 0.3);
        g.emitModRm({ prefixes, opcode: [0x0f, (k & 2 ? 0xbe : 0xb6) + (srcSize === 2 ? 1 : 0)], regField: src.kind === 'reg' && src.high ? reg(r.int(4), size) : g.gpr(size), rm: src, w });
      }
      return;
    }
    case 3: { // CBW/CWDE/CDQE, CWD/CDQ/CQO
      const size = r.pick(WIDE);
      const { prefixes, w } = sizePrefix(size);
      g.emit([...prefixes, ...(w ? [0x48] : []), r.pick([0x98, 0x99])]);
      return;
    }
    case 4: { // XCHG (memory form is implicitly locked)
      const size = r.pick(SIZES);
      const { prefixes, w } = sizePrefix(size);
      const rm = g.rm(size, 0.3);
      g.emitModRm({ prefixes, opcode: [op8(0x86, size)], regField: compatible(rm, g.gpr(size)), rm, w });
      return;
    }
    default: { // MOV in all directions
      const size = r.pick(SIZES);
      const { prefixes, w } = sizePrefix(size);
      const rm = g.rm(size, 0.4);
      const k = r.int(4);
      if (k === 0) g.emitModRm({ prefixes, opcode: [op8(0x88, size)], regField: compatible(rm, g.gpr(size)), rm, w });
      else if (k === 1) g.emitModRm({ prefixes, opcode: [op8(0x8a, size)], regField: compatible(rm, g.gpr(size)), rm, w });
      else if (k === 2) g.emitModRm({ prefixes, opcode: [op8(0xc6, size)], regField: 0, rm, w, imm: immFor(g, size) });
      else g.movImm(r.pick(WRITABLE_REGS), r.interesting64());
    }
  }
}

/** Memory operand at an absolute address (for loading the expected value before CMPXCHG). */
const absMem = (size: MemOp['size'], address: bigint): MemOp => ({ kind: 'mem', size, disp: Number(address) });

export function genAtomic(g: SeqBuilder): void {
  const r = g.rng;
  const lock = r.chance(0.5) ? [0xf0] : [];
  switch (r.int(4)) {
    case 0: { // XADD
      const size = r.pick(SIZES);
      const { prefixes, w } = sizePrefix(size);
      const rm = g.rm(size, 0.6);
      g.emitModRm({ prefixes: rm.kind === 'mem' ? [...lock, ...prefixes] : prefixes, opcode: [0x0f, op8(0xc0, size)], regField: compatible(rm, g.gpr(size)), rm, w }, ALL_FLAGS);
      return;
    }
    case 1: { // CMPXCHG, often with the accumulator primed to succeed
      const size = r.pick(SIZES);
      const { prefixes, w } = sizePrefix(size);
      const address = DATA + BigInt(r.int(DATA_SIZE - 16));
      const rm: RegOp | MemOp = r.chance(0.7) ? absMem(size, address) : g.gpr(size);
      if (rm.kind === 'mem' && r.chance(0.6)) g.emitModRm({ prefixes, opcode: [op8(0x8a, size)], regField: reg(0, size), rm, w });
      g.emitModRm({ prefixes: rm.kind === 'mem' ? [...lock, ...prefixes] : prefixes, opcode: [0x0f, op8(0xb0, size)], regField: compatible(rm, g.gpr(size)), rm, w }, ALL_FLAGS);
      return;
    }
    default: { // CMPXCHG8B / CMPXCHG16B (16B needs 16-byte alignment, else #GP)
      const wide = r.chance(0.5);
      const n = wide ? 16 : 8;
      const aligned = DATA + BigInt(r.int((DATA_SIZE - 32) / 16) * 16) + (r.chance(0.1) ? 8n : 0n);
      const address = r.chance(0.03) ? r.pick([RODATA, UNMAPPED]) + 64n : aligned;
      if (r.chance(0.6)) {
        const half = wide ? 8 : 4;
        g.emitModRm({ opcode: [0x8b], regField: reg(0, 8), rm: absMem(half as OpSize, address), w: wide });
        g.emitModRm({ opcode: [0x8b], regField: reg(2, 8), rm: absMem(half as OpSize, address + BigInt(half)), w: wide });
      }
      g.emitModRm({ prefixes: lock, opcode: [0x0f, 0xc7], regField: 1, rm: absMem(n as 8 | 16, address), w: wide }, { writes: ZF });
    }
  }
}

export function genString(g: SeqBuilder): void {
  const r = g.rng;
  const size = r.pick(SIZES);
  const down = r.chance(0.4);
  g.emit([down ? 0xfd : 0xfc]);
  // Long counts run the page-at-a-time path of forward REP MOVS/STOS (ops-string-bulk.ts), and cross pages.
  const count = r.pick([0, 1, r.int(8), r.int(40), r.int(700)]);
  const place = (): bigint => {
    if (r.chance(0.05)) return r.pick([RODATA + 0xff0n, UNMAPPED - 8n, DATA + BigInt(DATA_SIZE) - 16n]);
    return DATA + BigInt(down ? r.range(400, DATA_SIZE - 8) : r.int(DATA_SIZE - 400));
  };
  const src = place();
  g.movImm(6, src);
  // Sometimes the destination overlaps the source closely: forward copying then repeats a pattern.
  g.movImm(7, r.chance(0.2) ? src + BigInt(r.range(-9, 9)) : place());
  const rep = r.int(3); // 0 none, 1 REP/REPE, 2 REPNE
  if (rep !== 0) g.movImm(1, BigInt(count));
  const ops = [0xa4, 0xaa, 0xac, 0xae, 0xa6]; // MOVS STOS LODS SCAS CMPS
  const op = r.pick(ops);
  const compares = op === 0xae || op === 0xa6;
  const repPrefix = rep === 0 ? [] : rep === 2 && compares ? [0xf2] : [0xf3];
  const { prefixes, w } = sizePrefix(size);
  const flags: FlagEffect = compares && !(rep !== 0 && count === 0) ? ALL_FLAGS : {};
  // A fault in the middle of REP CMPS/SCAS: the SDM says RCX/RSI/RDI reflect the
  // completed iterations but not what the flags hold; this host keeps the flags
  // from before the instruction. Not compared.
  g.emit([...repPrefix, ...prefixes, ...(w ? [0x48] : []), op8(op, size)], flags, compares && rep !== 0 ? ARITH_FLAGS : 0);
}

export function genStack(g: SeqBuilder): void {
  const r = g.rng;
  switch (r.int(8)) {
    case 0: { const n = r.int(16); g.emit([...(n >= 8 ? [0x41] : []), 0x50 + (n & 7)]); return; }
    case 1: { const n = r.pick(WRITABLE_REGS); g.emit([...(n >= 8 ? [0x41] : []), 0x58 + (n & 7)]); return; }
    case 2: g.emit(r.chance(0.5) ? [0x6a, r.int(256)] : [0x68, ...le(r.interesting64(), 4)]); return;
    case 3: // PUSH m64 / POP m64 / 16-bit push-pop
      if (r.chance(0.4)) g.emitModRm({ opcode: [0xff], regField: 6, rm: g.mem(8) });
      else if (r.chance(0.5)) g.emitModRm({ opcode: [0x8f], regField: 0, rm: g.mem(8) });
      else g.emit([0x66, r.pick([0x50, 0x58]) + r.pick([0, 1, 2, 3, 5, 6, 7])]);
      return;
    case 4: { // CALL L; JMP over; L: <unit>; RET [imm16]; over:
      const retImm = r.chance(0.3);
      const call = g.emit([0xe8, 0, 0, 0, 0]);
      const jmp = g.emit([0xeb, 0]);
      const undefAtJump = g.undef;
      const body = g.bytes.length;
      genAlu(g);
      if (retImm) g.emit([0xc2, 8, 0]); else g.emit([0xc3]);
      g.bytes.splice(call + 1, 4, ...le(body - (call + 5), 4));
      g.bytes[jmp + 1] = g.bytes.length - (jmp + 2);
      g.undef |= undefAtJump;
      return;
    }
    case 5: // PUSHF needs every flag defined; POPF of a value with only arithmetic flags and DF
      if (r.chance(0.5)) g.emit([0x9c], { reads: ARITH_FLAGS });
      else {
        const v = 0x2 | (r.u32() & (ARITH_FLAGS | 0x400));
        g.emit([0x68, ...le(v, 4)]);
        g.emit([0x9d], ALL_FLAGS);
      }
      return;
    case 6: // ENTER n,0 ... LEAVE
      // The body must not touch RBP, or LEAVE would send RSP anywhere.
      g.emit([0xc8, ...le(r.int(64) * 8, 2), 0]);
      g.emit([0x6a, r.int(256)]);
      g.emit([0xc9]);
      return;
    default:
      genAlu(g);
  }
}

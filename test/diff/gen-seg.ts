/**
 * Segment-override group: FS/GS-prefixed memory operands with non-zero
 * FS/GS bases (the native runner sets them with arch_prctl), the null
 * overrides CS/DS/ES/SS that 64-bit mode ignores, LEA (which ignores any
 * segment), and a string source with an override.
 */
import { MemOp, OpSize, reg, sizePrefix } from './encoder';
import { ALL_FLAGS, Rng, SeqBuilder, WRITABLE_REGS } from './gen-core';
import { AF, ARITH_FLAGS, CODE, DATA, DATA_SIZE, UNMAPPED } from './layout';

export interface SegBases { fs: bigint; gs: bigint }

/** Bases: small, large (offsets only reachable through registers), or near the data page. */
export function pickBases(r: Rng): SegBases {
  // Never 0: the runner leaves glibc's own FS base in place for a 0.
  const one = (): bigint => r.pick([0x10000n, 0x1000000n, DATA + 0x100000000n, DATA - 0x3000n, BigInt(((r.u32() & ~0xfff) >>> 0) || 0x2000)]);
  return { fs: one(), gs: one() };
}

const FITS32 = (v: bigint): boolean => v >= -0x80000000n && v <= 0x7fffffffn;

/** A memory operand whose offset, added to `base`, lands at `linear`. */
function segMem(g: SeqBuilder, size: MemOp['size'], base: bigint, linear: bigint): MemOp {
  const r = g.rng;
  const offset = BigInt.asIntN(64, linear - base);
  const form = r.int(3);
  const rel = offset - (CODE + BigInt(g.bytes.length) + 16n);
  if (form === 0 && FITS32(offset)) return { kind: 'mem', size, disp: Number(offset) };
  if (form === 1 && FITS32(rel)) return { kind: 'mem', size, disp: 0, ripTarget: offset };
  const b = r.pick(WRITABLE_REGS);
  const disp = r.range(-128, 127);
  g.movImm(b, offset - BigInt(disp));
  return { kind: 'mem', size, base: b, disp };
}

export function genSegment(g: SeqBuilder, bases: SegBases): void {
  const r = g.rng;
  const seg = r.pick(['fs', 'gs', 'null'] as const);
  const prefix = seg === 'fs' ? 0x64 : seg === 'gs' ? 0x65 : r.pick([0x26, 0x2e, 0x36, 0x3e]);
  const base = seg === 'fs' ? bases.fs : seg === 'gs' ? bases.gs : 0n;
  const size = r.pick([1, 2, 4, 8] as const satisfies readonly OpSize[]);
  const { prefixes, w } = sizePrefix(size);
  const linear = r.chance(0.04) ? UNMAPPED + BigInt(r.int(4000)) : DATA + BigInt(r.int(DATA_SIZE - 16));
  const k = r.int(7);
  if (k === 0 || k === 1) { // MOV load / store
    const m = segMem(g, size, base, linear);
    g.emitModRm({ prefixes: [prefix, ...prefixes], opcode: [size === 1 ? (k ? 0x8a : 0x88) : (k ? 0x8b : 0x89)], regField: reg(r.pick(WRITABLE_REGS), size), rm: m, w });
  } else if (k === 2) { // ALU with a memory destination
    const m = segMem(g, size, base, linear);
    const op = r.pick([0, 1, 4, 5, 6, 7]);
    g.emitModRm({ prefixes: [prefix, ...prefixes], opcode: [op * 8 + (size === 1 ? 0 : 1)], regField: reg(r.pick(WRITABLE_REGS), size), rm: m, w },
      op === 1 || op === 4 || op === 6 ? { writes: ARITH_FLAGS & ~AF, undef: AF } : ALL_FLAGS);
  } else if (k === 3) { // LEA ignores the segment: the offset, not the linear address
    const m = segMem(g, 8, base, linear);
    g.emitModRm({ prefixes: [prefix], opcode: [0x8d], regField: reg(r.pick(WRITABLE_REGS), 8), rm: m, w: true });
  } else if (k === 4) { // PUSH m64 / POP m64
    const m = segMem(g, 8, base, linear);
    if (r.chance(0.5)) g.emitModRm({ prefixes: [prefix], opcode: [0xff], regField: 6, rm: m });
    else g.emitModRm({ prefixes: [prefix], opcode: [0x8f], regField: 0, rm: m });
  } else if (k === 5) { // MOVS / LODS with an overridden source segment (the destination is always ES)
    const count = r.int(6);
    g.emit([0xfc]);
    g.movImm(6, BigInt.asIntN(64, linear - base));
    g.movImm(7, DATA + BigInt(r.int(DATA_SIZE - 64)));
    g.movImm(1, BigInt(count));
    g.emit([0xf3, prefix, ...prefixes, ...(w ? [0x48] : []), r.pick([0xa4, 0xac]) + (size === 1 ? 0 : 1)]);
  } else if (r.chance(0.5)) { // MOVZX load through the segment
    const src = r.pick([1, 2] as const);
    g.emitModRm({ prefixes: [prefix], opcode: [0x0f, src === 1 ? 0xb6 : 0xb7], regField: reg(r.pick(WRITABLE_REGS), 4), rm: segMem(g, src, base, linear) });
  } else { // CMPXCHG through the segment
    const m = segMem(g, size, base, linear);
    g.emitModRm({ prefixes: [prefix, ...prefixes], opcode: [0x0f, size === 1 ? 0xb0 : 0xb1], regField: reg(r.pick(WRITABLE_REGS), size), rm: m, w }, ALL_FLAGS);
  }
}

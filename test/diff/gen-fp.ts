/**
 * SSE/SSE2 and x87 groups, and the floating-point values they start from.
 *
 * For these groups the data pages hold typed values (see fpDataLayout), so
 * a memory operand of a given type reads a sensible number rather than
 * random bits: page 1 first half f64, page 1 second half small int64,
 * page 2 f32.
 */
import { MemOp, RegOp, le, reg } from './encoder';
import { ALL_FLAGS, FlagEffect, Rng, SeqBuilder, WRITABLE_REGS } from './gen-core';
import { DATA, RODATA, UNMAPPED } from './layout';

export type FpType = 'f64' | 'f32' | 'i64';
const REGION: Record<FpType, { start: bigint; bytes: number; elem: number }> = {
  f64: { start: DATA, bytes: 2048, elem: 8 },
  i64: { start: DATA + 2048n, bytes: 2048, elem: 8 },
  f32: { start: DATA + 4096n, bytes: 4096, elem: 4 },
};

/** A double biased to values where rounding and special cases matter. */
export function fpValue(r: Rng, specials: boolean, denormals = true): number {
  const k = r.int(specials ? 10 : 8);
  switch (k) {
    case 0: return r.range(-100, 100);
    case 1: return r.range(-64, 64) / 8;
    case 2: return (r.chance(0.5) ? -1 : 1) * (r.u32() / 4294967296 + 1) * 2 ** r.range(-20, 20);
    case 3: return (r.chance(0.5) ? -1 : 1) * (r.u32() * 2 ** 21 + (r.u32() & 0x1fffff)) * 2 ** r.range(-60, -20);
    case 4: return r.pick([0.1, 1 / 3, 2 / 3, 0.5, 1.5, 2.5, -2.5, 3.5, -0.5, 1e10, -1e-10, 4294967296.5, 2147483647.5, -2147483648.5]);
    case 5: case 6: case 7: return (r.chance(0.5) ? -1 : 1) * (r.u32() / 4294967296) * 2 ** r.range(-8, 40);
    // Without denormals (x87) also without the extremes of the double range: the host's
    // 80-bit registers keep 2 * DBL_MAX finite where a double-based FPU gets infinity.
    default: return r.pick([0, -0, Infinity, -Infinity, NaN,
      ...(denormals ? [1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, -1e-310, 1e-40] : [])]);
  }
}

/** Fill the data pages with typed values (layout above). */
export function fillFpData(r: Rng, data: Uint8Array, specials: boolean, denormals: boolean): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let o = 0; o < 2048; o += 8) view.setFloat64(o, fpValue(r, specials, denormals), true);
  for (let o = 2048; o < 4096; o += 8) view.setBigInt64(o, BigInt(r.range(-100000, 100000)) * BigInt(r.pick([1, 1, 7, 65536, 1 << 30])), true);
  for (let o = 4096; o < 8192; o += 4) view.setFloat32(o, fpValue(r, specials, denormals), true);
}

/** xmm register contents: float lanes, double lanes or raw bits. */
export function fillXmm(r: Rng, xmm: Uint8Array): void {
  const view = new DataView(xmm.buffer, xmm.byteOffset, xmm.byteLength);
  for (let i = 0; i < 16; i++) {
    const k = r.int(3);
    for (let l = 0; l < 16; l += k === 0 ? 4 : 8) {
      if (k === 0) view.setFloat32(i * 16 + l, fpValue(r, true), true);
      else if (k === 1) view.setFloat64(i * 16 + l, fpValue(r, true), true);
      else view.setBigUint64(i * 16 + l, r.interesting64(), true);
    }
  }
}

/** An absolute memory operand holding a value of `type`, `align`-aligned; rarely a faulting address. */
function fpMem(g: SeqBuilder, type: FpType, size: MemOp['size'], align = 1, faults = true): MemOp {
  const r = g.rng;
  const reg0 = REGION[type];
  const elems = reg0.bytes / reg0.elem - 4;
  let address = reg0.start + BigInt(r.int(elems) * reg0.elem);
  if (align > 1) address &= ~BigInt(align - 1);
  if (align > 1 && r.chance(0.03)) address += 4n; // misaligned: #GP for aligned SSE forms
  if (faults && r.chance(0.03)) address = r.pick([RODATA + 0x100n, UNMAPPED + 0x40n]);
  if (r.chance(0.5)) return { kind: 'mem', size, disp: 0, ripTarget: address };
  if (r.chance(0.5)) return { kind: 'mem', size, disp: Number(address) };
  const base = r.pick(WRITABLE_REGS);
  const disp = r.range(-200, 200);
  g.movImm(base, address - BigInt(disp));
  return { kind: 'mem', size, base, disp };
}

const xmm = (r: Rng): RegOp => reg(r.int(16), 4);

/** Encode an SSE instruction: prefix (none/66/F2/F3), 0F opcode, xmm reg and xmm-or-memory rm. */
function sse(g: SeqBuilder, prefix: number[], op: number[], regField: RegOp | number, rm: RegOp | MemOp, imm?: number[], w = false, flags: FlagEffect = {}): void {
  g.emitModRm({ prefixes: prefix, opcode: [0x0f, ...op], regField, rm, imm, w }, flags);
}

const PACKED_INT = [0xef, 0xdb, 0xdf, 0xeb, 0xfc, 0xfd, 0xfe, 0xd4, 0xf8, 0xf9, 0xfa, 0xfb, 0x74, 0x75, 0x76, 0x64, 0x65, 0x66,
  0x60, 0x61, 0x62, 0x68, 0x69, 0x6a, 0x6c, 0x6d, 0xd5, 0xf4, 0xdc, 0xdd, 0xd8, 0xd9, 0xec, 0xed, 0xe8, 0xe9, 0xde, 0xda,
  0xee, 0xea, 0xe0, 0xe3, 0xe5, 0xe4, 0xf5, 0xf6, 0x63, 0x67, 0x6b, 0xd1, 0xd2, 0xd3, 0xe1, 0xe2, 0xf1, 0xf2, 0xf3];

export function genSseInt(g: SeqBuilder): void {
  const r = g.rng;
  const rmX = (): RegOp | MemOp => (r.chance(0.25) ? fpMem(g, r.pick(['f64', 'i64', 'f32'] as const), 16, 16) : xmm(r));
  switch (r.int(8)) {
    case 0: case 1: case 2:
      sse(g, [0x66], [r.pick(PACKED_INT)], xmm(r), rmX());
      return;
    case 3: { // shifts by immediate
      const [op, ext] = r.pick([[0x71, 2], [0x71, 4], [0x71, 6], [0x72, 2], [0x72, 4], [0x72, 6], [0x73, 2], [0x73, 3], [0x73, 6], [0x73, 7]] as const);
      sse(g, [0x66], [op], ext, xmm(r), [r.pick([0, 1, r.int(20), r.int(256)])]);
      return;
    }
    case 4: // PSHUFD / PSHUFLW / PSHUFHW
      sse(g, [r.pick([0x66, 0xf2, 0xf3])], [0x70], xmm(r), rmX(), [r.int(256)]);
      return;
    case 5: { // moves between xmm, memory and general registers
      const k = r.int(7);
      if (k === 0) sse(g, [0x66], [0x6f], xmm(r), rmX());
      else if (k === 1) sse(g, [0x66], [0x7f], xmm(r), r.chance(0.5) ? fpMem(g, 'f64', 16, 16) : xmm(r));
      else if (k === 2) sse(g, [0xf3], [r.pick([0x6f, 0x7f])], xmm(r), r.chance(0.5) ? fpMem(g, 'f32', 16) : xmm(r));
      else if (k === 3) sse(g, [0x66], [0x6e], xmm(r), r.chance(0.7) ? reg(r.int(16), 8) : fpMem(g, 'i64', 8), undefined, r.chance(0.5));
      else if (k === 4) sse(g, [0x66], [0x7e], xmm(r), r.chance(0.7) ? reg(r.pick(WRITABLE_REGS), 8) : fpMem(g, 'i64', 8), undefined, r.chance(0.5));
      else if (k === 5) sse(g, [0xf3], [0x7e], xmm(r), r.chance(0.5) ? xmm(r) : fpMem(g, 'i64', 8));
      else sse(g, [0x66], [0xd6], xmm(r), r.chance(0.5) ? xmm(r) : fpMem(g, 'i64', 8));
      return;
    }
    case 6: { // PMOVMSKB / PEXTRW / PINSRW
      const k = r.int(3);
      if (k === 0) sse(g, [0x66], [0xd7], reg(r.pick(WRITABLE_REGS), 4), xmm(r));
      else if (k === 1) sse(g, [0x66], [0xc5], reg(r.pick(WRITABLE_REGS), 4), xmm(r), [r.int(256)]);
      else sse(g, [0x66], [0xc4], xmm(r), r.chance(0.7) ? reg(r.int(16), 4) : fpMem(g, 'i64', 2), [r.int(256)]);
      return;
    }
    default: // logic on the float domain
      sse(g, r.pick([[], [0x66]]), [r.pick([0x54, 0x55, 0x56, 0x57])], xmm(r), rmX());
  }
}

/** LDMXCSR of a random rounding mode, FTZ/DAZ, sticky flags and (rarely) unmasked exceptions. */
function loadMxcsr(g: SeqBuilder): void {
  const r = g.rng;
  let v = 0x1f80 | (r.int(4) << 13) | (r.chance(0.2) ? 0x8000 : 0) | (r.chance(0.2) ? 0x40 : 0) | (r.chance(0.3) ? r.int(64) : 0);
  if (r.chance(0.08)) v &= ~(1 << r.range(7, 12));
  const at = DATA + 4096n + BigInt(r.int(1000) * 4);
  g.emitModRm({ opcode: [0xc7], regField: 0, rm: { kind: 'mem', size: 4, disp: Number(at) }, imm: le(v, 4) });
  g.emitModRm({ opcode: [0x0f, 0xae], regField: 2, rm: { kind: 'mem', size: 4, disp: Number(at) } });
}

export function genSseFp(g: SeqBuilder): void {
  const r = g.rng;
  const kind = r.pick(['ps', 'pd', 'ss', 'sd'] as const);
  const prefix = { ps: [], pd: [0x66], ss: [0xf3], sd: [0xf2] }[kind];
  const type: FpType = kind === 'ps' || kind === 'ss' ? 'f32' : 'f64';
  const size = kind === 'ss' ? 4 : kind === 'sd' ? 8 : 16;
  const rmX = (): RegOp | MemOp => (r.chance(0.25) ? fpMem(g, type, size, size === 16 ? 16 : 1) : xmm(r));
  switch (r.int(10)) {
    case 0: case 1: case 2: // arithmetic, min/max, sqrt
      sse(g, prefix, [r.pick([0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f, 0x51])], xmm(r), rmX());
      return;
    case 3: { // int <-> float conversions
      const k = r.int(4);
      const dbl = r.chance(0.5) ? 0xf2 : 0xf3;
      const wide = r.chance(0.5);
      if (k === 0) sse(g, [dbl], [0x2a], xmm(r), r.chance(0.7) ? reg(r.int(16), 8) : fpMem(g, 'i64', 8), undefined, wide);
      else sse(g, [dbl], [r.pick([0x2c, 0x2d])], reg(r.pick(WRITABLE_REGS), 8), r.chance(0.7) ? xmm(r) : fpMem(g, dbl === 0xf2 ? 'f64' : 'f32', dbl === 0xf2 ? 8 : 4), undefined, wide);
      return;
    }
    case 4: { // float <-> float, packed int <-> float
      const [p, op] = r.pick([[[0xf3], 0x5a], [[0xf2], 0x5a], [[], 0x5a], [[0x66], 0x5a], [[], 0x5b], [[0x66], 0x5b], [[0xf3], 0x5b],
        [[0xf3], 0xe6], [[0xf2], 0xe6], [[0x66], 0xe6]] as const);
      sse(g, [...p], [op], xmm(r), r.chance(0.8) ? xmm(r) : fpMem(g, 'f64', 16, 16));
      return;
    }
    case 5: // UCOMIS*/COMIS*: ZF PF CF from the compare, OF SF AF cleared
      sse(g, kind === 'pd' || kind === 'sd' ? [0x66] : [], [r.pick([0x2e, 0x2f])], xmm(r), r.chance(0.8) ? xmm(r) : fpMem(g, type, type === 'f32' ? 4 : 8), undefined, false, ALL_FLAGS);
      return;
    case 6: // CMPcc with all 8 predicates
      sse(g, prefix, [0xc2], xmm(r), rmX(), [r.int(8)]);
      return;
    case 7: { // moves and shuffles
      const k = r.int(5);
      if (k === 0) sse(g, r.pick([[], [0x66]]), [r.pick([0x28, 0x29])], xmm(r), r.chance(0.7) ? xmm(r) : fpMem(g, type, 16, 16));
      else if (k === 1) sse(g, r.pick([[], [0x66], [0xf3], [0xf2]]), [r.pick([0x10, 0x11])], xmm(r), r.chance(0.6) ? xmm(r) : fpMem(g, type, 16));
      else if (k === 2) sse(g, r.pick([[], [0x66]]), [0xc6], xmm(r), xmm(r), [r.int(256)]);
      else if (k === 3) sse(g, r.pick([[], [0x66]]), [r.pick([0x14, 0x15])], xmm(r), xmm(r));
      else sse(g, r.pick([[], [0x66]]), [0x50], reg(r.pick(WRITABLE_REGS), 4), xmm(r));
      return;
    }
    case 8:
      loadMxcsr(g);
      return;
    default: { // STMXCSR then read it back into a register
      const at = DATA + 4096n + BigInt(r.int(1000) * 4);
      g.emitModRm({ opcode: [0x0f, 0xae], regField: 3, rm: { kind: 'mem', size: 4, disp: Number(at) } });
    }
  }
}

/**
 * x87 subset. The runner starts the host FPU with precision control set to
 * double (FCW 0x027f), and generated FLDCWs keep it, so the host rounds every
 * result to 53 bits like a double-based emulator does; only the exponent
 * range differs (values here stay far from it). The stack depth is tracked
 * so no instruction over- or underflows the register stack.
 */
export class X87Gen {
  constructor(public depth: number) {}

  gen(g: SeqBuilder): void {
    const r = g.rng;
    const canPush = this.depth < 8;
    const k = r.int(13);
    const i = (): number => r.int(Math.max(1, this.depth));
    if ((k <= 2 || this.depth === 0) && canPush) {
      // loads
      const l = r.int(8);
      if (l === 0) g.emitModRm({ opcode: [0xd9], regField: 0, rm: fpMem(g, 'f32', 4) });
      else if (l === 1) g.emitModRm({ opcode: [0xdd], regField: 0, rm: fpMem(g, 'f64', 8) });
      else if (l === 2 && this.depth > 0) g.emit([0xd9, 0xc0 + i()]);
      else if (l === 3) g.emitModRm({ opcode: [0xdf], regField: 0, rm: fpMem(g, 'i64', 2) });
      else if (l === 4) g.emitModRm({ opcode: [0xdb], regField: 0, rm: fpMem(g, 'i64', 4) });
      else if (l === 5) g.emitModRm({ opcode: [0xdf], regField: 5, rm: fpMem(g, 'i64', 8) });
      else g.emit([0xd9, r.pick([0xe8, 0xee])]);
      this.depth++;
      return;
    }
    if (this.depth === 0) return;
    switch (k) {
      case 3: case 4: case 5: { // arithmetic
        const op = r.pick([0, 1, 4, 5, 6, 7]);
        const f = r.int(4);
        if (f === 0) g.emitModRm({ opcode: [0xd8], regField: op, rm: fpMem(g, 'f32', 4) });
        else if (f === 1) g.emitModRm({ opcode: [0xdc], regField: op, rm: fpMem(g, 'f64', 8) });
        else if (f === 2) g.emit([r.pick([0xd8, 0xdc]), 0xc0 + op * 8 + i()]);
        else if (this.depth >= 2) { g.emit([0xde, 0xc0 + op * 8 + 1 + r.int(this.depth - 1)]); this.depth--; }
        return;
      }
      case 6: { // stores (pop sometimes)
        const s = r.int(7);
        if (s === 0) { g.emitModRm({ opcode: [0xd9], regField: 3, rm: g.mem(4) }); this.depth--; }
        else if (s === 1) { g.emitModRm({ opcode: [0xdd], regField: 3, rm: g.mem(8) }); this.depth--; }
        else if (s === 2) g.emitModRm({ opcode: [0xdd], regField: 2, rm: g.mem(8) });
        else if (s === 3) { g.emitModRm({ opcode: [0xdf], regField: 3, rm: g.mem(2) }); this.depth--; }
        else if (s === 4) { g.emitModRm({ opcode: [0xdb], regField: 3, rm: g.mem(4) }); this.depth--; }
        else if (s === 5) { g.emitModRm({ opcode: [0xdf], regField: 7, rm: g.mem(8) }); this.depth--; }
        else { g.emit([0xdd, 0xd8 + i()]); this.depth--; }
        return;
      }
      case 7: g.emit([0xd9, r.pick([0xe0, 0xe1, 0xfa, 0xfc, 0xe4])]); return; // FCHS FABS FSQRT FRNDINT FTST
      case 8: g.emit([0xd9, 0xc8 + i()]); return; // FXCH
      case 9: { // compares
        const c = r.int(4);
        if (c === 0) g.emit([0xd8, 0xd0 + i()]);
        else if (c === 1) { g.emit([0xd8, 0xd8 + i()]); this.depth--; }
        else if (c === 2) g.emit([0xdb, r.pick([0xe8, 0xf0]) + i()], ALL_FLAGS);
        else { g.emit([0xdf, r.pick([0xe8, 0xf0]) + i()], ALL_FLAGS); this.depth--; }
        return;
      }
      case 10: // FNSTSW AX, then keep only C0 C2 C3 and TOP (C1 and the sticky flags follow the host's 80-bit rounding)
        g.emit([0xdf, 0xe0]);
        g.emit([0x66, 0x25, ...le(0x7d00, 2)], { writes: 0x8d5 & ~0x10, undef: 0x10 });
        return;
      case 11: { // FLDCW with a random rounding mode, precision kept at double
        const at = DATA + 4096n + BigInt(r.int(1000) * 4);
        const cw = 0x027f | (r.int(4) << 10);
        g.emitModRm({ prefixes: [0x66], opcode: [0xc7], regField: 0, rm: { kind: 'mem', size: 2, disp: Number(at) }, imm: le(cw, 2) });
        g.emitModRm({ opcode: [0xd9], regField: 5, rm: { kind: 'mem', size: 2, disp: Number(at) } });
        return;
      }
      // FISTTP is not generated: it is SSE3, which the software CPU's CPUID does not report (it #UDs there).
      default: g.emitModRm({ opcode: [0xd9], regField: 7, rm: g.mem(2) }); return; // FNSTCW
    }
  }
}


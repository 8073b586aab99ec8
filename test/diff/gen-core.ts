/**
 * The sequence builder shared by all instruction groups: a seeded PRNG,
 * emission of encoded instructions, memory operands that land in the data
 * pages, and the flag bookkeeping that decides which RFLAGS bits are defined
 * at the end (or at a faulting instruction).
 */
import { encodeModRm, EncodeOptions, MemOp, OpSize, RegOp, le, reg } from './encoder';
import { ARITH_FLAGS, CODE, DATA, DATA_SIZE, RODATA, UNMAPPED } from './layout';

/** mulberry32: tiny, fast and good enough to spread test inputs. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number { return this.u32() % n; }
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  u64(): bigint { return (BigInt(this.u32()) << 32n) | BigInt(this.u32()); }
  /** A 64-bit value biased to the edges where arithmetic bugs live. */
  interesting64(): bigint {
    switch (this.int(8)) {
      case 0: return BigInt(this.range(0, 3));
      case 1: return BigInt.asUintN(64, -BigInt(this.range(1, 3)));
      case 2: return this.pick([0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
        0x7fffffffffffffffn, 0x8000000000000000n, 0x100000000n]) + BigInt(this.range(-1, 1)) & 0xffffffffffffffffn;
      case 3: return BigInt(this.u32() & 0xff);
      case 4: return BigInt(this.u32());
      default: return this.u64();
    }
  }
}

export interface InsnInfo {
  offset: number;
  length: number;
  /** RFLAGS bits that may be undefined when this instruction starts. */
  undefBefore: number;
  /** Extra RFLAGS bits not compared when this instruction itself faults. */
  undefOnFault?: number;
}

/** How an instruction treats the arithmetic flags. */
export interface FlagEffect {
  /** Flags the instruction reads (they must be defined first). */
  reads?: number;
  /** Flags it sets to a defined value. */
  writes?: number;
  /** Flags it leaves undefined. */
  undef?: number;
}

export const NO_FLAGS: FlagEffect = {};
export const ALL_FLAGS: FlagEffect = { writes: ARITH_FLAGS };

/** Registers a random instruction may overwrite: everything but RSP. */
export const WRITABLE_REGS = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

export class SeqBuilder {
  readonly bytes: number[] = [];
  readonly insns: InsnInfo[] = [];
  /** Flags that may be undefined at the current emission point. */
  undef = 0;

  constructor(readonly rng: Rng) {}

  get address(): bigint { return CODE + BigInt(this.bytes.length); }

  emit(bytes: number[], flags: FlagEffect = NO_FLAGS, undefOnFault = 0): number {
    const reads = flags.reads ?? 0;
    if (reads & this.undef) this.defineFlags();
    const at = this.bytes.length;
    this.insns.push({ offset: at, length: bytes.length, undefBefore: this.undef, undefOnFault });
    this.bytes.push(...bytes);
    this.undef = (this.undef & ~(flags.writes ?? 0)) | (flags.undef ?? 0);
    return at;
  }

  emitModRm(o: EncodeOptions, flags: FlagEffect = NO_FLAGS): number {
    // The encoding depends on the address only for RIP-relative operands,
    // and a flag-defining CMP may be inserted first: settle that before encoding.
    if ((flags.reads ?? 0) & this.undef) this.defineFlags();
    return this.emit(encodeModRm(this.address, o), flags);
  }

  /** CMP r64, r64 defines all six arithmetic flags without changing a register. */
  defineFlags(): void {
    const a = this.rng.int(16), b = this.rng.int(16);
    this.undef = 0;
    this.emit(encodeModRm(this.address, { opcode: [0x39], regField: reg(a, 8), rm: reg(b, 8), w: true }), ALL_FLAGS);
  }

  /** MOV r64, imm (sign-extended imm32 when it fits, else imm64). */
  movImm(n: number, value: bigint): void {
    const v = BigInt.asIntN(64, value);
    if (v >= -0x80000000n && v <= 0x7fffffffn) {
      this.emitModRm({ opcode: [0xc7], regField: 0, rm: reg(n, 8), w: true, imm: le(v, 4) });
    } else {
      this.emit([0x48 | (n >= 8 ? 1 : 0), 0xb8 + (n & 7), ...le(v, 8)]);
    }
  }

  /** Register for an operand of `size`; 8-bit picks may be AH..BH when `legacyOk`. */
  gpr(size: OpSize, legacyOk = true, allowRsp = false): RegOp {
    if (size === 1 && legacyOk && this.rng.chance(0.25)) return reg(this.rng.range(4, 7), 1, true);
    const n = allowRsp ? this.rng.int(16) : this.rng.pick(WRITABLE_REGS);
    return reg(n, size);
  }

  /**
   * A memory operand of `size` bytes. Usually inside the data pages (any
   * addressing form); sometimes in the read-only page, the unmapped page or
   * straddling into it, so faults get compared too. Base/index registers are
   * loaded by MOV instructions emitted here, so the address is known.
   */
  mem(size: MemOp['size'], opts: { faults?: boolean; align?: number } = {}): MemOp {
    const r = this.rng;
    const align = opts.align ?? 1;
    let target = DATA + BigInt(Math.floor(r.int(DATA_SIZE - 64) / align) * align);
    if (opts.faults !== false && r.chance(0.04)) {
      target = r.pick([RODATA + BigInt(r.int(4000)), UNMAPPED + BigInt(r.int(4000)),
        DATA + BigInt(DATA_SIZE) - BigInt(r.range(1, size - 1 || 1))]);
    }
    switch (r.int(5)) {
      case 0: return { kind: 'mem', size, disp: Number(target) };
      case 1: return { kind: 'mem', size, disp: 0, ripTarget: target };
      case 2: {
        const base = r.pick(WRITABLE_REGS);
        const disp = r.pick([0, r.range(-128, 127), r.range(-100000, 100000)]);
        this.movImm(base, target - BigInt(disp));
        return { kind: 'mem', size, base, disp };
      }
      case 3: {
        // The stack pointer as base: [rsp + disp] into the stack page.
        const disp = r.range(-0x700, 0x700);
        if (r.chance(0.5)) return { kind: 'mem', size, base: 4, disp: disp & ~(align - 1) };
        return { kind: 'mem', size, disp: Number(target) };
      }
      default: {
        const base = r.pick(WRITABLE_REGS);
        const index = r.pick(WRITABLE_REGS.filter((x) => x !== base));
        const scale = r.pick([1, 2, 4, 8] as const);
        const idxVal = BigInt(r.range(-64, 64));
        const disp = r.pick([0, r.range(-128, 127), r.range(-5000, 5000)]);
        this.movImm(index, idxVal);
        this.movImm(base, target - idxVal * BigInt(scale) - BigInt(disp));
        return { kind: 'mem', size, base, index, scale, disp };
      }
    }
  }

  /** Register or memory operand; memory with probability `pMem`. */
  rm(size: OpSize, pMem = 0.3): RegOp | MemOp {
    return this.rng.chance(pMem) ? this.mem(size) : this.gpr(size);
  }
}

/** Make a register operand legal next to another (AH..BH cannot share an instruction with REX). */
export function compatible(a: RegOp | MemOp, b: RegOp): RegOp {
  const aHigh = a.kind === 'reg' && a.high;
  const aRex = a.kind === 'reg' ? (a.n >= 8 || (a.size === 1 && !a.high && a.n >= 4)) :
    ((a.base ?? 0) >= 8 || (a.index ?? 0) >= 8 || a.size === 8);
  if (aHigh && (b.n >= 8 || (b.size === 1 && !b.high && b.n >= 4))) return { ...b, n: b.n & 3 };
  if (aRex && b.high) return { ...b, high: false, n: b.n & 3 };
  return b;
}


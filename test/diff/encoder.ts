/**
 * A small x86-64 instruction encoder for the differential harness.
 *
 * Only what the generator needs: legacy/REX prefixes, ModRM/SIB with every
 * addressing form (incl. RIP-relative and the RBP/R13/RSP special cases),
 * and immediates. Our own encoder keeps generation fast and deterministic
 * (no assembler process per case).
 */

export type OpSize = 1 | 2 | 4 | 8;

/** A general register. `high` selects AH/CH/DH/BH (n = 4..7, no REX allowed). */
export interface RegOp { kind: 'reg'; n: number; size: OpSize; high?: boolean }

/** A memory operand; `rip` means [rip + disp] where disp is computed to reach `target`. */
export interface MemOp {
  kind: 'mem';
  size: OpSize | 10 | 16;
  base?: number;
  index?: number;
  scale?: 1 | 2 | 4 | 8;
  disp: number;
  /** RIP-relative: absolute address the operand must reach. */
  ripTarget?: bigint;
  /** 0x67 prefix: 32-bit address size. */
  addr32?: boolean;
}

export type RmOp = RegOp | MemOp;

export const reg = (n: number, size: OpSize, high = false): RegOp => ({ kind: 'reg', n, size, high });

/** Names for disassembly-free descriptions of operands. */
const NAMES64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
export function regName(r: RegOp): string {
  if (r.high) return ['ah', 'ch', 'dh', 'bh'][r.n - 4];
  const base = NAMES64[r.n];
  if (r.size === 8) return base;
  if (r.n >= 8) return base + { 1: 'b', 2: 'w', 4: 'd' }[r.size];
  if (r.size === 4) return 'e' + base.slice(1);
  if (r.size === 2) return base.slice(1);
  return ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'][r.n];
}

export interface EncodeOptions {
  /** Mandatory/legacy prefixes emitted before REX (0x66, 0xf2, 0xf3, 0xf0). */
  prefixes?: number[];
  /** Opcode bytes after REX. */
  opcode: number[];
  /** ModRM.reg: a register operand or an opcode extension digit. */
  regField: RegOp | number;
  rm: RmOp;
  /** Set REX.W. */
  w?: boolean;
  /** Immediate bytes, little endian. */
  imm?: number[];
  /** Force a REX prefix even when no bit is set (SPL/BPL/SIL/DIL). */
  forceRex?: boolean;
}

function needsRexFor8(r: RegOp): boolean {
  return r.size === 1 && !r.high && r.n >= 4 && r.n <= 7;
}

/**
 * Encode one ModRM instruction at `address` (needed for RIP-relative
 * operands, whose displacement depends on where the instruction ends).
 */
export function encodeModRm(address: bigint, o: EncodeOptions): number[] {
  const regNum = typeof o.regField === 'number' ? o.regField : o.regField.n;
  const rm = o.rm;
  let rex = 0;
  if (o.w) rex |= 8;
  if (regNum >= 8) rex |= 4;
  let force = o.forceRex ?? false;
  const regs: RegOp[] = [];
  if (typeof o.regField !== 'number') regs.push(o.regField);
  if (rm.kind === 'reg') regs.push(rm);
  for (const r of regs) if (needsRexFor8(r)) force = true;
  const body: number[] = [];
  let dispBytes: number[] = [];
  let ripRel = false;
  if (rm.kind === 'reg') {
    if (rm.n >= 8) rex |= 1;
    body.push(0xc0 | ((regNum & 7) << 3) | (rm.n & 7));
  } else if (rm.ripTarget !== undefined) {
    ripRel = true;
    body.push(0x00 | ((regNum & 7) << 3) | 5);
    dispBytes = [0, 0, 0, 0];
  } else {
    const hasIndex = rm.index !== undefined;
    const base = rm.base;
    if (hasIndex && rm.index! >= 8) rex |= 2;
    if (base !== undefined && base >= 8) rex |= 1;
    let mod: number;
    if (base === undefined) mod = 0;
    else if (rm.disp === 0 && (base & 7) !== 5) mod = 0;
    else if (rm.disp >= -128 && rm.disp <= 127) mod = 1;
    else mod = 2;
    const needSib = hasIndex || base === undefined || (base & 7) === 4;
    if (needSib) {
      body.push((mod << 6) | ((regNum & 7) << 3) | 4);
      const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[rm.scale ?? 1];
      const idx = hasIndex ? rm.index! & 7 : 4;
      const b = base === undefined ? 5 : base & 7;
      body.push((scaleBits << 6) | (idx << 3) | b);
    } else {
      body.push((mod << 6) | ((regNum & 7) << 3) | (base! & 7));
    }
    if (base === undefined || mod === 2) dispBytes = le(rm.disp, 4);
    else if (mod === 1) dispBytes = le(rm.disp, 1);
  }
  const out: number[] = [];
  if (rm.kind === 'mem' && rm.addr32) out.push(0x67);
  out.push(...(o.prefixes ?? []));
  if (rex !== 0 || force) out.push(0x40 | rex);
  out.push(...o.opcode, ...body);
  const dispAt = out.length;
  out.push(...dispBytes, ...(o.imm ?? []));
  if (ripRel && rm.kind === 'mem') {
    const end = address + BigInt(out.length);
    const disp = Number(rm.ripTarget! - end);
    out.splice(dispAt, 4, ...le(disp, 4));
  }
  return out;
}

/** Little-endian bytes of a value (number or bigint), truncated to `n` bytes. */
export function le(value: number | bigint, n: number): number[] {
  let v = BigInt.asUintN(n * 8, BigInt(value));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

/** Operand-size prefix/REX.W for a size, for the common 8/16/32/64 opcode pairs. */
export function sizePrefix(size: OpSize): { prefixes: number[]; w: boolean } {
  return { prefixes: size === 2 ? [0x66] : [], w: size === 8 };
}

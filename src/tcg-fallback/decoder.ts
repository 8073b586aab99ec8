/**
 * The x86 instruction decoder. It turns bytes into a DecodedInstruction: a
 * plain description (opcode id, sizes, prefixes, ModRM operands, immediate,
 * displacement, length) that the interpreter executes and that a future
 * translator can turn into JavaScript source without decoding again.
 */
import {
  hasModrm, immKind, default64, force64,
  IMM_B, IMM_W, IMM_Z, IMM_V, IMM_W_B, IMM_FAR, IMM_MOFFS, IMM_GROUP3,
} from './decoder-tables';
import { CpuException } from './cpu-exception';
import { SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, VEC_GP, VEC_UD } from './cpu-constants';

export const PREFIX_NONE = 0;
export const PREFIX_REP = 0xf3;
export const PREFIX_REPNE = 0xf2;

/** Reads instruction bytes; may throw a CpuException (#PF on fetch). */
export interface CodeReader {
  fetchCodeByte(linear: number): number;
  /**
   * Host bytes of the code page holding `linear` (RAM only), with the
   * offset of `linear` in them; undefined for MMIO. May throw like a fetch.
   */
  codePage(linear: number): Uint8Array | undefined;
  /** Offset set by the last codePage() call. */
  codePageOffset: number;
}

// Decoder cursor, module-level so decoding allocates nothing (no closure per instruction).
let curReader: CodeReader;
let curRip = 0;
let pos = 0;
/** Host bytes of the first code page, the index of the instruction's first byte in them, and how many bytes of it lie in that page. */
let pageBytes: Uint8Array | undefined;
let pageBase = 0;
let pageAvail = 0;

function next(): number {
  if (pos < pageAvail) return (pageBytes as Uint8Array)[pageBase + pos++];
  if (pos >= 15) throw new CpuException(VEC_GP, 0);
  return curReader.fetchCodeByte(curRip + pos++);
}

export class DecodedInstruction {
  /** `map << 8 | byte`: map 0 one-byte, 1 = 0F, 2 = 0F 38, 3 = 0F 3A. */
  opcode = 0;
  length = 0;
  /** Operand size in bytes for non-byte forms: 2, 4 or 8. */
  opSize = 4;
  /** Address size in bytes: 2, 4 or 8. */
  addrSize = 4;
  /** Last of F2/F3 seen, or 0. */
  rep = 0;
  lock = false;
  /** 66 prefix seen (also an SSE mandatory prefix). */
  opsizePrefix = false;
  /** Mandatory SSE prefix: 0, 0x66, 0xf3 or 0xf2 (F2/F3 win over 66). */
  simdPrefix = 0;
  /** Segment override, or -1. */
  segOverride = -1;
  /** REX byte (0x40-0x4f) or 0 when absent. */
  rex = 0;
  mod = 0;
  /** ModRM.reg extended by REX.R. */
  reg = 0;
  /** ModRM.reg as written (0-7), the opcode extension of group instructions. */
  regField = 0;
  /** ModRM.rm extended by REX.B (register operand when mod == 3). */
  rm = 0;
  /** Memory operand: base register or -1. */
  base = -1;
  /** Memory operand: index register or -1. */
  index = -1;
  /** Memory operand: log2 of the scale. */
  scale = 0;
  /** Signed displacement. */
  disp = 0;
  /** RIP-relative: disp is relative to the next instruction. */
  ripRelative = false;
  /** Segment used when there is no override (SS for rBP/rSP bases). */
  defaultSeg = SEG_DS;
  /** Immediate, sign-extended to a signed 32-bit number (or unsigned for IMM_W, moffs low half). */
  imm = 0;
  /** High 32 bits of a 64-bit immediate or moffs. */
  immHi = 0;
  /** Second immediate: ENTER's nesting level, a far pointer's selector. */
  imm2 = 0;

  /** True when ModRM selects memory. */
  get isMemory(): boolean { return this.mod !== 3; }
  /** Segment that a memory operand uses. */
  get segment(): number { return this.segOverride >= 0 ? this.segOverride : this.defaultSeg; }
}

const SEG_PREFIX: Record<number, number> = { 0x26: SEG_ES, 0x2e: SEG_CS, 0x36: SEG_SS, 0x3e: SEG_DS, 0x64: SEG_FS, 0x65: SEG_GS };

/**
 * Decodes the instruction at linear address `rip` into `out`.
 * `codeSize` is the default size of the code segment: 2, 4 or 8 (long mode).
 */
export function decode(reader: CodeReader, rip: number, codeSize: number, out: DecodedInstruction): void {
  const long = codeSize === 8;
  curReader = reader;
  curRip = rip;
  pos = 0;
  pageBytes = reader.codePage(rip);
  if (pageBytes !== undefined) {
    pageBase = reader.codePageOffset;
    pageAvail = Math.min(15, 4096 - (rip & 0xfff));
  } else pageAvail = 0;
  out.rep = 0;
  out.lock = false;
  out.opsizePrefix = false;
  out.simdPrefix = 0;
  out.segOverride = -1;
  out.rex = 0;
  let addrPrefix = false;
  let b = next();
  for (;;) {
    if (b === 0x66) { out.opsizePrefix = true; if (out.simdPrefix === 0) out.simdPrefix = 0x66; }
    else if (b === 0x67) addrPrefix = true;
    else if (b === 0xf2 || b === 0xf3) { out.rep = b; out.simdPrefix = b; }
    else if (b === 0xf0) out.lock = true;
    else if (b in SEG_PREFIX) {
      const seg = SEG_PREFIX[b];
      // In 64-bit mode the ES/CS/SS/DS overrides are ignored.
      if (!long || seg >= SEG_FS) out.segOverride = seg;
    } else break;
    b = next();
  }
  if (long && (b & 0xf0) === 0x40) {
    out.rex = b;
    b = next();
    // A REX prefix followed by another prefix is ignored; rare enough to treat as the usual case.
  }
  let opcode = b;
  if (b === 0x0f) {
    const b2 = next();
    if (b2 === 0x38) opcode = 0x200 | next();
    else if (b2 === 0x3a) opcode = 0x300 | next();
    else opcode = 0x100 | b2;
  }
  out.opcode = opcode;
  const rex = out.rex;
  const rexW = (rex & 8) !== 0;

  if (long) {
    out.addrSize = addrPrefix ? 4 : 8;
    if (rexW) out.opSize = 8;
    else if (force64[opcode]) out.opSize = 8;
    else if (default64[opcode]) out.opSize = out.opsizePrefix ? 2 : 8;
    else out.opSize = out.opsizePrefix ? 2 : 4;
  } else {
    const big = codeSize === 4;
    out.addrSize = big !== addrPrefix ? 4 : 2;
    out.opSize = big !== out.opsizePrefix ? 4 : 2;
  }

  out.mod = 3;
  out.reg = 0;
  out.regField = 0;
  out.rm = 0;
  out.base = -1;
  out.index = -1;
  out.scale = 0;
  out.disp = 0;
  out.ripRelative = false;
  out.defaultSeg = SEG_DS;
  if (hasModrm[opcode]) {
    const modrm = next();
    const mod = modrm >> 6;
    const regField = (modrm >> 3) & 7;
    const rmField = modrm & 7;
    out.mod = mod;
    out.regField = regField;
    out.reg = regField | ((rex & 4) << 1);
    out.rm = rmField | ((rex & 1) << 3);
    if (mod !== 3) {
      if (out.addrSize === 2) {
        decode16BitAddress(out, mod, rmField);
        if (mod === 1) out.disp = (next() << 24) >> 24;
        else if (mod === 2 || (mod === 0 && rmField === 6)) { const lo = next(); out.disp = ((next() << 8 | lo) << 16) >> 16; }
      } else {
        let dispBytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
        if (rmField === 4) {
          const sib = next();
          const scale = sib >> 6;
          const indexField = ((sib >> 3) & 7) | ((rex & 2) << 2);
          const baseField = sib & 7;
          out.scale = scale;
          out.index = indexField === 4 ? -1 : indexField;
          if (baseField === 5 && mod === 0) {
            out.base = -1;
            dispBytes = 4;
          } else {
            out.base = baseField | ((rex & 1) << 3);
          }
        } else if (rmField === 5 && mod === 0) {
          dispBytes = 4;
          if (long) out.ripRelative = true;
        } else {
          out.base = out.rm;
        }
        if (out.base === 4 || out.base === 5) out.defaultSeg = SEG_SS;
        if (dispBytes === 1) out.disp = (next() << 24) >> 24;
        else if (dispBytes === 4) { const d0 = next(); const d1 = next(); const d2 = next(); out.disp = d0 | (d1 << 8) | (d2 << 16) | (next() << 24); }
      }
    }
    if (opcode === 0xff && long) {
      // FF /2 and /4 (near CALL/JMP) are always 64-bit; /6 (PUSH) defaults to 64; the rest are ordinary.
      if (regField === 2 || regField === 4) out.opSize = 8;
      else if (regField !== 6) out.opSize = rexW ? 8 : out.opsizePrefix ? 2 : 4;
    }
  }

  out.imm = 0;
  out.immHi = 0;
  out.imm2 = 0;
  let kind = immKind[opcode];
  if (kind === IMM_GROUP3) kind = out.regField < 2 ? (opcode === 0xf6 ? IMM_B : IMM_Z) : 0;
  switch (kind) {
    case 0: break;
    case IMM_B: out.imm = (next() << 24) >> 24; break;
    case IMM_W: { const lo = next(); out.imm = lo | (next() << 8); break; }
    case IMM_Z:
      if (out.opSize === 2) { const lo = next(); out.imm = ((lo | (next() << 8)) << 16) >> 16; }
      else out.imm = readU32();
      break;
    case IMM_V:
      if (out.opSize === 2) { const lo = next(); out.imm = lo | (next() << 8); }
      else { out.imm = readU32(); if (out.opSize === 8) out.immHi = readU32(); }
      break;
    case IMM_W_B: { const lo = next(); out.imm = lo | (next() << 8); out.imm2 = next(); break; }
    case IMM_FAR:
      if (long) throw new CpuException(VEC_UD, undefined);
      if (out.opSize === 2) { const lo = next(); out.imm = lo | (next() << 8); } else out.imm = readU32() >>> 0;
      { const lo = next(); out.imm2 = lo | (next() << 8); }
      break;
    case IMM_MOFFS:
      if (out.addrSize === 2) { const lo = next(); out.imm = lo | (next() << 8); }
      else { out.imm = readU32() >>> 0; if (out.addrSize === 8) out.immHi = readU32(); }
      break;
  }
  out.length = pos;
}

function readU32(): number {
  const b0 = next(); const b1 = next(); const b2 = next(); const b3 = next();
  return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
}

/** 16-bit ModRM addressing: fixed base/index pairs (SDM vol. 2 table 2-1). */
function decode16BitAddress(out: DecodedInstruction, mod: number, rm: number): void {
  const BX = 3, BP = 5, SI = 6, DI = 7;
  const bases = [BX, BX, BP, BP, SI, DI, BP, BX];
  const indexes = [SI, DI, SI, DI, -1, -1, -1, -1];
  out.base = bases[rm];
  out.index = indexes[rm];
  if (rm === 6 && mod === 0) out.base = -1;
  if (out.base === BP) out.defaultSeg = SEG_SS;
}

/**
 * Translator family: data movement and the narrower or carry-using ALU
 * forms, inline. Returns true when instruction k of the block was emitted
 * (it then falls through to the next instruction).
 *
 * Covered: MOVZX/MOVSX/MOVSXD, CBW/CWDE/CDQE, CWD/CDQ/CQO, CMOVcc, SETcc,
 * 8/16-bit MOV (register, memory, immediate), MOV moffs, ALU at every size including
 * ADC/SBB (00-3D, group 1), TEST (84/85, A8/A9, F6/F7 /0 /1), NOT/NEG,
 * INC/DEC (FE, FF /0 /1, 40-4F outside 64-bit mode), XCHG, LEA at every
 * operand/address size, BT/BTS/BTR/BTC (register and memory), CMPXCHG,
 * XADD, BSF/BSR, POPCNT, BSWAP, CLC/STC/CMC, CLD/STD.
 *
 * Every form mirrors its interpreter handler (ops-integer.ts) step by step:
 * the same operand reads (a memory operand is read even when a CMOV does not
 * move it), the same write-before-read check for read-modify-write, and the
 * same lazy-flags record as aluBinary/aluIncDec, so the two tiers cannot be
 * told apart. Forms codegen.ts emits itself never reach here, but handling
 * them again would be harmless.
 */
import { FLAG_CF, FLAG_DF, FLAG_ZF, SEG_DS } from '../cpu-constants';
import type { DecodedInstruction } from '../decoder';
import { LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, SIZE_MASK } from '../lazy-flags';
import type { Block } from './block';
import { ALU_ADC, ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SBB, ALU_SUB, Emitter, foldCondition } from './emitter';

/** What every form needs to know about instruction k. */
interface Site {
  e: Emitter;
  out: string[];
  i: DecodedInstruction;
  k: number;
  /** Fall-through RIP. */
  next: number;
  /** Last instruction of the block (no early exit needed after a store). */
  last: boolean;
}

export function emitData(e: Emitter, block: Block, k: number): boolean {
  const i = block.insns[k];
  const op = i.opcode;
  const s: Site = { e, out: e.out, i, k, next: block.nexts[k], last: k === block.insns.length - 1 };
  if (op < 0x40) return (op & 7) <= 5 && aluForm(s);
  if (op >= 0x140 && op <= 0x14f) return cmov(s);
  if (op >= 0x190 && op <= 0x19f) return setcc(s);
  if (op >= 0x40 && op <= 0x4f) {
    // INC/DEC r16/r32 exist only outside 64-bit mode (there 40-4F are REX and never reach here).
    if (block.codeSize === 8) return false;
    return incDec(s, (op & 8) !== 0, i.opSize, { reg: op & 7 });
  }
  if (op >= 0x90 && op <= 0x97) return xchgAcc(s);
  if (op >= 0x1c8 && op <= 0x1cf) return bswap(s);
  if (op >= 0xb0 && op <= 0xb7) {
    s.out.push(writeReg(1, (op & 7) | ((i.rex & 1) << 3), i, `${i.imm & 0xff}`, '0'));
    return true;
  }
  if (op >= 0xb8 && op <= 0xbf) {
    const r = (op & 7) | ((i.rex & 1) << 3);
    s.out.push(writeReg(i.opSize, r, i, `${i.imm >>> 0}`, `${i.opSize === 8 ? i.immHi >>> 0 : 0}`));
    return true;
  }
  switch (op) {
    case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: return movExtend(s);
    case 0x63: return block.codeSize === 8 && movsxd(s);
    case 0x98: return convertA(s);
    case 0x99: return convertD(s);
    // 82 is an alias of 80 outside 64-bit mode and #UD in it (the handler raises that).
    case 0x82: if (block.codeSize === 8) return false; return group1(s);
    case 0x80: case 0x81: case 0x83: return group1(s);
    case 0x84: case 0x85: return testRm(s);
    case 0xa8: case 0xa9: {
      const size = byteSize(i);
      alu(s.e, ALU_AND, size, readReg(size, 0, i), size === 8 ? 'hi[0]' : '0', immLo(i, size), immHi(i, size));
      return true;
    }
    case 0x86: case 0x87: return xchg(s);
    case 0x88: case 0x89: case 0x8a: case 0x8b: return mov(s);
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: return movMoffs(s);
    case 0x8d: return lea(s);
    case 0xc6: case 0xc7: return movImm(s);
    case 0xf6: case 0xf7: return group3(s);
    case 0xfe: return i.regField <= 1 && incDec(s, i.regField === 1, 1, 'rm');
    case 0xff: return i.regField <= 1 && incDec(s, i.regField === 1, i.opSize, 'rm');
    case 0x1a3: return bitTest(s, 0, false);
    case 0x1ab: return bitTest(s, 1, false);
    case 0x1b3: return bitTest(s, 2, false);
    case 0x1bb: return bitTest(s, 3, false);
    case 0x1ba: return i.regField >= 4 && bitTest(s, i.regField - 4, true);
    case 0x1b0: case 0x1b1: return cmpxchg(s);
    case 0x1bc: return bitScan(s, false);
    // F3 0F BD is LZCNT (other flags, other result): the handler's.
    case 0x1bd: return i.rep !== 0xf3 && bitScan(s, true);
    case 0x1b8: return i.rep === 0xf3 && popcnt(s);
    // CLC/STC/CMC go through the eager flags as the handlers do; CLD/STD touch only DF.
    case 0xf8: s.out.push(`f.setEager(f.arith() & ~${FLAG_CF});`); e.known = undefined; return true;
    case 0xf9: s.out.push(`f.setEager(f.arith() | ${FLAG_CF});`); e.known = undefined; return true;
    case 0xf5: s.out.push(`f.setEager(f.arith() ^ ${FLAG_CF});`); e.known = undefined; return true;
    case 0xfc: s.out.push(`cpu.eflagsSys &= ~${FLAG_DF};`); return true;
    case 0xfd: s.out.push(`cpu.eflagsSys |= ${FLAG_DF};`); return true;
    case 0x1c0: case 0x1c1: return xadd(s);
    default: return false;
  }
}

// ---------------------------------------------------------------- operands

function byteSize(i: DecodedInstruction): number {
  return (i.opcode & 1) === 0 ? 1 : i.opSize;
}

/** Byte registers 4-7 without a REX prefix are AH, CH, DH, BH (the second byte of registers 0-3), as in Cpu.getReg. */
function isHighByte(r: number, i: DecodedInstruction | undefined): boolean {
  return r >= 4 && r < 8 && (i === undefined || i.rex === 0);
}

/** Register `r` read at `size` bytes as an unsigned, masked expression (the low half for 8 bytes). */
function readReg(size: number, r: number, i: DecodedInstruction | undefined): string {
  switch (size) {
    case 1: return isHighByte(r, i) ? `((lo[${r - 4}] >>> 8) & 255)` : `(lo[${r}] & 255)`;
    case 2: return `(lo[${r}] & 65535)`;
    default: return `lo[${r}]`;
  }
}

/** A statement writing `v` (and `vh` for 8 bytes) to register `r` with Cpu.setReg's merging: narrow writes keep the rest, 32-bit writes clear the high half. */
function writeReg(size: number, r: number, i: DecodedInstruction | undefined, v: string, vh: string): string {
  switch (size) {
    case 1:
      return isHighByte(r, i)
        ? `lo[${r - 4}] = (lo[${r - 4}] & 0xffff00ff) | ((${v} & 255) << 8);`
        : `lo[${r}] = (lo[${r}] & 0xffffff00) | (${v} & 255);`;
    case 2: return `lo[${r}] = (lo[${r}] & 0xffff0000) | (${v} & 65535);`;
    case 4: return `lo[${r}] = ${v}; hi[${r}] = 0;`;
    default: return `lo[${r}] = ${v}; hi[${r}] = ${vh};`;
  }
}

/** The immediate truncated to the operand size (immLo in ops-integer) and its sign-extended high half at 8 bytes (immHi). */
function immLo(i: DecodedInstruction, size: number): string {
  return `${(i.imm & SIZE_MASK[size]) >>> 0}`;
}
function immHi(i: DecodedInstruction, size: number): string {
  return size === 8 && i.imm < 0 ? '4294967295' : '0';
}

/** The memory operand's effective address: inline for 32/64-bit addressing, the interpreter's for 16-bit (it reads nextRip, set by precise()). */
function effectiveAddress(s: Site): string {
  return s.e.ea(s.i, s.next) ?? `cpu.effectiveAddress(ins[${s.k}])`;
}

/** Stops the block after a store when the store dropped it (it hit a page holding cached code); the last instruction returns anyway. */
function afterStore(s: Site): void {
  if (!s.last) s.out.push(`if (!b.valid) { cpu.rip = ${s.next}; return n + ${s.k + 1}; }`);
}

/**
 * Reads the r/m operand (readRm): the register, or a load through the TLB
 * path. Returns local names (high half '0'-valued below 8 bytes). The
 * caller has emitted precise() for a memory operand.
 */
function readRm(s: Site, size: number): [string, string] {
  const { e, i } = s;
  if (i.mod !== 3) return e.load(i.segment, effectiveAddress(s), size);
  const v = e.fresh(), vh = e.fresh();
  s.out.push(`const ${v} = ${readReg(size, i.rm, i)}, ${vh} = ${size === 8 ? `hi[${i.rm}]` : '0'};`);
  return [v, vh];
}

/** A read-modify-write operand: its current value and how to write the new one back. */
interface Rmw { v: string; vh: string; write(r: string, rh: string): void }

/**
 * Opens a read-modify-write of the r/m operand as readRmForWrite does: for
 * memory the write permission is checked (and may fault) before the read,
 * so a fault leaves nothing half done. The caller emits afterStore() once
 * every register the instruction writes is written.
 *
 * In 64-bit code (any data segment; FS/GS add their base), a hit in the TLB's write tags on
 * a RAM page without cached code (the conditions of Emitter.store's fast
 * path) reads and writes the host view directly: such a hit proves the
 * write cannot fault, and a writable page is readable. Anything else takes
 * the interpreter's calls (cpu.linear, probeWrite, readLinear, writeLinear).
 */
function openRmw(s: Site, size: number): Rmw {
  const { i, out } = s;
  if (i.mod === 3) {
    const [v, vh] = readRm(s, size);
    return { v, vh, write: (r, rh) => out.push(writeReg(size, i.rm, i, r, rh)) };
  }
  return openMemoryRmw(s, size, i.segment, effectiveAddress(s));
}

/** openRmw's memory half for a given segment and offset expression (BTS/BTR/BTC address another element). */
function openMemoryRmw(s: Site, size: number, seg: number, offset: string): Rmw {
  const { e, out } = s;
  const lin = e.fresh(), v = e.fresh(), vh = e.fresh();
  const slowRead = `${lin} = cpu.linear(${seg}, ${'$A'}, ${size}, true); cpu.probeWrite(${lin}, ${size}); ` +
    `${v} = cpu.readLinear(${lin}, ${size}); ${vh} = ${size === 8 ? 'cpu.vhi' : '0'};`;
  const slowWrite = (r: string, rh: string): string => `cpu.writeLinear(${lin}, ${size}, ${r}, ${size === 8 ? rh : '0'});`;
  const a = e.fresh();
  out.push(`const ${a} = ${offset}; let ${lin} = 0, ${v}, ${vh};`);
  e.aliasAddress(a, offset);
  // 64-bit code: the linear address is the offset, or the offset plus the FS/GS base (per-CPU variables).
  const l = s.e.block.codeSize === 8 ? e.linearOf(seg, a) : undefined;
  const path = l === undefined ? undefined : e.inlinePath(seg, l, size);
  if (path === undefined) {
    out.push(slowRead.replace('$A', a));
    return { v, vh, write: (r, rh) => out.push(slowWrite(r, rh)) };
  }
  const vpn = e.fresh(), idx = e.fresh(), view = e.fresh(), p = e.fresh();
  const get = size === 1 ? `${view}.getUint8(${p})` : size === 2 ? `${view}.getUint16(${p}, true)` : `${view}.getUint32(${p}, true)`;
  out.push(`let ${view}, ${p} = -1;`,
    `if (${path.inPage}) {`,
    `const ${vpn} = ${path.vpn}, ${idx} = ${e.tlbBase()} + ${path.slot}; ${view} = T.views[${idx}];`,
    `if (T.tagWrite[${idx}] === ${vpn} && ${view} !== undefined && CP[T.physPages[${idx}] / 4096] !== 1) ${p} = T.offsets[${idx}] + ${path.offset}; }`,
    `if (${p} >= 0) { ${v} = ${get}; ${vh} = ${size === 8 ? `${view}.getUint32(${p} + 4, true)` : '0'}; } else { ${slowRead.replace('$A', a)} }`);
  const set = (r: string, rh: string): string => {
    switch (size) {
      case 1: return `${view}.setUint8(${p}, ${r});`;
      case 2: return `${view}.setUint16(${p}, ${r}, true);`;
      case 4: return `${view}.setUint32(${p}, ${r} >>> 0, true);`;
      default: return `${view}.setUint32(${p}, ${r} >>> 0, true); ${view}.setUint32(${p} + 4, ${rh} >>> 0, true);`;
    }
  };
  return { v, vh, write: (r, rh) => out.push(`if (${p} >= 0) { ${set(r, rh)} } else ${slowWrite(r, rh)}`) };
}

// ---------------------------------------------------------------- flags

/**
 * e.record, then marks a byte or word result as such: foldCondition then
 * takes the sign from bit 7 or 15 and sign-extends operands from 8 or 16 bits.
 */
function record(e: Emitter, op: number, size: number, r: string, rh: string, a: string, ah: string, b: string, bh: string, cin: string): void {
  // Below 64 bits the high halves passed are '0' (as aluBinary records them): e.record stores them
  // for ADC/SBB, whose LazyFlags.cf() compares them at every size.
  e.record(op, size, r, rh, a, ah, b, bh, cin);
  if (size < 4 && e.known !== undefined) e.known.size = size;
}

/** Condition code `cc` as a JS boolean expression: folded from the last known result when codegen's Jcc would fold it, else the lazy flags. */
function condition(e: Emitter, cc: number): string {
  const known = e.known;
  if (known === undefined) return `f.condition(${cc})`;
  if (cc === 4 || cc === 5) {
    const z = known.hi === undefined ? `${known.lo} === 0` : `(${known.lo} === 0 && ${known.hi} === 0)`;
    return cc === 4 ? `(${z})` : `!(${z})`;
  }
  const folded = foldCondition(cc, known);
  return folded === undefined ? `f.condition(${cc})` : `(${folded})`;
}

/**
 * `a op b` at `size` bytes with aluBinary's arithmetic and lazy record
 * (ADC/SBB read CF before recording). Inputs are unsigned and already
 * masked to the size. Returns the result's local names (high half '0'
 * below 8 bytes).
 */
function alu(e: Emitter, op: number, size: number, a: string, ah: string, b: string, bh: string): [string, string] {
  const out = e.out;
  const av = e.fresh(), bv = e.fresh(), r = e.fresh();
  let cin = '0';
  if (op === ALU_ADC || op === ALU_SBB) {
    cin = e.fresh();
    out.push(`const ${cin} = ${e.knownCarry() ?? 'f.cf() ? 1 : 0'};`);
  }
  const carry = cin === '0' ? '' : ` + ${cin}`, borrow = cin === '0' ? '' : ` - ${cin}`;
  const arith = op === ALU_ADD || op === ALU_ADC ? (op === ALU_ADD ? LAZY_ADD : LAZY_ADC)
    : op === ALU_SUB || op === ALU_CMP ? LAZY_SUB : op === ALU_SBB ? LAZY_SBB : LAZY_LOGIC;
  const add = arith === LAZY_ADD || arith === LAZY_ADC;
  const logic = op === ALU_AND ? '&' : op === ALU_OR ? '|' : '^';
  if (size !== 8) {
    const mask = SIZE_MASK[size];
    out.push(`const ${av} = ${a}, ${bv} = ${b};`);
    if (arith === LAZY_LOGIC) {
      out.push(`const ${r} = ((${av} ${logic} ${bv}) & ${mask}) >>> 0;`);
      record(e, LAZY_LOGIC, size, r, '0', '0', '0', '0', '0', '0');
    } else {
      out.push(`const ${r} = ((${av} ${add ? '+' : '-'} ${bv}${add ? carry : borrow}) & ${mask}) >>> 0;`);
      record(e, arith, size, r, '0', av, '0', bv, '0', cin);
    }
    return [r, '0'];
  }
  const avh = e.fresh(), bvh = e.fresh(), rh = e.fresh(), t = e.fresh();
  out.push(`const ${av} = ${a}, ${avh} = ${ah}, ${bv} = ${b}, ${bvh} = ${bh};`);
  if (arith === LAZY_LOGIC) {
    out.push(`const ${r} = (${av} ${logic} ${bv}) >>> 0, ${rh} = (${avh} ${logic} ${bvh}) >>> 0;`);
    record(e, LAZY_LOGIC, 8, r, rh, '0', '0', '0', '0', '0');
  } else if (add) {
    out.push(`const ${t} = ${av} + ${bv}${carry}; const ${r} = ${t} >>> 0; const ${rh} = (${avh} + ${bvh} + (${t} >= 4294967296 ? 1 : 0)) >>> 0;`);
    record(e, arith, 8, r, rh, av, avh, bv, bvh, cin);
  } else {
    out.push(`const ${t} = ${av} - ${bv}${borrow}; const ${r} = ${t} >>> 0; const ${rh} = (${avh} - ${bvh} - (${t} < 0 ? 1 : 0)) >>> 0;`);
    record(e, arith, 8, r, rh, av, avh, bv, bvh, cin);
  }
  return [r, rh];
}

// ---------------------------------------------------------------- ALU forms

/** 00-3D: ALU r/m, reg (bit 1 clear), reg, r/m (bit 1 set), accumulator, imm (04/05 + 8n). */
function aluForm(s: Site): boolean {
  const { e, i, out } = s;
  const op = i.opcode;
  const aluOp = (op >> 3) & 7;
  const size = byteSize(i);
  const hiOf = (r: number): string => (size === 8 ? `hi[${r}]` : '0');
  if ((op & 7) >= 4) {
    const [r, rh] = alu(e, aluOp, size, readReg(size, 0, i), hiOf(0), immLo(i, size), immHi(i, size));
    if (aluOp !== ALU_CMP) out.push(writeReg(size, 0, i, r, rh));
    return true;
  }
  if (i.mod !== 3) out.push(e.precise(s.k));
  if ((op & 2) !== 0) {
    const [b, bh] = readRm(s, size);
    const [r, rh] = alu(e, aluOp, size, readReg(size, i.reg, i), hiOf(i.reg), b, bh);
    if (aluOp !== ALU_CMP) out.push(writeReg(size, i.reg, i, r, rh));
    return true;
  }
  return aluRm(s, aluOp, size, readReg(size, i.reg, i), hiOf(i.reg));
}

/** ALU with the r/m operand as destination (CMP only reads it). precise() is already out for memory. */
function aluRm(s: Site, aluOp: number, size: number, b: string, bh: string): boolean {
  const { e, i, out } = s;
  if (aluOp === ALU_CMP) {
    const [a, ah] = readRm(s, size);
    alu(e, aluOp, size, a, ah, b, bh);
    return true;
  }
  // Source register first: the destination write below may be the same register.
  const bv = e.fresh(), bvh = e.fresh();
  out.push(`const ${bv} = ${b}, ${bvh} = ${bh};`);
  const m = openRmw(s, size);
  const [r, rh] = alu(e, aluOp, size, m.v, m.vh, bv, bvh);
  m.write(r, rh);
  if (i.mod !== 3) afterStore(s);
  return true;
}

/** Group 1 (80, 81, 82, 83): ALU r/m, imm. */
function group1(s: Site): boolean {
  const i = s.i;
  const size = i.opcode === 0x80 || i.opcode === 0x82 ? 1 : i.opSize;
  if (i.mod !== 3) s.out.push(s.e.precise(s.k));
  return aluRm(s, i.regField, size, immLo(i, size), immHi(i, size));
}

/** TEST r/m, reg (84, 85): an AND that writes only flags. */
function testRm(s: Site): boolean {
  const { e, i } = s;
  const size = byteSize(i);
  if (i.mod !== 3) s.out.push(e.precise(s.k));
  const [a, ah] = readRm(s, size);
  alu(e, ALU_AND, size, a, ah, readReg(size, i.reg, i), size === 8 ? `hi[${i.reg}]` : '0');
  return true;
}

/** Group 3 (F6, F7): TEST r/m, imm, NOT, NEG; MUL/DIV stay with the handler. */
function group3(s: Site): boolean {
  const { e, i, out } = s;
  const size = byteSize(i);
  const f = i.regField;
  if (f > 3) return false;
  if (i.mod !== 3) out.push(e.precise(s.k));
  if (f <= 1) {
    const [a, ah] = readRm(s, size);
    alu(e, ALU_AND, size, a, ah, immLo(i, size), immHi(i, size));
    return true;
  }
  const m = openRmw(s, size);
  if (f === 2) {
    // NOT changes no flags, so a known result before it stays valid.
    const r = e.fresh(), rh = e.fresh();
    out.push(`const ${r} = (~${m.v} & ${SIZE_MASK[size]}) >>> 0, ${rh} = ${size === 8 ? `~${m.vh} >>> 0` : '0'};`);
    m.write(r, rh);
  } else {
    const [r, rh] = alu(e, ALU_SUB, size, '0', '0', m.v, m.vh);
    m.write(r, rh);
  }
  if (i.mod !== 3) afterStore(s);
  return true;
}

/** INC/DEC (aluIncDec: CF is preserved through `cin`) of a register (40-4F) or the r/m operand (FE, FF /0 /1). */
function incDec(s: Site, dec: boolean, size: number, target: 'rm' | { reg: number }): boolean {
  const { e, i, out } = s;
  if (target === 'rm' && i.mod !== 3) out.push(e.precise(s.k));
  let m: Rmw;
  if (target === 'rm') m = openRmw(s, size);
  else {
    const reg = target.reg, v = e.fresh();
    out.push(`const ${v} = ${readReg(size, reg, undefined)};`);
    m = { v, vh: '0', write: (r, rh) => out.push(writeReg(size, reg, undefined, r, rh)) };
  }
  const cf = e.fresh(), r = e.fresh(), sign = dec ? '-' : '+';
  out.push(`const ${cf} = ${e.knownCarry() ?? 'f.cf() ? 1 : 0'};`);
  let rh = '0';
  if (size === 8) {
    const t = e.fresh();
    rh = e.fresh();
    out.push(`const ${t} = ${m.v} ${sign} 1; const ${r} = ${t} >>> 0; const ${rh} = (${m.vh} + (${t} >= 4294967296 ? 1 : ${t} < 0 ? -1 : 0)) >>> 0;`);
  } else out.push(`const ${r} = ((${m.v} ${sign} 1) & ${SIZE_MASK[size]}) >>> 0;`);
  record(e, dec ? LAZY_DEC : LAZY_INC, size, r, rh, m.v, size === 8 ? m.vh : '0', '1', '0', cf);
  m.write(r, rh);
  if (target === 'rm' && i.mod !== 3) afterStore(s);
  return true;
}

/**
 * CMPXCHG r/m, reg (0F B0/B1): flags of CMP accumulator, destination; equal
 * stores the source, unequal loads the accumulator. A memory destination is
 * written either way (a locked cycle always writes); a register one is left
 * alone when unequal (so a 32-bit one keeps its high half), as the handler does.
 */
function cmpxchg(s: Site): boolean {
  const { e, i, out } = s;
  const size = byteSize(i);
  if (i.mod !== 3) out.push(e.precise(s.k));
  const m = openRmw(s, size);
  const [r, rh] = alu(e, ALU_CMP, size, readReg(size, 0, i), size === 8 ? 'hi[0]' : '0', m.v, m.vh);
  const src = e.fresh(), srch = e.fresh();
  out.push(`const ${src} = ${readReg(size, i.reg, i)}, ${srch} = ${size === 8 ? `hi[${i.reg}]` : '0'};`);
  out.push(`if (${size === 8 ? `${r} === 0 && ${rh} === 0` : `${r} === 0`}) {`);
  m.write(src, srch);
  out.push('} else {');
  if (i.mod !== 3) m.write(m.v, m.vh);
  out.push(writeReg(size, 0, undefined, m.v, m.vh), '}');
  if (i.mod !== 3) afterStore(s);
  return true;
}

/** XADD r/m, reg (0F C0/C1): the sum to the destination, its old value to the source register (with one register for both, the sum is what stays). */
function xadd(s: Site): boolean {
  const { e, i, out } = s;
  const size = byteSize(i);
  if (i.mod !== 3) out.push(e.precise(s.k));
  const m = openRmw(s, size);
  const [r, rh] = alu(e, ALU_ADD, size, m.v, m.vh, readReg(size, i.reg, i), size === 8 ? `hi[${i.reg}]` : '0');
  if (i.mod === 3) {
    out.push(writeReg(size, i.reg, i, m.v, m.vh));
    m.write(r, rh);
    return true;
  }
  m.write(r, rh);
  out.push(writeReg(size, i.reg, i, m.v, m.vh));
  afterStore(s);
  return true;
}

// ---------------------------------------------------------------- moves

/** MOV 88-8B at any size (codegen takes the 32/64-bit ones). */
function mov(s: Site): boolean {
  const { e, i, out } = s;
  const size = byteSize(i);
  const toRm = (i.opcode & 2) === 0;
  if (i.mod === 3) {
    const [d, src] = toRm ? [i.rm, i.reg] : [i.reg, i.rm];
    const v = e.fresh();
    out.push(`const ${v} = ${readReg(size, src, i)};`);
    out.push(writeReg(size, d, i, v, size === 8 ? `hi[${src}]` : '0'));
    return true;
  }
  out.push(e.precise(s.k));
  if (toRm) {
    const v = e.fresh(), vh = e.fresh();
    out.push(`const ${v} = ${readReg(size, i.reg, i)}, ${vh} = ${size === 8 ? `hi[${i.reg}]` : '0'};`);
    e.store(i.segment, effectiveAddress(s), size, v, vh);
    afterStore(s);
  } else {
    const [v, vh] = e.load(i.segment, effectiveAddress(s), size);
    out.push(writeReg(size, i.reg, i, v, vh));
  }
  return true;
}

/** MOV between the accumulator and an absolute offset (A0-A3): the offset is a constant, DS unless overridden. */
function movMoffs(s: Site): boolean {
  const { e, i, out } = s;
  const size = byteSize(i);
  const offset = i.addrSize === 8 ? (i.immHi | 0) * 4294967296 + (i.imm >>> 0) : i.imm >>> 0;
  const seg = i.segOverride >= 0 ? i.segOverride : SEG_DS;
  out.push(e.precise(s.k));
  if ((i.opcode & 2) === 0) {
    const [v, vh] = e.load(seg, `${offset}`, size);
    out.push(writeReg(size, 0, undefined, v, vh));
    return true;
  }
  const v = e.fresh(), vh = e.fresh();
  out.push(`const ${v} = ${readReg(size, 0, undefined)}, ${vh} = ${size === 8 ? 'hi[0]' : '0'};`);
  e.store(seg, `${offset}`, size, v, vh);
  afterStore(s);
  return true;
}

/** MOV r/m, imm (C6 /0, C7 /0); other /n are #UD, left to the handler. */
function movImm(s: Site): boolean {
  const { e, i, out } = s;
  if (i.regField !== 0) return false;
  const size = byteSize(i);
  if (i.mod === 3) { out.push(writeReg(size, i.rm, i, immLo(i, size), immHi(i, size))); return true; }
  out.push(e.precise(s.k));
  e.store(i.segment, effectiveAddress(s), size, immLo(i, size), immHi(i, size));
  afterStore(s);
  return true;
}

/** MOVZX/MOVSX (0F B6/B7/BE/BF) from a byte or word into a 16/32/64-bit register. */
function movExtend(s: Site): boolean {
  const { e, i, out } = s;
  const src = (i.opcode & 1) === 0 ? 1 : 2;
  const signed = i.opcode >= 0x1be;
  if (i.mod !== 3) out.push(e.precise(s.k));
  const [raw] = readRm(s, src);
  if (!signed) { out.push(writeReg(i.opSize, i.reg, i, raw, '0')); return true; }
  const v = e.fresh(), shift = src === 1 ? 24 : 16;
  // A signed 32-bit value: its low bits are the narrow results, its sign (v >> 31) the high half.
  out.push(`const ${v} = (${raw} << ${shift}) >> ${shift};`);
  out.push(writeReg(i.opSize, i.reg, i, `(${v} >>> 0)`, `(${v} >> 31)`));
  return true;
}

/** MOVSXD (63 in 64-bit mode): sign-extends with REX.W, otherwise a plain 32/16-bit move as the handler does. */
function movsxd(s: Site): boolean {
  const { e, i, out } = s;
  if (i.mod !== 3) out.push(e.precise(s.k));
  const [v] = readRm(s, 4);
  out.push(writeReg(i.opSize, i.reg, i, v, `((${v} | 0) >> 31)`));
  return true;
}

/** CBW/CWDE/CDQE (98): sign-extends the accumulator's lower half into itself. */
function convertA(s: Site): boolean {
  switch (s.i.opSize) {
    case 2: s.out.push(writeReg(2, 0, undefined, '((lo[0] << 24) >> 24)', '0')); break;
    case 4: s.out.push(writeReg(4, 0, undefined, '(((lo[0] << 16) >> 16) >>> 0)', '0')); break;
    default: s.out.push('hi[0] = (lo[0] | 0) >> 31;');
  }
  return true;
}

/** CWD/CDQ/CQO (99): fills rDX with the accumulator's sign. */
function convertD(s: Site): boolean {
  switch (s.i.opSize) {
    case 2: s.out.push(writeReg(2, 2, undefined, '((lo[0] & 0x8000) !== 0 ? 65535 : 0)', '0')); break;
    case 4: s.out.push(writeReg(4, 2, undefined, '(((lo[0] | 0) >> 31) >>> 0)', '0')); break;
    default: { const v = s.e.fresh(); s.out.push(`const ${v} = (hi[0] | 0) >> 31; lo[2] = ${v}; hi[2] = ${v};`); }
  }
  return true;
}

/** CMOVcc: the source is read (and may fault) whatever the condition; a false 32-bit CMOV still zero-extends. */
function cmov(s: Site): boolean {
  const { e, i, out } = s;
  const size = i.opSize;
  if (i.mod !== 3) out.push(e.precise(s.k));
  const [v, vh] = readRm(s, size);
  const cond = condition(e, i.opcode & 0xf);
  out.push(`if (${cond}) { ${writeReg(size, i.reg, i, v, vh)} }${size === 4 ? ` else hi[${i.reg}] = 0;` : ''}`);
  return true;
}

/** SETcc r/m8. */
function setcc(s: Site): boolean {
  const { e, i, out } = s;
  if (i.mod !== 3) out.push(e.precise(s.k));
  const v = e.fresh();
  out.push(`const ${v} = ${condition(e, i.opcode & 0xf)} ? 1 : 0;`);
  if (i.mod === 3) { out.push(writeReg(1, i.rm, i, v, '0')); return true; }
  e.store(i.segment, effectiveAddress(s), 1, v, '0');
  afterStore(s);
  return true;
}

/** XCHG r/m, reg (86, 87): memory is a read-modify-write (the lock is implicit and meaningless to one vCPU). */
function xchg(s: Site): boolean {
  const { e, i, out } = s;
  const size = byteSize(i);
  if (i.mod !== 3) out.push(e.precise(s.k));
  const m = openRmw(s, size);
  const b = e.fresh(), bh = e.fresh();
  out.push(`const ${b} = ${readReg(size, i.reg, i)}, ${bh} = ${size === 8 ? `hi[${i.reg}]` : '0'};`);
  m.write(b, bh);
  out.push(writeReg(size, i.reg, i, m.v, m.vh));
  if (i.mod !== 3) afterStore(s);
  return true;
}

/** XCHG rAX, r (90+r); 90 itself (also PAUSE) does nothing, as in the handler. */
function xchgAcc(s: Site): boolean {
  const { e, i, out } = s;
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  if (r === 0) return i.rep !== 0xf3; // NOP inline; PAUSE goes to the handler (it may yield the slice)
  const size = i.opSize;
  const a = e.fresh(), ah = e.fresh(), b = e.fresh(), bh = e.fresh();
  out.push(`const ${a} = ${readReg(size, 0, undefined)}, ${ah} = hi[0], ${b} = ${readReg(size, r, undefined)}, ${bh} = hi[${r}];`);
  out.push(writeReg(size, 0, undefined, b, bh), writeReg(size, r, undefined, a, ah));
  return true;
}

/**
 * LEA at any operand and address size: the address's exact halves (as
 * Cpu.effectiveAddress leaves in eaLo/eaHi; the emitter's ea() returns one
 * number, exact only up to 2^53) truncated to the operand size.
 */
function lea(s: Site): boolean {
  const { e, i, out } = s;
  if (i.mod === 3) return false; // #UD from the handler
  let l: string, h: string;
  if (i.addrSize === 8 && !i.ripRelative) {
    l = e.fresh(); h = e.fresh();
    let lo = `${i.disp >>> 0}`, hi = `${i.disp < 0 ? -1 : 0}`;
    if (i.base >= 0) { lo += ` + lo[${i.base}]`; hi += ` + hi[${i.base}]`; }
    if (i.index >= 0) { lo += ` + lo[${i.index}] * ${1 << i.scale}`; hi += ` + hi[${i.index}] * ${1 << i.scale}`; }
    out.push(`const ${l} = ${lo}; const ${h} = ((${hi} + ((${l} / 4294967296) | 0)) | 0) >>> 0;`);
    l = `(${l} >>> 0)`;
  } else if (i.ripRelative) {
    // RIP-relative: a constant. With a 67 prefix the sum is truncated to 32 bits (as effectiveAddress does).
    const v = s.next + i.disp;
    if (i.addrSize === 8) { l = `${v >>> 0}`; h = `${Math.floor(v / 4294967296) >>> 0}`; } else { l = `${v >>> 0}`; h = '0'; }
  } else {
    const ea = e.ea32(i);
    if (ea !== undefined) { l = ea; h = '0'; } else {
      // 16-bit addressing: the interpreter's computation (reads only registers).
      out.push(`cpu.effectiveAddress(ins[${s.k}]);`);
      l = 'cpu.eaLo'; h = '0';
    }
  }
  const v = e.fresh();
  out.push(`const ${v} = ${l};`);
  out.push(writeReg(i.opSize, i.reg, i, v, h));
  return true;
}

// ---------------------------------------------------------------- bit tests

/**
 * BT/BTS/BTR/BTC (op 0-3) with a register destination: CF is the selected
 * bit, the other flags are kept (setCarryKeepOthers makes them eager), and
 * BTS/BTR/BTC write the register back at the operand size.
 */
function bitTest(s: Site, op: number, imm: boolean): boolean {
  const { e, i, out } = s;
  if (i.mod !== 3) return bitTestMemory(s, op, imm);
  const size = i.opSize, r = i.rm;
  const bits = size * 8;
  const bit = e.fresh(), word = e.fresh(), mask = e.fresh(), fl = e.fresh();
  out.push(`const ${bit} = ${imm ? `${i.imm & (bits - 1)}` : `${readReg(size, i.reg, i)} & ${bits - 1}`};`);
  const inHi = size === 8 ? `${bit} >= 32` : 'false';
  out.push(`const ${word} = ${size === 8 ? `${inHi} ? hi[${r}] : lo[${r}]` : readReg(size, r, i)}, ${mask} = (1 << (${bit} & 31)) >>> 0;`);
  out.push(`const ${fl} = f.arith(); f.setEager((${word} & ${mask}) !== 0 ? ${fl} | 1 : ${fl} & ~1);`);
  e.known = undefined;
  if (op === 0) return true;
  const nw = e.fresh();
  out.push(`const ${nw} = (${op === 1 ? `${word} | ${mask}` : op === 2 ? `${word} & ~${mask}` : `${word} ^ ${mask}`}) >>> 0;`);
  if (size === 8) out.push(`if (${inHi}) hi[${r}] = ${nw}; else lo[${r}] = ${nw};`);
  else out.push(writeReg(size, r, i, nw, '0'));
  return true;
}

/**
 * BT/BTS/BTR/BTC on memory, as bitTestReg/bitTestMemory: a register bit
 * offset is signed and selects the operand-sized element holding the bit
 * (so it may address far from the operand); an immediate one stays inside
 * the operand. The access is operand-sized at that element, checked for
 * writing first when the bit is changed.
 */
function bitTestMemory(s: Site, op: number, imm: boolean): boolean {
  const { e, i, out } = s;
  const size = i.opSize, bits = size * 8;
  out.push(e.precise(s.k));
  const ea = effectiveAddress(s);
  const addr = e.fresh(), bit = e.fresh();
  if (imm) {
    out.push(`const ${addr} = ${ea}, ${bit} = ${i.imm & (bits - 1)};`);
  } else {
    const so = e.fresh(), el = e.fresh(), at = e.fresh();
    const r = i.reg;
    const signed = size === 8 ? `(hi[${r}] | 0) * 4294967296 + lo[${r}]` : size === 4 ? `lo[${r}] | 0` : `(lo[${r}] << 16) >> 16`;
    out.push(`const ${so} = ${signed}, ${el} = Math.floor(${so} / ${bits}), ${at} = ${ea} + ${el} * ${size};`);
    const wrapped = i.addrSize === 8 ? at : i.addrSize === 4 ? `${at} >>> 0` : `${at} & 65535`;
    out.push(`const ${addr} = ${wrapped}, ${bit} = ${so} - ${el} * ${bits};`);
  }
  let lo: string, hi: string, m: Rmw | undefined;
  if (op === 0) [lo, hi] = e.load(i.segment, addr, size);
  else { m = openMemoryRmw(s, size, i.segment, addr); lo = m.v; hi = m.vh; }
  const inHi = e.fresh(), word = e.fresh(), mask = e.fresh(), fl = e.fresh();
  out.push(`const ${inHi} = ${size === 8 ? `${bit} >= 32` : 'false'}, ${word} = ${inHi} ? ${hi} : ${lo}, ${mask} = (1 << (${bit} & 31)) >>> 0;`);
  out.push(`const ${fl} = f.arith(); f.setEager((${word} & ${mask}) !== 0 ? ${fl} | 1 : ${fl} & ~1);`);
  e.known = undefined;
  if (m === undefined) return true;
  const nw = e.fresh();
  out.push(`const ${nw} = (${op === 1 ? `${word} | ${mask}` : op === 2 ? `${word} & ~${mask}` : `${word} ^ ${mask}`}) >>> 0;`);
  m.write(`(${inHi} ? ${lo} : ${nw})`, `(${inHi} ? ${nw} : ${hi})`);
  afterStore(s);
  return true;
}

// ---------------------------------------------------------------- bit scans, byte swap

/**
 * BSF/BSR (0F BC/BD without F3 on BD): ZF alone says the source was zero
 * (the handler's eager flags), and then the destination is left unchanged,
 * not even zero-extended.
 */
function bitScan(s: Site, reverse: boolean): boolean {
  const { e, i, out } = s;
  const size = i.opSize;
  if (i.mod !== 3) out.push(e.precise(s.k));
  const [v, vh] = readRm(s, size);
  const idx = e.fresh();
  let expr: string;
  if (reverse) {
    expr = `${v} !== 0 ? 31 - Math.clz32(${v}) : -1`;
    if (size === 8) expr = `${vh} !== 0 ? 63 - Math.clz32(${vh}) : ${expr}`;
  } else {
    expr = size === 8 ? `${vh} !== 0 ? 63 - Math.clz32(${vh} & -${vh}) : -1` : '-1';
    expr = `${v} !== 0 ? 31 - Math.clz32(${v} & -${v}) : ${expr}`;
  }
  out.push(`const ${idx} = ${expr};`);
  out.push(`if (${idx} < 0) f.setEager(${FLAG_ZF}); else { f.setEager(0); ${writeReg(size, i.reg, i, idx, '0')} }`);
  e.known = undefined;
  return true;
}

/** Set bits of a 32-bit value: the handler's bitCount, as an expression on a fresh temporary. */
function bitCount(e: Emitter, v: string): string {
  const t = e.fresh(), u = e.fresh();
  e.out.push(`const ${t} = ${v} - ((${v} >>> 1) & 0x55555555); const ${u} = (${t} & 0x33333333) + ((${t} >>> 2) & 0x33333333);`);
  return `((((${u} + (${u} >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24)`;
}

/** POPCNT (F3 0F B8; without F3 the handler raises #UD): ZF when the source was zero, the other flags clear. */
function popcnt(s: Site): boolean {
  const { e, i, out } = s;
  const size = i.opSize;
  if (i.mod !== 3) out.push(e.precise(s.k));
  const [v, vh] = readRm(s, size);
  const c = e.fresh();
  const low = bitCount(e, v);
  out.push(`const ${c} = ${low}${size === 8 ? ` + ${bitCount(e, vh)}` : ''};`);
  out.push(`f.setEager(${c} === 0 ? ${FLAG_ZF} : 0);`, writeReg(size, i.reg, i, c, '0'));
  e.known = undefined;
  return true;
}

/** BSWAP r (0F C8+r): a 64-bit swap exchanges the halves; the undefined 16-bit form zeroes the word, as the handler does. */
function bswap(s: Site): boolean {
  const { e, i, out } = s;
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  const swap = (v: string): string => `((((${v} & 0xff) << 24) | ((${v} & 0xff00) << 8) | ((${v} >>> 8) & 0xff00) | (${v} >>> 24)) >>> 0)`;
  if (i.opSize === 2) { out.push(writeReg(2, r, i, '0', '0')); return true; }
  const a = e.fresh(), b = e.fresh();
  out.push(`const ${a} = lo[${r}], ${b} = hi[${r}];`);
  out.push(i.opSize === 8 ? `lo[${r}] = ${swap(b)}; hi[${r}] = ${swap(a)};` : `lo[${r}] = ${swap(a)}; hi[${r}] = 0;`);
  return true;
}

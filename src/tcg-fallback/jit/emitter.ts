/**
 * The code emitter shared by every instruction family of the translator
 * (codegen.ts and emit-*.ts): fresh local names, precise-state statements,
 * the inline lazy-flags record, ALU bodies, effective addresses and loads and
 * stores with the TLB hit path inlined.
 *
 * Generated code sees these names (the CompiledBlock parameters): `cpu`,
 * `lo`/`hi` (register halves), `f` (LazyFlags), `h` (handlers), `ins`
 * (decoded instructions), `b` (the Block), `c` (the BlockCache), `lim`, plus
 * `T` (cpu.mmu), `CP` (c.codePages) and `n` (instructions retired by earlier
 * iterations of a self-loop).
 */
import type { DecodedInstruction } from '../decoder';
import { LAZY_ADD, LAZY_CFOF, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SUB } from '../lazy-flags';
import { TLB_MASK, TLB_SIZE } from '../mmu';
import type { Block } from './block';

/** Whether a 64-bit linear address (or near branch target) is canonical (48-bit). */
export function canonical(v: number): boolean {
  return v >= -0x800000000000 && v < 0x800000000000;
}

export const ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7;

/** The last flag-producing result held in locals, so a following Jcc can test ZF without the lazy record. */
export interface KnownResult {
  lo: string;
  /** The high half of a 64-bit result; undefined below 64 bits. */
  hi: string | undefined;
  /** 1 or 2 for a byte or word result (its locals hold the masked values); undefined at 4 and 8. */
  size?: number;
  /** For 32/64-bit ADD, SUB/CMP and logic results: the lazy op and operands, so more conditions fold to comparisons. */
  op?: number;
  a?: string;
  b?: string;
  /** High halves of the operands of a 64-bit ADD or SUB/CMP. */
  aHi?: string;
  bHi?: string;
  /** After a shift by a constant count, a multiply or INC/DEC: the local holding CF (0 or 1). */
  carry?: string;
}

/**
 * Unsigned 64-bit `x < y` (or `<=` with orEqual) on 32-bit halves, as a JS
 * expression. Signed compares the high halves as int32 instead.
 */
function below64(x: string, xh: string, y: string, yh: string, orEqual: boolean, signed: boolean): string {
  const hx = signed ? `(${xh} | 0)` : xh, hy = signed ? `(${yh} | 0)` : yh;
  return `(${hx} < ${hy} || (${xh} === ${yh} && ${x} ${orEqual ? '<=' : '<'} ${y}))`;
}

/**
 * A condition code folded to a JS comparison on a known result, or
 * undefined: every condition but parity and overflow after SUB/CMP (CMP a, b
 * is exactly an unsigned or signed comparison of a and b) and after a logic
 * op (CF = OF = 0), CF and its complement after ADD (the sum wrapped below
 * an operand) and after a constant shift, a multiply or INC/DEC (CF held in a
 * local). ZF (4/5) is codegen's.
 */
export function foldCondition(cc: number, k: KnownResult): string | undefined {
  const r = k.lo, wide = k.hi !== undefined;
  const top = k.size === 1 ? 7 : k.size === 2 ? 15 : 31;
  const neg = `((${wide ? k.hi : r} >>> ${top}) & 1) === 1`;
  const zero = wide ? `(${r} === 0 && ${k.hi} === 0)` : `${r} === 0`;
  /** A byte or word operand as a signed 32-bit number, for the signed comparisons. */
  const signed = (v: string): string => (k.size === 1 ? `((${v} << 24) >> 24)` : k.size === 2 ? `((${v} << 16) >> 16)` : `(${v} | 0)`);
  if (k.op === LAZY_SUB && k.a !== undefined && k.b !== undefined) {
    const a = k.a, b = k.b;
    if (wide) {
      if (k.aHi === undefined || k.bHi === undefined) return undefined;
      const ah = k.aHi, bh = k.bHi;
      switch (cc) {
        case 2: return below64(a, ah, b, bh, false, false); case 3: return `!${below64(a, ah, b, bh, false, false)}`;
        case 6: return below64(a, ah, b, bh, true, false); case 7: return `!${below64(a, ah, b, bh, true, false)}`;
        case 8: return neg; case 9: return `!(${neg})`;
        case 0xc: return below64(a, ah, b, bh, false, true); case 0xd: return `!${below64(a, ah, b, bh, false, true)}`;
        case 0xe: return below64(a, ah, b, bh, true, true); case 0xf: return `!${below64(a, ah, b, bh, true, true)}`;
        default: return undefined;
      }
    }
    switch (cc) {
      case 2: return `${a} < ${b}`; case 3: return `${a} >= ${b}`;
      case 6: return `${a} <= ${b}`; case 7: return `${a} > ${b}`;
      case 8: return neg; case 9: return `!(${neg})`;
      case 0xc: return `${signed(a)} < ${signed(b)}`; case 0xd: return `${signed(a)} >= ${signed(b)}`;
      case 0xe: return `${signed(a)} <= ${signed(b)}`; case 0xf: return `${signed(a)} > ${signed(b)}`;
      default: return undefined;
    }
  }
  if (k.op === LAZY_LOGIC) {
    switch (cc) {
      case 2: return 'false'; case 3: return 'true';
      case 6: return zero; case 7: return `!(${zero})`;
      case 8: case 0xc: return neg; case 9: case 0xd: return `!(${neg})`;
      case 0xe: return `(${neg} || ${zero})`; case 0xf: return `!(${neg} || ${zero})`;
      default: return undefined;
    }
  }
  let carry: string | undefined;
  if (k.op === LAZY_ADD && k.a !== undefined) {
    if (!wide) carry = `${r} < ${k.a}`;
    else if (k.aHi !== undefined) carry = below64(r, k.hi as string, k.a, k.aHi, false, false);
  } else if (k.carry !== undefined) carry = `${k.carry} !== 0`;
  if (carry === undefined) return undefined;
  if (cc === 2) return carry;
  if (cc === 3) return `!(${carry})`;
  return undefined;
}

/**
 * Generated code that may raise a guest exception or reads RIP: a call into
 * the CPU, a handler, LazyFlags aside (its methods only compute flags), or
 * a read of cpu.rip/cpu.nextRip.
 */
const CAN_FAULT_OR_READ_RIP = /\bcpu\.\w+\(|\bh\[|\bcpu\.nextRip\b|\bcpu\.rip\b(?!\s*=[^=])|\bthrow\b/;

/** Expressions for the inline TLB path of one access (Emitter.inlinePath). */
export interface InlinePath {
  inPage: string;
  vpn: string;
  /** The TLB index within the CPL's half. */
  slot: string;
  offset: string;
}

export class Emitter {
  readonly out: string[] = [];
  private tmp = 0;
  known: KnownResult | undefined;

  constructor(readonly block: Block) {}

  /** Set by codegen while emitting an instruction whose flags are dead (flag-liveness.ts): record() stores nothing. */
  flagsDead = false;

  fresh(): string { return `t${this.tmp++}`; }

  /** The instruction's precise-state statement and the line it went out on (precise()), and the slow paths that repeat it. */
  private preciseText: string | undefined;
  private preciseRip: number | undefined;
  private preciseLine = -1;
  private slowPaths: string[] = [];

  /**
   * Statement run before an instruction that may fault or read RIP. The
   * caller emits it; load() and store() repeat it inside their slow paths,
   * and when those are all the instruction does that could fault,
   * endInstruction() drops the statement from the fast path.
   */
  precise(k: number): string {
    const b = this.block;
    const rip = k === 0 ? b.rip : b.nexts[k - 1];
    const text = `cpu.rip = ${rip}; cpu.nextRip = ${b.nexts[k]};`;
    this.preciseText = text;
    this.preciseRip = rip;
    this.preciseLine = this.out.length;
    return text;
  }

  /** Codegen calls this before emitting each instruction. */
  beginInstruction(): void {
    this.preciseText = undefined;
    this.preciseRip = undefined;
    this.preciseLine = -1;
    this.slowPaths = [];
  }

  /**
   * Codegen calls this after emitting each instruction: drops the
   * precise-state statement when nothing after it but the slow paths of
   * inline loads and stores (which set RIP themselves) can fault or read
   * RIP. A TLB hit cannot fault, so the common case stores no RIP at all.
   */
  endInstruction(): void {
    const at = this.preciseLine;
    if (at < 0 || this.out[at] !== this.preciseText || this.slowPaths.length === 0) return;
    let rest = this.out.slice(at + 1).join('\n');
    for (const slow of this.slowPaths) rest = rest.split(slow).join('');
    if (CAN_FAULT_OR_READ_RIP.test(rest)) return;
    this.out[at] = '';
  }

  /**
   * A slow path's statement, with RIP set in front of it (for the fault it
   * may raise). Not nextRip: a CALL has already pointed it at the target.
   */
  private slow(statement: string): string {
    const text = this.preciseRip === undefined ? statement : `cpu.rip = ${this.preciseRip}; ${statement}`;
    this.slowPaths.push(text);
    return text;
  }

  /**
   * Stores the lazy-flags record inline, skipping the fields LazyFlags never
   * reads for this op and size (the high halves at 32 bits, the operands of
   * a logic op, the carry-in of ADD/SUB, and `hi`, the ALU helpers'
   * out-parameter): a 32-bit logic op costs three stores instead of ten.
   */
  record(op: number, size: number, r: string, rh: string, a: string, ah: string, bb: string, bh: string, cin: string): void {
    const wide = size === 8;
    let s = `f.op = ${op}; f.size = ${size}; f.res = ${r};`;
    if (wide) s += ` f.resHi = ${rh};`;
    if (op !== LAZY_LOGIC) {
      s += ` f.a = ${a}; f.b = ${bb};`;
      if (wide) s += ` f.aHi = ${ah}; f.bHi = ${bh};`;
      if (op !== LAZY_ADD && op !== LAZY_SUB) s += ` f.cin = ${cin};`;
    }
    if (!this.flagsDead) this.out.push(s);
    this.known = wide ? { lo: r, hi: rh, op, a, b: bb, aHi: ah, bHi: bh } : { lo: r, hi: undefined, op, a, b: bb };
    // Shifts, multiplies and INC/DEC keep CF in the carry-in field (LazyFlags.cf's default case).
    if (op === LAZY_CFOF || op === LAZY_INC || op === LAZY_DEC) this.known.carry = cin;
  }

  /** ALU op `op` on registers/immediates; writes `dest` unless CMP. Returns false when not handled. */
  alu(op: number, size: number, dest: number, a: string, ah: string, b: string, bh: string, write: boolean): boolean {
    const r = this.fresh(), rh = this.fresh();
    if (size === 4) {
      const av = this.fresh(), bv = this.fresh();
      this.out.push(`const ${av} = ${a}, ${bv} = ${b};`);
      let expr: string, lazy: number;
      switch (op) {
        case ALU_ADD: expr = `(${av} + ${bv}) >>> 0`; lazy = LAZY_ADD; break;
        case ALU_SUB: case ALU_CMP: expr = `(${av} - ${bv}) >>> 0`; lazy = LAZY_SUB; break;
        case ALU_AND: expr = `(${av} & ${bv}) >>> 0`; lazy = LAZY_LOGIC; break;
        case ALU_OR: expr = `(${av} | ${bv}) >>> 0`; lazy = LAZY_LOGIC; break;
        case ALU_XOR: expr = `(${av} ^ ${bv}) >>> 0`; lazy = LAZY_LOGIC; break;
        default: return false;
      }
      this.out.push(`const ${r} = ${expr};`);
      if (lazy === LAZY_LOGIC) this.record(lazy, 4, r, '0', '0', '0', '0', '0', '0');
      else this.record(lazy, 4, r, '0', av, '0', bv, '0', '0');
      if (write && op !== ALU_CMP) this.out.push(`lo[${dest}] = ${r}; hi[${dest}] = 0;`);
      return true;
    }
    if (size !== 8) return false;
    const av = this.fresh(), avh = this.fresh(), bv = this.fresh(), bvh = this.fresh();
    this.out.push(`const ${av} = ${a}, ${avh} = ${ah}, ${bv} = ${b}, ${bvh} = ${bh};`);
    let lazy: number;
    // The carry (borrow) out of the low halves as an unsigned 32-bit compare, so V8 keeps the
    // arithmetic in 32-bit registers instead of forming the 33-bit sum as a double.
    switch (op) {
      case ALU_ADD:
        this.out.push(`const ${r} = (${av} + ${bv}) >>> 0; const ${rh} = (${avh} + ${bvh} + (${r} < ${av} ? 1 : 0)) >>> 0;`);
        lazy = LAZY_ADD; break;
      case ALU_SUB: case ALU_CMP:
        this.out.push(`const ${r} = (${av} - ${bv}) >>> 0; const ${rh} = (${avh} - ${bvh} - (${av} < ${bv} ? 1 : 0)) >>> 0;`);
        lazy = LAZY_SUB; break;
      case ALU_AND: this.out.push(`const ${r} = (${av} & ${bv}) >>> 0, ${rh} = (${avh} & ${bvh}) >>> 0;`); lazy = LAZY_LOGIC; break;
      case ALU_OR: this.out.push(`const ${r} = (${av} | ${bv}) >>> 0, ${rh} = (${avh} | ${bvh}) >>> 0;`); lazy = LAZY_LOGIC; break;
      case ALU_XOR: this.out.push(`const ${r} = (${av} ^ ${bv}) >>> 0, ${rh} = (${avh} ^ ${bvh}) >>> 0;`); lazy = LAZY_LOGIC; break;
      default: return false;
    }
    if (lazy === LAZY_LOGIC) this.record(lazy, 8, r, rh, '0', '0', '0', '0', '0');
    else this.record(lazy, 8, r, rh, av, avh, bv, bvh, '0');
    if (write && op !== ALU_CMP) this.out.push(`lo[${dest}] = ${r}; hi[${dest}] = ${rh};`);
    return true;
  }

  /**
   * CF of the known last result as a 0/1 expression on its locals, without
   * asking LazyFlags (INC/DEC keep CF, and ADC/SBB add it): see foldCondition.
   */
  knownCarry(): string | undefined {
    const folded = this.known === undefined ? undefined : foldCondition(2, this.known);
    return folded === undefined ? undefined : `(${folded} ? 1 : 0)`;
  }

  incDec(dec: boolean, size: number, reg: number): boolean {
    if (size !== 4 && size !== 8) return false;
    const a = this.fresh(), ah = this.fresh(), r = this.fresh(), rh = this.fresh(), cf = this.fresh();
    // With dead flags the carry-in is never recorded, so do not ask LazyFlags for it.
    const carry = this.flagsDead ? '0' : this.knownCarry() ?? 'f.cf() ? 1 : 0';
    this.out.push(`const ${cf} = ${carry}; const ${a} = lo[${reg}], ${ah} = ${size === 8 ? `hi[${reg}]` : '0'};`);
    if (size === 4) this.out.push(`const ${r} = (${a} ${dec ? '-' : '+'} 1) >>> 0, ${rh} = 0;`);
    else {
      const t = this.fresh();
      this.out.push(`const ${t} = ${a} ${dec ? '-' : '+'} 1; const ${r} = ${t} >>> 0; const ${rh} = (${ah} + (${t} >= 4294967296 ? 1 : ${t} < 0 ? -1 : 0)) >>> 0;`);
    }
    this.record(dec ? LAZY_DEC : LAZY_INC, size, r, rh, a, ah, '1', '0', cf);
    this.out.push(`lo[${reg}] = ${r}; hi[${reg}] = ${rh};`);
    return true;
  }

  /**
   * Effective address expression for 32- and 64-bit addressing (same
   * arithmetic as Cpu.effectiveAddress, without its eaLo/eaHi side outputs,
   * which only LEA reads), or undefined for 16-bit addressing. `next` is the
   * instruction's fall-through RIP (RIP-relative operands are constants).
   */
  ea(i: DecodedInstruction, next: number): string | undefined {
    if (i.addrSize === 8) {
      if (i.ripRelative) {
        const address = next + i.disp;
        this.addressHalves.set(`${address}`, [`${address >>> 0}`, `${Math.floor(address / 4294967296) | 0}`]);
        return `${address}`;
      }
      const l = this.fresh(), h = this.fresh(), v = this.fresh();
      let lo = `${i.disp >>> 0}`, hi = `${i.disp < 0 ? -1 : 0}`;
      if (i.base >= 0) { lo += ` + lo[${i.base}]`; hi += ` + hi[${i.base}]`; }
      if (i.index >= 0) { lo += ` + lo[${i.index}] * ${1 << i.scale}`; hi += ` + hi[${i.index}] * ${1 << i.scale}`; }
      // The low sum is a non-negative integer below 2^36, so truncating its quotient is its carry (cheaper than Math.floor).
      this.out.push(`const ${l} = ${lo}; const ${h} = (${hi} + ((${l} / 4294967296) | 0)) | 0; const ${v} = ${h} * 4294967296 + (${l} >>> 0);`);
      this.addressHalves.set(v, [`(${l} >>> 0)`, h]);
      return v;
    }
    return this.ea32(i);
  }

  /**
   * Statement that raises #GP, through the interpreter's branchTo on a slow
   * path, when the 64-bit near branch target `t` (a local) is not canonical;
   * a canonical target needs no call, so the caller then sets RIP itself.
   */
  checkTarget64(t: string): string {
    return `if (${t} < -140737488355328 || ${t} >= 140737488355328) { ${this.slow(`cpu.branchTo(${t}, 8);`)} }`;
  }

  /**
   * A load of `size` (1, 2, 4 or 8) bytes with the TLB hit path inlined: in
   * 64-bit code the linear address is the offset (DS/ES/SS) or the offset
   * plus the FS/GS base, so a hit on a canonical address needs no call.
   * Anything else (misses, MMIO, page-crossing, non-canonical, FS/GS outside
   * 64-bit code, non-flat segments) takes cpu.read, the interpreter's path.
   * Returns the names of the low and high halves (the high half is '0'-valued
   * unless size is 8).
   */
  load(seg: number, ea: string, size: number): [string, string] {
    const a = this.fresh(), v = this.fresh(), vh = this.fresh();
    const slow = this.slow(`${v} = cpu.read(${seg}, ${a}, ${size}); ${vh} = ${size === 8 ? 'cpu.vhi' : '0'};`);
    this.out.push(`const ${a} = ${ea}; let ${v}, ${vh};`);
    this.aliasAddress(a, ea);
    const lin = this.linearOf(seg, a);
    const path = lin === undefined ? undefined : this.inlinePath(seg, lin, size);
    if (path === undefined) { this.out.push(slow); return [v, vh]; }
    const vpn = this.fresh(), idx = this.fresh(), view = this.fresh(), p = this.fresh();
    const get = size === 1 ? `${view}.getUint8(${p})` : size === 2 ? `${view}.getUint16(${p}, true)` : `${view}.getUint32(${p}, true)`;
    const done = this.fresh();
    this.out.push(`${done}: { if (${path.inPage}) {`,
      `const ${vpn} = ${path.vpn}, ${idx} = ${this.tlbBase()} + ${path.slot}, ${view} = T.views[${idx}];`,
      `if (T.tagRead[${idx}] === ${vpn} && ${view} !== undefined) { const ${p} = T.offsets[${idx}] + ${path.offset}; ${v} = ${get}; ${vh} = ${size === 8 ? `${view}.getUint32(${p} + 4, true)` : '0'}; break ${done}; } }`,
      `${slow} }`);
    return [v, vh];
  }

  /**
   * The linear address of the segment offset in local `a`, for the inline
   * path: `a` itself for DS/ES/SS/CS; in 64-bit code, for FS/GS, a new local
   * with the segment's base added (hoisted as sb4/sb5 and its halves
   * sbl4/sbh4, sbl5/sbh5, see guardStatements). With the offset's halves at
   * hand the sum is made on halves, wrapping at 2^64 as the CPU does (the
   * kernel's per-CPU variables are GS-relative); else both are canonical and
   * the sum of the numbers is exact. Undefined for FS/GS outside 64-bit code.
   */
  linearOf(seg: number, a: string): string | undefined {
    if (seg < 4) return a;
    if (this.block.codeSize !== 8) return undefined;
    this.segBases.add(seg);
    const l = this.fresh();
    const halves = this.addressHalves.get(a);
    if (halves === undefined) {
      this.out.push(`const ${l} = ${a} + sb${seg};`);
      return l;
    }
    const [low, high] = halves;
    const sum = this.fresh(), ll = this.fresh(), lh = this.fresh();
    this.out.push(`const ${sum} = ${low} + sbl${seg}, ${ll} = ${sum} >>> 0, ${lh} = (${high} + sbh${seg} + (${sum} >= 4294967296 ? 1 : 0)) | 0, ${l} = ${lh} * 4294967296 + ${ll};`);
    this.addressHalves.set(l, [ll, lh]);
    return l;
  }

  /**
   * How the linear address `lin` (see linearOf) takes the TLB hit path
   * inline: the condition under which it may (it stays within one page and,
   * in 64-bit code, is canonical; elsewhere the data segment is flat: base 0,
   * limit 4 GiB, expand-up, writable, usable, for which Cpu.linear's checks
   * can never fail), its page number, TLB slot and offset in the page.
   */
  inlinePath(seg: number, lin: string, size: number): InlinePath | undefined {
    if (this.block.codeSize === 8) {
      const halves = this.addressHalves.get(lin);
      if (halves === undefined) {
        return {
          inPage: `${lin} >= -140737488355328 && ${lin} + ${size - 1} < 140737488355328 && (${lin} & 4095) <= ${4096 - size}`,
          vpn: `Math.floor(${lin} / 4096)`, slot: `(Math.floor(${lin} / 4096) & ${TLB_MASK})`, offset: `(${lin} & 4095)`,
        };
      }
      // Canonical: the high half within [-2^15, 2^15), so bits 63-47 agree; staying in the page keeps it so.
      const [low, high] = halves;
      return {
        inPage: `((${high} + 32768) >>> 16) === 0 && (${low} & 4095) <= ${4096 - size}`,
        vpn: `${high} * 1048576 + (${low} >>> 12)`, slot: `((${low} >>> 12) & ${TLB_MASK})`, offset: `(${low} & 4095)`,
      };
    }
    if (seg >= 4) return undefined;
    this.flatGuards.add(seg);
    // Outside 64-bit code the address is a 32-bit unsigned integer.
    return { inPage: `g${seg} && (${lin} & 4095) <= ${4096 - size}`, vpn: `(${lin} >>> 12)`, slot: `((${lin} >>> 12) & ${TLB_MASK})`, offset: `(${lin} & 4095)` };
  }

  /**
   * 64-bit addresses whose halves are at hand as integers (low: unsigned 32
   * bits, high: signed 32 bits), by the local or literal holding the address
   * as a number. The inline path then checks and indexes the TLB with
   * integer operations; from the number itself it takes floating-point
   * division, flooring and truncation, which cost more than the access.
   */
  private readonly addressHalves = new Map<string, readonly [string, string]>();

  /** `address` (a local or literal) has these halves: see addressHalves. */
  noteAddressHalves(address: string, low: string, high: string): void {
    this.addressHalves.set(address, [low, high]);
  }

  /** A local `a` just assigned the address expression `ea`: it has the same halves. */
  aliasAddress(a: string, ea: string): void {
    const halves = this.addressHalves.get(ea);
    if (halves !== undefined) this.addressHalves.set(a, halves);
  }

  /** Segments whose flatness the code tests (g0..g3), FS/GS whose bases it adds (sb4, sb5), and whether it reads the TLB half of the CPL (tb). */
  private readonly flatGuards = new Set<number>();
  private readonly segBases = new Set<number>();
  private usesTlbBase = false;

  /** The TLB half for the current privilege level: user entries follow the supervisor ones. */
  tlbBase(): string {
    this.usesTlbBase = true;
    return 'tb';
  }

  /**
   * Statements that (re)compute the hoisted guards: the flatness of each
   * data segment used (see directLinear) and the CPL's TLB half. Only a
   * handler can change segments or the CPL inside compiled code (interrupts
   * come between blocks), so they run at entry and after every handler call.
   */
  guardStatements(): string {
    const parts = [...this.flatGuards].map((seg) => {
      const sc = `cpu.segs[${seg}]`;
      return `g${seg} = ${sc}.base === 0 && ${sc}.limit === 4294967295 && (${sc}.type & 14) === 2 && ${sc}.s && !${sc}.unusable;`;
    });
    for (const seg of this.segBases) parts.push(`sb${seg} = cpu.segs[${seg}].base; sbl${seg} = sb${seg} >>> 0; sbh${seg} = Math.floor(sb${seg} / 4294967296) | 0;`);
    if (this.usesTlbBase) parts.push(`tb = cpu.cpl === 3 ? ${TLB_SIZE} : 0;`);
    return parts.join(' ');
  }

  /** Declarations of the hoisted guards, for the function's prologue ('' when none is used). */
  guardDeclarations(): string {
    const names = [...[...this.flatGuards].map((seg) => `g${seg}`), ...[...this.segBases].flatMap((seg) => [`sb${seg}`, `sbl${seg}`, `sbh${seg}`]), ...(this.usesTlbBase ? ['tb'] : [])];
    return names.length === 0 ? '' : `let ${names.join(', ')}; ${this.guardStatements()}`;
  }

  /** A store of 1, 2, 4 or 8 bytes with the TLB hit path inlined (as load); stores into pages holding cached code take the slow path, which invalidates. */
  store(seg: number, ea: string, size: number, v: string, vh: string): void {
    const a = this.fresh();
    const slow = this.slow(`cpu.write(${seg}, ${a}, ${size}, ${v}, ${vh});`);
    this.out.push(`const ${a} = ${ea};`);
    this.aliasAddress(a, ea);
    const lin = this.linearOf(seg, a);
    const path = lin === undefined ? undefined : this.inlinePath(seg, lin, size);
    if (path === undefined) { this.out.push(slow); return; }
    const vpn = this.fresh(), idx = this.fresh(), view = this.fresh(), p = this.fresh();
    const set = size === 1 ? `${view}.setUint8(${p}, ${v});` : size === 2 ? `${view}.setUint16(${p}, ${v}, true);` : `${view}.setUint32(${p}, ${v} >>> 0, true);`;
    const done = this.fresh();
    this.out.push(`${done}: { if (${path.inPage}) {`,
      `const ${vpn} = ${path.vpn}, ${idx} = ${this.tlbBase()} + ${path.slot}, ${view} = T.views[${idx}];`,
      `if (T.tagWrite[${idx}] === ${vpn} && ${view} !== undefined && CP[T.physPages[${idx}] / 4096] !== 1) { const ${p} = T.offsets[${idx}] + ${path.offset}; ${set} ${size === 8 ? `${view}.setUint32(${p} + 4, ${vh} >>> 0, true);` : ''} break ${done}; } }`,
      `${slow} }`);
  }

  /** Effective address expression for 32-bit addressing, or undefined. */
  ea32(i: DecodedInstruction): string | undefined {
    if (i.addrSize !== 4 || i.ripRelative) return undefined;
    let e = `${i.disp}`;
    if (i.base >= 0) e += ` + lo[${i.base}]`;
    if (i.index >= 0) e += ` + (lo[${i.index}] << ${i.scale})`;
    return `((${e}) >>> 0)`;
  }
}

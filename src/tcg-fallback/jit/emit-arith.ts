/**
 * Translator family: multiplies (IMUL/MUL) and shifts/rotates, inline.
 * Returns true when instruction k of the block was emitted (it then falls
 * through to the next instruction; block ends are codegen's business).
 *
 * Forms (32- and 64-bit operand size, register or memory operand):
 *   IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B): the low product from
 *     32-bit halves (Math.imul plus an exact unsigned high 32x32 product),
 *     flags recorded as LAZY_IMUL (CF/OF need the high half: computed when read);
 *   group 2 C1/D1/D3 ROL/ROR/SHL/SAL/SHR/SAR (RCL/RCR go to the handler);
 *   MUL/IMUL r/m (F7 /4 /5) into rDX:rAX, the 128-bit product inline;
 *   SHLD/SHRD (0F A4/A5/AC/AD).
 * Semantics (including the undefined flags) follow the interpreter (alu.ts
 * Multiplier/shiftFast/aluDoubleShift, rotate.ts), which is checked against
 * the host CPU by the differential fuzzer.
 *
 * Flag elimination: when codegen marks the instruction's flags dead
 * (flag-liveness.ts: a later instruction of the block overwrites all six and
 * nothing between can read them, fault or leave the block), they are not
 * computed at all (chacha/blake2s/sha256 rotate, then add or xor).
 */
import { FLAG_CF, FLAG_OF } from '../cpu-constants';
import { LAZY_CFOF, LAZY_IMUL, LAZY_LOGIC } from '../lazy-flags';
import type { Block } from './block';
import type { Emitter } from './emitter';

export function emitArith(e: Emitter, block: Block, k: number): boolean {
  const i = block.insns[k];
  const s = i.opSize;
  if (s !== 4 && s !== 8) return false;
  switch (i.opcode) {
    case 0x1af: return emitImul(e, block, k, undefined);
    case 0x69: case 0x6b: return emitImul(e, block, k, i.imm);
    case 0xc1: case 0xd1: case 0xd3: return emitGroup2(e, block, k);
    case 0xf7: return (i.regField === 4 || i.regField === 5) && emitMulWide(e, block, k);
    case 0x1a4: case 0x1a5: case 0x1ac: case 0x1ad: return emitDoubleShift(e, block, k);
    default: return false;
  }
}

// ---------------------------------------------------------------- helpers

/**
 * Expression for the unsigned high 32 bits of a * b (both unsigned 32-bit
 * values): splitting b into 16-bit halves keeps each partial product below
 * 2^48 and every sum exact in a double.
 */
function mulHi(a: string, b: string | number): string {
  if (typeof b === 'number') {
    const b0 = b & 0xffff, b1 = b >>> 16;
    if (b1 === 0) return `Math.floor(${a} * ${b0} / 4294967296)`;
    return `Math.floor((Math.floor(${a} * ${b0} / 65536) + ${a} * ${b1}) / 65536)`;
  }
  return `Math.floor((Math.floor(${a} * (${b} & 65535) / 65536) + ${a} * (${b} >>> 16)) / 65536)`;
}

/** The r/m operand's value (low, high names; high is '0' for 32-bit); memory operands are loaded after the precise-state statement. */
function readRm(e: Emitter, block: Block, k: number): [string, string] {
  const i = block.insns[k];
  const s = i.opSize;
  if (i.mod === 3) {
    const v = e.fresh(), vh = e.fresh();
    e.out.push(`const ${v} = lo[${i.rm}], ${vh} = ${s === 8 ? `hi[${i.rm}]` : '0'};`);
    return [v, vh];
  }
  e.out.push(e.precise(k));
  const ea = e.ea(i, block.nexts[k]) ?? `cpu.effectiveAddress(ins[${k}])`;
  return e.load(i.segment, ea, s);
}

/**
 * Read-modify-write access to the r/m operand: returns the value names and a
 * function that emits the write-back. Memory: the write is checked before
 * the read (as readRmForWrite does) so a fault leaves everything untouched.
 */
function readRmForWrite(e: Emitter, block: Block, k: number): { v: string; vh: string; write: (r: string, rh: string) => void } {
  const i = block.insns[k];
  const s = i.opSize;
  const v = e.fresh(), vh = e.fresh();
  if (i.mod === 3) {
    e.out.push(`const ${v} = lo[${i.rm}], ${vh} = ${s === 8 ? `hi[${i.rm}]` : '0'};`);
    return { v, vh, write: (r, rh) => { e.out.push(`lo[${i.rm}] = ${r}; hi[${i.rm}] = ${s === 8 ? rh : '0'};`); } };
  }
  e.out.push(e.precise(k));
  const ea = e.ea(i, block.nexts[k]) ?? `cpu.effectiveAddress(ins[${k}])`;
  const lin = e.fresh();
  e.out.push(`const ${lin} = cpu.linear(${i.segment}, ${ea}, ${s}, true); cpu.probeWrite(${lin}, ${s});`,
    `const ${v} = cpu.readLinear(${lin}, ${s}), ${vh} = ${s === 8 ? 'cpu.vhi' : '0'};`);
  const last = k === block.insns.length - 1;
  return {
    v, vh, write: (r, rh) => {
      e.out.push(`cpu.writeLinear(${lin}, ${s}, ${r}, ${s === 8 ? rh : '0'});`);
      // The store may have hit this block's own code page.
      if (!last) e.out.push(`if (!b.valid) { cpu.rip = ${block.nexts[k]}; return n + ${k + 1}; }`);
    },
  };
}

// ---------------------------------------------------------------- IMUL r, r/m [, imm]

function emitImul(e: Emitter, block: Block, k: number, imm: number | undefined): boolean {
  const i = block.insns[k];
  const s = i.opSize;
  const out = e.out;
  const [a, ah] = readRm(e, block, k);
  const dead = e.flagsDead; // flag-liveness.ts
  // Second operand: the register, or the sign-extended immediate (a constant).
  let b: string, bh: string, bConst: number | undefined, bhConst = 0;
  if (imm === undefined) {
    b = e.fresh(); bh = e.fresh();
    out.push(`const ${b} = lo[${i.reg}], ${bh} = ${s === 8 ? `hi[${i.reg}]` : '0'};`);
  } else {
    bConst = imm >>> 0; bhConst = s === 8 && imm < 0 ? 0xffffffff : 0;
    b = `${bConst}`; bh = `${bhConst}`;
  }
  const r = e.fresh(), rh = e.fresh();
  out.push(`const ${r} = Math.imul(${a}, ${b}) >>> 0;`);
  if (s === 8) {
    // Low 64 bits of the product: a_lo*b_lo (full) + (a_lo*b_hi + a_hi*b_lo) << 32, modulo 2^64.
    let high = mulHi(a, bConst ?? b);
    if (imm === undefined) high += ` + Math.imul(${a}, ${bh})`;
    else if (bhConst !== 0) high += ` - ${a}`; // a * 0xffffffff == -a (mod 2^32)
    high += ` + Math.imul(${ah}, ${b})`;
    out.push(`const ${rh} = (${high}) >>> 0;`);
  }
  if (dead) e.known = undefined;
  else e.record(LAZY_IMUL, s, r, s === 8 ? rh : '0', a, ah, b, bh, '0');
  out.push(`lo[${i.reg}] = ${r}; hi[${i.reg}] = ${s === 8 ? rh : '0'};`);
  return true;
}

// ---------------------------------------------------------------- MUL/IMUL r/m (rDX:rAX)

function emitMulWide(e: Emitter, block: Block, k: number): boolean {
  const i = block.insns[k];
  const s = i.opSize;
  const signed = i.regField === 5;
  const out = e.out;
  const [b, bh] = readRm(e, block, k);
  const dead = e.flagsDead; // flag-liveness.ts
  const a = e.fresh(), ah = e.fresh();
  out.push(`const ${a} = lo[0], ${ah} = ${s === 8 ? 'hi[0]' : '0'};`);
  const w0 = e.fresh(), w1 = e.fresh(), w2 = e.fresh(), w3 = e.fresh(), ovf = e.fresh();
  if (s === 4) {
    out.push(`const ${w0} = Math.imul(${a}, ${b}) >>> 0; let ${w1} = ${mulHi(a, b)};`);
    // Signed high half: subtract the other operand for each negative one (mod 2^32).
    if (signed) out.push(`if ((${a} | 0) < 0) ${w1} -= ${b}; if ((${b} | 0) < 0) ${w1} -= ${a}; ${w1} = ${w1} >>> 0;`);
    out.push(`const ${ovf} = ${w1} !== ${signed ? `((${w0} | 0) < 0 ? 4294967295 : 0)` : '0'} ? 1 : 0;`);
    out.push(`lo[0] = ${w0}; hi[0] = 0; lo[2] = ${w1}; hi[2] = 0;`);
    if (dead) e.known = undefined;
    else e.record(LAZY_CFOF, 4, w0, '0', '0', '0', ovf, '0', ovf);
    return true;
  }
  // 128-bit product from four 32x32->64 partial products; column sums stay below 2^35.
  const [p1, p2, s1, s2] = [e.fresh(), e.fresh(), e.fresh(), e.fresh()];
  out.push(`const ${w0} = Math.imul(${a}, ${b}) >>> 0;`,
    `const ${p1} = Math.imul(${a}, ${bh}) >>> 0, ${p2} = Math.imul(${ah}, ${b}) >>> 0;`,
    `const ${s1} = ${mulHi(a, b)} + ${p1} + ${p2}; const ${w1} = ${s1} >>> 0;`,
    `const ${s2} = ${mulHi(a, bh)} + ${mulHi(ah, b)} + (Math.imul(${ah}, ${bh}) >>> 0) + Math.floor(${s1} / 4294967296);`,
    `let ${w2} = ${s2} >>> 0, ${w3} = (${mulHi(ah, bh)} + Math.floor(${s2} / 4294967296)) >>> 0;`);
  if (signed) {
    // high(signed) = high(unsigned) - (a < 0 ? b : 0) - (b < 0 ? a : 0), modulo 2^64.
    const t = e.fresh();
    out.push(`if ((${ah} | 0) < 0) { const ${t} = ${w2} - ${b}; ${w2} = ${t} >>> 0; ${w3} = (${w3} - ${bh} - (${t} < 0 ? 1 : 0)) >>> 0; }`,
      `if ((${bh} | 0) < 0) { const ${t} = ${w2} - ${a}; ${w2} = ${t} >>> 0; ${w3} = (${w3} - ${ah} - (${t} < 0 ? 1 : 0)) >>> 0; }`);
    out.push(`const ${ovf} = ((${w1} | 0) < 0 ? ${w2} !== 4294967295 || ${w3} !== 4294967295 : ${w2} !== 0 || ${w3} !== 0) ? 1 : 0;`);
  } else out.push(`const ${ovf} = ${w2} !== 0 || ${w3} !== 0 ? 1 : 0;`);
  out.push(`lo[0] = ${w0}; hi[0] = ${w1}; lo[2] = ${w2}; hi[2] = ${w3};`);
  if (dead) e.known = undefined;
  else e.record(LAZY_CFOF, 8, w0, w1, '0', '0', ovf, '0', ovf);
  return true;
}

// ---------------------------------------------------------------- group 2

const SH_ROL = 0, SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAL = 6, SH_SAR = 7;

/**
 * Statements computing a shift or rotate of (a, ah) by c (a literal 1..bits-1
 * or the name of a variable known to be in that range) into the
 * pre-declared `let` names r, rh, cf, of. Literal counts resolve the
 * branches here, so the generated code is straight-line.
 */
function shiftCode(op: number, size: number, a: string, ah: string, c: number | string,
  r: string, rh: string, cf: string, of: string): string {
  const sel = (cond: string | boolean, yes: string, no: string): string =>
    typeof cond === 'boolean' ? (cond ? yes : no) : `if (${cond}) { ${yes} } else { ${no} }`;
  const lt32 = typeof c === 'number' ? c < 32 : `${c} < 32`;
  const eq32 = typeof c === 'number' ? `${c === 32}` : `${c} === 32`;
  if (size === 4) {
    switch (op) {
      case SH_SHL: return `${r} = (${a} << ${c}) >>> 0; ${cf} = (${a} >>> (32 - ${c})) & 1; ${of} = (${r} >>> 31) ^ ${cf};`;
      case SH_SHR: return `${r} = ${a} >>> ${c}; ${cf} = (${a} >>> (${c} - 1)) & 1; ${of} = ${a} >>> 31;`;
      case SH_SAR: return `${r} = ((${a} | 0) >> ${c}) >>> 0; ${cf} = ((${a} | 0) >> (${c} - 1)) & 1; ${of} = 0;`;
      case SH_ROL: return `${r} = ((${a} << ${c}) | (${a} >>> (32 - ${c}))) >>> 0; ${cf} = ${r} & 1; ${of} = (${r} >>> 31) ^ ${cf};`;
      default: return `${r} = ((${a} >>> ${c}) | (${a} << (32 - ${c}))) >>> 0; ${cf} = ${r} >>> 31; ${of} = ${cf} ^ ((${r} >>> 30) & 1);`;
    }
  }
  switch (op) {
    case SH_SHL:
      return sel(lt32,
        `${rh} = ((${ah} << ${c}) | (${a} >>> (32 - ${c}))) >>> 0; ${r} = (${a} << ${c}) >>> 0; ${cf} = (${ah} >>> (32 - ${c})) & 1;`,
        `${rh} = (${a} << (${c} - 32)) >>> 0; ${r} = 0; ${cf} = ${eq32} ? ${ah} & 1 : (${a} >>> (64 - ${c})) & 1;`)
        + ` ${of} = (${rh} >>> 31) ^ ${cf};`;
    case SH_SHR:
      return sel(lt32,
        `${r} = ((${a} >>> ${c}) | (${ah} << (32 - ${c}))) >>> 0; ${rh} = ${ah} >>> ${c}; ${cf} = (${a} >>> (${c} - 1)) & 1;`,
        `${r} = ${ah} >>> (${c} - 32); ${rh} = 0; ${cf} = ${eq32} ? ${a} >>> 31 : (${ah} >>> (${c} - 33)) & 1;`)
        + ` ${of} = ${ah} >>> 31;`;
    case SH_SAR:
      return sel(lt32,
        `${r} = ((${a} >>> ${c}) | (${ah} << (32 - ${c}))) >>> 0; ${rh} = ((${ah} | 0) >> ${c}) >>> 0; ${cf} = (${a} >>> (${c} - 1)) & 1;`,
        `${r} = ((${ah} | 0) >> (${c} - 32)) >>> 0; ${rh} = ((${ah} | 0) >> 31) >>> 0; ${cf} = ${eq32} ? ${a} >>> 31 : ((${ah} | 0) >> (${c} - 33)) & 1;`)
        + ` ${of} = 0;`;
    default: {
      // Rotate right by c is rotate left by 64 - c; a left rotate by 32 or more swaps the halves first.
      const ror = op === SH_ROR;
      const left = typeof c === 'number' ? (ror ? 64 - c : c) : ror ? `(64 - ${c})` : c;
      const lge32 = typeof left === 'number' ? left >= 32 : `${left} >= 32`;
      const l = typeof left === 'number' ? left & 31 : `(${left} & 31)`;
      const rot = (x: string, y: string): string => (typeof l === 'number' && l === 0) ? `${r} = ${x}; ${rh} = ${y};`
        : sel(typeof l === 'number' ? true : `${l} !== 0`,
          `${rh} = ((${y} << ${l}) | (${x} >>> (32 - ${l}))) >>> 0; ${r} = ((${x} << ${l}) | (${y} >>> (32 - ${l}))) >>> 0;`,
          `${r} = ${x}; ${rh} = ${y};`);
      const flags = ror ? `${cf} = ${rh} >>> 31; ${of} = ${cf} ^ ((${rh} >>> 30) & 1);` : `${cf} = ${r} & 1; ${of} = (${rh} >>> 31) ^ ${cf};`;
      return `${sel(lge32, rot(ah, a), rot(a, ah))} ${flags}`;
    }
  }
}

function emitGroup2(e: Emitter, block: Block, k: number): boolean {
  const i = block.insns[k];
  const s = i.opSize;
  let op = i.regField;
  if (op === 2 || op === 3) return false; // RCL/RCR: the handler (rare, carry-dependent)
  if (op === SH_SAL) op = SH_SHL;
  const mask = s === 8 ? 63 : 31;
  const out = e.out;
  const constCount = i.opcode === 0xd3 ? undefined : (i.opcode === 0xd1 ? 1 : i.imm & 0xff) & mask;
  if (constCount === 0) {
    // Flags and value unchanged; a 32-bit register destination is still written (zero-extended).
    if (i.mod !== 3) return false; // memory: the handler (still probes and writes back)
    if (s === 4) out.push(`hi[${i.rm}] = 0;`);
    return true;
  }
  const cnt = e.fresh();
  if (constCount === undefined) out.push(`const ${cnt} = lo[1] & ${mask};`); // before the operand: RCX may be the destination
  const { v, vh, write } = readRmForWrite(e, block, k);
  const dead = e.flagsDead; // flag-liveness.ts
  const r = e.fresh(), rh = e.fresh(), cf = e.fresh(), of = e.fresh();
  const rotate = op === SH_ROL || op === SH_ROR;
  // Rotates keep SF/ZF/PF/AF. After a logic op, a shift or a multiply (AF clear,
  // the others from the recorded result, which is still in f) only CF and OF
  // change: turning the record into LAZY_CFOF keeps it lazy. Otherwise the
  // previous flags are materialised.
  const prev = e.known;
  const keep = rotate && prev !== undefined && (prev.op === LAZY_LOGIC || prev.op === LAZY_CFOF || prev.op === LAZY_IMUL);
  const flagStmt = dead ? '' : keep ? `f.op = ${LAZY_CFOF}; f.b = ${of}; f.cin = ${cf};` : rotate
    ? `f.setEager((f.arith() & ${~(FLAG_CF | FLAG_OF)}) | ${cf} | (${of} << 11));`
    : `f.op = ${LAZY_CFOF}; f.size = ${s}; f.res = ${r}; f.resHi = ${s === 8 ? rh : '0'}; f.b = ${of}; f.cin = ${cf}; f.hi = ${s === 8 ? rh : '0'};`;
  if (constCount !== undefined) {
    out.push(`let ${r}, ${rh} = 0, ${cf}, ${of};`, shiftCode(op, s, v, vh, constCount, r, rh, cf, of), flagStmt);
    if (!rotate && !dead) e.known = { lo: r, hi: s === 8 ? rh : undefined, op: LAZY_CFOF, carry: cf };
  } else {
    // Count 0 at run time: value and flags unchanged (the operand is still written back).
    out.push(`let ${r} = ${v}, ${rh} = ${vh}, ${cf}, ${of};`,
      `if (${cnt} !== 0) { ${shiftCode(op, s, v, vh, cnt, r, rh, cf, of)} ${flagStmt} }`);
    if (!keep) e.known = undefined;
  }
  // A kept record still has ZF from the earlier result (a count of 0 at run time
  // changes nothing), but CF/OF are no longer the logic op's: known says LAZY_CFOF.
  if (keep && !dead && prev !== undefined) e.known = { lo: prev.lo, hi: prev.hi, size: prev.size, op: LAZY_CFOF };
  else if (rotate || dead) e.known = undefined;
  write(r, rh);
  return true;
}

// ---------------------------------------------------------------- SHLD/SHRD

function emitDoubleShift(e: Emitter, block: Block, k: number): boolean {
  const i = block.insns[k];
  const s = i.opSize;
  const right = i.opcode >= 0x1ac;
  const mask = s === 8 ? 63 : 31;
  const out = e.out;
  const constCount = (i.opcode & 1) === 0 ? (i.imm & 0xff) & mask : undefined;
  if (constCount === 0) {
    if (i.mod !== 3) return false;
    if (s === 4) out.push(`hi[${i.rm}] = 0;`);
    return true;
  }
  const cnt = e.fresh();
  if (constCount === undefined) out.push(`const ${cnt} = lo[1] & ${mask};`);
  const src = e.fresh(), srch = e.fresh();
  out.push(`const ${src} = lo[${i.reg}], ${srch} = ${s === 8 ? `hi[${i.reg}]` : '0'};`);
  const { v, vh, write } = readRmForWrite(e, block, k);
  const dead = e.flagsDead; // flag-liveness.ts
  const r = e.fresh(), rh = e.fresh(), cf = e.fresh(), of = e.fresh();
  const c: number | string = constCount ?? cnt;
  let body: string;
  if (s === 4) {
    // Count 1..31: the destination shifted, filled from the source.
    body = right
      ? `${r} = ((${v} >>> ${c}) | (${src} << (32 - ${c}))) >>> 0; ${cf} = (${v} >>> (${c} - 1)) & 1;`
      : `${r} = ((${v} << ${c}) | (${src} >>> (32 - ${c}))) >>> 0; ${cf} = (${v} >>> (32 - ${c})) & 1;`;
    body += ` ${of} = ((${r} ^ ${v}) >>> 31) & 1;`;
  } else {
    // 64-bit, count 1..63: a 64-bit shift of (v, vh) filled from (src, srch); the
    // 128-bit funnel splits at 32 (literal counts pick their case here).
    let lt: string, eq: string, gt: string;
    if (right) {
      lt = `${r} = ((${v} >>> ${c}) | (${vh} << (32 - ${c}))) >>> 0; ${rh} = ((${vh} >>> ${c}) | (${src} << (32 - ${c}))) >>> 0; ${cf} = (${v} >>> (${c} - 1)) & 1;`;
      eq = `${r} = ${vh}; ${rh} = ${src}; ${cf} = ${v} >>> 31;`;
      gt = `${r} = ((${vh} >>> (${c} - 32)) | (${src} << (64 - ${c}))) >>> 0; ${rh} = ((${src} >>> (${c} - 32)) | (${srch} << (64 - ${c}))) >>> 0; ${cf} = (${vh} >>> (${c} - 33)) & 1;`;
    } else {
      lt = `${rh} = ((${vh} << ${c}) | (${v} >>> (32 - ${c}))) >>> 0; ${r} = ((${v} << ${c}) | (${srch} >>> (32 - ${c}))) >>> 0; ${cf} = (${vh} >>> (32 - ${c})) & 1;`;
      eq = `${rh} = ${v}; ${r} = ${srch}; ${cf} = ${vh} & 1;`;
      gt = `${rh} = ((${v} << (${c} - 32)) | (${srch} >>> (64 - ${c}))) >>> 0; ${r} = ((${srch} << (${c} - 32)) | (${src} >>> (64 - ${c}))) >>> 0; ${cf} = (${v} >>> (64 - ${c})) & 1;`;
    }
    body = typeof c === 'number' ? (c < 32 ? lt : c === 32 ? eq : gt)
      : `if (${c} < 32) { ${lt} } else if (${c} === 32) { ${eq} } else { ${gt} }`;
    body += ` ${of} = ((${rh} ^ ${vh}) >>> 31) & 1;`;
  }
  const flagStmt = dead ? ''
    : `f.op = ${LAZY_CFOF}; f.size = ${s}; f.res = ${r}; f.resHi = ${s === 8 ? rh : '0'}; f.b = ${of}; f.cin = ${cf}; f.hi = ${s === 8 ? rh : '0'};`;
  if (constCount !== undefined) {
    out.push(`let ${r}, ${rh} = 0, ${cf}, ${of};`, body, flagStmt);
    e.known = dead ? undefined : { lo: r, hi: s === 8 ? rh : undefined, op: LAZY_CFOF, carry: cf };
  } else {
    out.push(`let ${r} = ${v}, ${rh} = ${vh}, ${cf}, ${of};`, `if (${cnt} !== 0) { ${body} ${flagStmt} }`);
    e.known = undefined;
  }
  write(r, rh);
  return true;
}

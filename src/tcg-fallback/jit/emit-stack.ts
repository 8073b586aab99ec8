/**
 * Translator family: the stack and near control transfers in 64-bit code
 * (PUSH/POP reg, CALL rel32, CALL/JMP through a register or memory, RET).
 * Kernel code is full of them, and through the handlers each one walked the
 * segmented push/pop path; here a stack access is one inline TLB hit.
 *
 * Only 64-bit code with 64-bit operands: the stack segment's base is zero
 * and limits are not checked, so RSP is the linear address (a non-canonical
 * RSP takes the slow path in the emitter's load/store, which raises #SS).
 * Register updates follow the memory access so a fault leaves RSP intact.
 */
import type { Block } from './block';
import { type Emitter, canonical } from './emitter';

const SEG_SS = 2;
const TWO_32 = 4294967296;
/** RSP as the CPU's signed-number address (exact for canonical values). */
const RSP = '((hi[4] | 0) * 4294967296 + lo[4])';

/** What emitStack did: nothing, code that falls through, or code that ends the block (returns). */
export type StackEmit = 'none' | 'fall' | 'end';

/**
 * `const sp = RSP + delta` (delta -8 or 0), with the halves of sp noted for
 * the inline TLB path (Emitter.noteAddressHalves): RSP - 8 borrows from the
 * high half when the low one is below 8.
 */
function stackAddress(e: Emitter, sp: string, delta: 0 | -8): string {
  if (delta === 0) {
    e.noteAddressHalves(sp, 'lo[4]', '(hi[4] | 0)');
    return `const ${sp} = ${RSP};`;
  }
  e.noteAddressHalves(sp, '((lo[4] - 8) >>> 0)', '((hi[4] | 0) - (lo[4] < 8 ? 1 : 0))');
  return `const ${sp} = ${RSP} - 8;`;
}

/**
 * RSP += delta (-8 for a push, 8 plus RET's immediate for a pop), on the
 * halves: the high half moves only on a borrow or carry out of the low one.
 * Integer operations only, where the sum as one number would take a
 * floating-point division and truncation to split again.
 */
function moveRsp(delta: number): string {
  if (delta < 0) return `hi[4] = lo[4] < ${-delta} ? (hi[4] - 1) >>> 0 : hi[4]; lo[4] = (lo[4] - ${-delta}) >>> 0;`;
  return `hi[4] = lo[4] + ${delta} >= 4294967296 ? (hi[4] + 1) >>> 0 : hi[4]; lo[4] = (lo[4] + ${delta}) >>> 0;`;
}

export function emitStack(e: Emitter, block: Block, k: number): StackEmit {
  if (block.codeSize !== 8) return 'none';
  const i = block.insns[k];
  const op = i.opcode;
  const out = e.out;
  const next = block.nexts[k];
  const last = k === block.insns.length - 1;
  const end = `return n + ${k + 1};`;
  if (op >= 0x50 && op <= 0x5f && i.opSize === 8) {
    const r = (op & 7) | ((i.rex & 1) << 3);
    out.push(e.precise(k));
    const sp = e.fresh();
    if (op < 0x58) {
      out.push(stackAddress(e, sp, -8));
      e.store(SEG_SS, sp, 8, `lo[${r}]`, `hi[${r}]`);
      out.push(moveRsp(-8));
      if (!last) out.push(`if (!b.valid) { cpu.rip = ${next}; ${end} }`);
    } else {
      out.push(stackAddress(e, sp, 0));
      const [v, vh] = e.load(SEG_SS, sp, 8);
      // POP RSP: the loaded value wins over the increment.
      out.push(`${moveRsp(8)} lo[${r}] = ${v}; hi[${r}] = ${vh};`);
    }
    return 'fall';
  }
  if (op === 0xe8 && i.opSize === 8) {
    const target = next + i.imm;
    if (!canonical(target)) return 'none';
    out.push(e.precise(k));
    const sp = e.fresh();
    out.push(stackAddress(e, sp, -8));
    e.store(SEG_SS, sp, 8, `${next >>> 0}`, `${Math.floor(next / TWO_32) >>> 0}`);
    out.push(`${moveRsp(-8)} cpu.rip = ${target}; ${end}`);
    return 'end';
  }
  if ((op === 0xc3 || op === 0xc2) && i.opSize === 8) {
    out.push(e.precise(k));
    const sp = e.fresh();
    out.push(stackAddress(e, sp, 0));
    const [v, vh] = e.load(SEG_SS, sp, 8);
    // A non-canonical target raises #GP before RSP moves.
    const t = e.fresh();
    out.push(`const ${t} = (${vh} | 0) * 4294967296 + ${v};`, e.checkTarget64(t));
    out.push(`${moveRsp(8 + (op === 0xc2 ? i.imm : 0))} cpu.rip = ${t}; ${end}`);
    return 'end';
  }
  if (op === 0xff && (i.regField === 2 || i.regField === 4) && i.opSize === 8) {
    out.push(e.precise(k));
    let target: string;
    if (i.mod === 3) target = `(hi[${i.rm}] | 0) * 4294967296 + lo[${i.rm}]`;
    else {
      const ea = e.ea(i, next);
      if (ea === undefined) return 'none';
      const [v, vh] = e.load(i.segment, ea, 8);
      target = `(${vh} | 0) * 4294967296 + ${v}`;
    }
    // Checked before the CALL's push: a non-canonical target raises #GP with nothing stored.
    const t = e.fresh();
    out.push(`const ${t} = ${target};`, e.checkTarget64(t));
    if (i.regField === 2) {
      const sp = e.fresh();
      out.push(stackAddress(e, sp, -8));
      e.store(SEG_SS, sp, 8, `${next >>> 0}`, `${Math.floor(next / TWO_32) >>> 0}`);
      out.push(moveRsp(-8));
    }
    out.push(`cpu.rip = ${t}; ${end}`);
    return 'end';
  }
  return 'none';
}

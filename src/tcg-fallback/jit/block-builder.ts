/**
 * Decodes a run of instructions from one page of guest RAM into a Block,
 * with the same decoder the interpreter uses. A block stops at a taken-branch
 * candidate or another state-changing instruction (block-policy), at the end
 * of the page (instructions crossing a page are left to the interpreter), at
 * a decode fault (the fault is raised when execution reaches it, from the
 * interpreter), at the CS limit, and at MAX_BLOCK instructions.
 */
import type { Cpu, Handler } from '../cpu';
import { CodeReader, DecodedInstruction, decode } from '../decoder';
import { lockAllowed } from '../lock-rules';
import { Block, pageKey } from './block';
import { mayContinueBlock } from './block-policy';
import { tier1Handler } from './tier1-handlers';

const MAX_BLOCK = 48;

/** Thrown by the page-bounded reader when an instruction runs past the page. */
class CrossesPage extends Error {}
const crossesPage = new CrossesPage('crosses page');

/** Serves bytes from one host page only. */
class PageReader implements CodeReader {
  bytes: Uint8Array = new Uint8Array(0);
  pageStart = 0;
  codePageOffset = 0;
  codePage(linear: number): Uint8Array {
    this.codePageOffset = this.pageStart + (linear & 0xfff);
    return this.bytes;
  }
  fetchCodeByte(): number { throw crossesPage; }
}

const reader = new PageReader();

/**
 * A short or near JMP in 64-bit code to a later address on the same page:
 * the distance from its end to the target, so the block can go on there
 * (one block instead of two, and the compiled code runs straight through);
 * else undefined. Forward only, so a block never loops on itself this way.
 */
function followedJump(i: DecodedInstruction, codeSize: number, next: number, endOffset: number): number | undefined {
  if (codeSize !== 8 || i.opSize !== 8 || (i.opcode !== 0xeb && i.opcode !== 0xe9)) return undefined;
  return i.imm > 0 && endOffset + i.imm < 4096 && next + i.imm < 0x800000000000 ? i.imm : undefined;
}

/** The handler of a followed JMP: the runner has already set nextRip to its target. */
const followJump: Handler = () => { /* nothing: see followedJump */ };

/**
 * Builds the block starting at `rip` (linear `lin`), whose page lies at
 * `pageStart` in `bytes`. Returns undefined when not even the first
 * instruction can be cached (the interpreter then runs it). A forward JMP
 * within the page does not end the block (followedJump).
 */
export function buildBlock(cpu: Cpu, rip: number, lin: number, bytes: Uint8Array, pageStart: number, physPage: number, csLimit: number): Block | undefined {
  const codeSize = cpu.codeSize;
  reader.bytes = bytes;
  reader.pageStart = pageStart;
  const insns: DecodedInstruction[] = [];
  const handlers: Handler[] = [];
  const nexts: number[] = [];
  const startOff = lin & 0xfff;
  let off = startOff;
  let cur = rip;
  let lastOffset = rip;
  while (insns.length < MAX_BLOCK && off < 4096) {
    const i = new DecodedInstruction();
    try {
      decode(reader, lin + (off - startOff), codeSize, i);
    } catch {
      break; // crosses the page or faults: the interpreter handles it when reached
    }
    if (off + i.length > 4096) break;
    if (i.lock && !lockAllowed(i)) break;
    const end = cur + i.length;
    if (codeSize !== 8 && end - 1 > csLimit) break;
    const next = codeSize === 8 ? end : codeSize === 4 ? end >>> 0 : end & 0xffff;
    insns.push(i);
    lastOffset = end - 1;
    const jumpTo = followedJump(i, codeSize, next, off + i.length);
    if (jumpTo !== undefined && insns.length < MAX_BLOCK) {
      // The block goes on at the JMP's target: the JMP itself does nothing more (its "next" is the target).
      handlers.push(followJump);
      nexts.push(next + jumpTo);
      off += i.length + jumpTo;
      cur = next + jumpTo;
      continue;
    }
    handlers.push(tier1Handler(cpu.handlers, i, codeSize));
    nexts.push(next);
    off += i.length;
    if (next !== end || !mayContinueBlock(i)) break; // IP wrapped, or state may change
    cur = next;
  }
  if (insns.length === 0) return undefined;
  // A followed JMP whose target could not join the block ends it as an ordinary JMP.
  const last = insns.length - 1;
  if (handlers[last] === followJump) {
    handlers[last] = tier1Handler(cpu.handlers, insns[last], codeSize);
    nexts[last] -= insns[last].imm;
  }
  return new Block(pageKey(startOff, codeSize), physPage, rip, codeSize, insns, handlers, Float64Array.from(nexts), lastOffset);
}

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
 * Builds the block starting at `rip` (linear `lin`), whose page lies at
 * `pageStart` in `bytes`. Returns undefined when not even the first
 * instruction can be cached (the interpreter then runs it).
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
    handlers.push(tier1Handler(cpu.handlers, i, codeSize));
    nexts.push(next);
    lastOffset = end - 1;
    off += i.length;
    if (next !== end || !mayContinueBlock(i)) break; // IP wrapped, or state may change
    cur = next;
  }
  if (insns.length === 0) return undefined;
  return new Block(pageKey(startOff, codeSize), physPage, rip, codeSize, insns, handlers, Float64Array.from(nexts), lastOffset);
}

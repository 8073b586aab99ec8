/**
 * A cached basic block: instructions decoded once from one guest physical
 * page, executed many times. Valid while its bytes are unchanged (writes by
 * the CPU invalidate it at once; device DMA is caught by re-checking the
 * snapshot after device activity) and while it is looked up with the same
 * code size and starting RIP (the key).
 */
import type { Handler } from '../cpu';
import type { DecodedInstruction } from '../decoder';
import type { CompiledBlock } from './codegen';

export class Block {
  /** False once a write hit its page; the runner stops after the current instruction. */
  valid = true;
  /** Device epoch at which `snapshot` was last compared with guest RAM. */
  checkedEpoch: number;
  /** Last successor seen (direct chaining), with the conditions it was found under. */
  chainNext: Block | undefined;
  chainGeneration = -1;
  chainCpl = -1;
  chainCsBase = NaN;
  /** The last instruction is port I/O: devices may have written RAM (DMA) by the time it retires. */
  endsWithPortIo = false;
  /** Executions so far, until the block is hot enough to compile. */
  hits = 0;
  /** Second tier: the block as a JavaScript function (see codegen). */
  compiled: CompiledBlock | undefined;
  /** Compilation failed (an internal error): stay interpreted. */
  uncompilable = false;
  /** RIP of the last instruction: a stop address after the first instruction but up to here needs single steps. */
  lastInsnRip = 0;
  /** Instructions retired by earlier iterations of a compiled self-loop still running (precise counts on a fault). */
  loopBase = 0;

  constructor(
    /** Lookup key: physical address and code size (see blockKey). */
    readonly key: number,
    /** Guest physical page number holding every byte of the block. */
    readonly physPage: number,
    /** RIP of the first instruction (the key is physical; a different CS base could reach it with another RIP). */
    readonly rip: number,
    readonly codeSize: number,
    readonly insns: DecodedInstruction[],
    readonly handlers: Handler[],
    /** Fall-through RIP after each instruction, already wrapped to the code size. */
    readonly nexts: Float64Array,
    /** Copy of the guest bytes decoded, to detect changes made behind the CPU's back. */
    readonly snapshot: Uint8Array,
    /** Offset within the page of the first byte. */
    readonly pageOffset: number,
    /** Highest code-segment offset the block touches (checked against CS.limit outside 64-bit mode). */
    readonly lastOffset: number,
    epoch: number,
  ) {
    this.checkedEpoch = epoch;
    this.lastInsnRip = insns.length > 1 ? nexts[insns.length - 2] : rip;
  }
}

/** Physical address and code size (2, 4, 8) as one exact number (physical addresses are < 2^52). */
export function blockKey(phys: number, codeSize: number): number {
  return phys * 4 + (codeSize === 8 ? 2 : codeSize === 4 ? 1 : 0);
}

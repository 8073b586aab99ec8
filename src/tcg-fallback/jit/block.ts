/**
 * A cached basic block: instructions decoded once from one guest physical
 * page, executed many times. Valid while its bytes are unchanged (a CPU
 * store into the page, or device DMA announced through
 * GuestMemory.noteDmaWrite, invalidates it at once) and while it is looked
 * up with the same code size and starting RIP.
 */
import type { Handler } from '../cpu';
import type { DecodedInstruction } from '../decoder';
import type { CompiledBlock } from './codegen';
import type { WasmTranslation } from '../wasm/tier';

/**
 * A direct link from one block to the block that ran after it, with the
 * conditions it was found under: the successor's physical address came from
 * a TLB lookup that is only still right while the MMU generation, the CPL
 * (user/supervisor TLB half) and the CS base are unchanged. BlockRunner.lookup
 * checks them (with the target's `valid`, RIP and code size) on every use.
 */
export class ChainSlot {
  target: Block | undefined = undefined;
  generation = -1;
  cpl = -1;
  csBase = NaN;
  /** The target's page was reached through a global translation: only MMU.globalGeneration matters (a CR3 write keeps it). */
  global = false;

  /** `generation`: the MMU's generation, or its globalGeneration when `global`. */
  set(target: Block, generation: number, cpl: number, csBase: number, global = false): void {
    this.target = target;
    this.generation = generation;
    this.cpl = cpl;
    this.csBase = csBase;
    this.global = global;
  }

  /** The same link as `other` (a jump cache entry that was just followed or filled). */
  copy(other: ChainSlot): void {
    this.set(other.target as Block, other.generation, other.cpl, other.csBase, other.global);
  }
}

/**
 * Fields are declared in the order the runner reads them at a block
 * transition (identity and validity, then the tier decision, then the links),
 * cold ones last: V8 lays fields out in declaration order, and the runner's
 * costliest step is the first read of the next block's fields.
 */
export class Block {
  /** RIP of the first instruction (the key is physical; a different CS base could reach it with another RIP). */
  readonly rip: number;
  readonly codeSize: number;
  /** False once a write hit its page; the runner stops after the current instruction. */
  valid = true;
  /** Second tier: the block as a JavaScript function (see codegen). */
  compiled: CompiledBlock | undefined = undefined;
  /** Third tier: the block's WebAssembly translation (see wasm/tier.ts). */
  wasm: WasmTranslation | undefined = undefined;
  /** Executions so far, until the block is hot enough to compile. */
  hits = 0;
  readonly insns: DecodedInstruction[];
  readonly handlers: Handler[];
  /** RIP of the last instruction: a stop address after the first instruction but up to here needs single steps. */
  readonly lastInsnRip: number;
  /** RIP after the last instruction when it does not branch (selects chainFall). */
  readonly fallRip: number;
  /** Successor when execution falls through past the last instruction (a Jcc not taken, a call's return point...). */
  readonly chainFall = new ChainSlot();
  /** Successor seen last at any other RIP (a taken branch, the last return target). */
  readonly chainOther = new ChainSlot();
  /** Compilation failed (an internal error): stay interpreted. */
  uncompilable = false;
  /** WebAssembly translation: 0 not tried, 1 queued, 2 not translatable (see wasm/tier.ts). */
  wasmStatus = 0;
  /** Instructions a compiled self-loop retired in earlier iterations, stored by its code when a fault leaves it; the runner reads and clears it. */
  loopBase = 0;
  /** Key within its page: offset and code size (see pageKey). */
  readonly key: number;
  /** Guest physical page number holding every byte of the block. */
  readonly physPage: number;
  /** Fall-through RIP after each instruction, already wrapped to the code size. */
  readonly nexts: Float64Array;
  /** Highest code-segment offset the block touches (checked against CS.limit outside 64-bit mode). */
  readonly lastOffset: number;

  constructor(key: number, physPage: number, rip: number, codeSize: number, insns: DecodedInstruction[], handlers: Handler[],
    nexts: Float64Array, lastOffset: number) {
    this.rip = rip;
    this.codeSize = codeSize;
    this.insns = insns;
    this.handlers = handlers;
    this.lastInsnRip = insns.length > 1 ? nexts[insns.length - 2] : rip;
    this.fallRip = nexts[insns.length - 1];
    this.key = key;
    this.physPage = physPage;
    this.nexts = nexts;
    this.lastOffset = lastOffset;
  }
}

/** Offset in the page (< 4096) and code size (2, 4, 8) as one small integer: a block's key within its page. */
export function pageKey(offset: number, codeSize: number): number {
  return offset * 4 + (codeSize === 8 ? 2 : codeSize === 4 ? 1 : 0);
}

/**
 * The WebAssembly tier at run time. One WasmTier per machine (per block
 * cache) owns the table of translated blocks and batches newly hot blocks
 * into modules: compiling one small module costs tens of microseconds,
 * against milliseconds for a JavaScript block, but each module instance
 * costs something to call into and to instantiate, so blocks go in batches.
 * One WasmVcpu per vCPU enters translated code: it copies what a block
 * needs beyond the registers (the flags record, CPL, MMU generations, FS/GS
 * bases, the budget) into its state area, calls the block, which chains
 * through the jump cache to the next translated blocks for as long as it
 * finds them, and copies back RIP, the count retired and the flags.
 */
import type { Cpu } from '../cpu';
import { SEG_FS, SEG_GS, TWO_32 } from '../cpu-constants';
import { LAZY_EAGER, LAZY_IMUL, SIZE_MASK } from '../lazy-flags';
import { TLB_MASK, TLB_SIZE } from '../mmu';
import type { Block } from '../jit/block';
import type { BlockCache } from '../jit/block-cache';
import { FunctionBody, I32, encodeModule } from './encoder';
import {
  EPOCH_MODULES, EXIT_CROSS, EXIT_SLOW, HELPER_COUNT, HELPER_ENTER, HELPER_TYPES, MODULE_TYPES, TABLE_MODULES, TYPE_BLOCK, TYPE_ENTER, helperFunctions,
} from './helpers';
import {
  JUMP_BITS, JUMP_COUNT, JUMP_CPL, JUMP_ENTRY_SIZE, JUMP_GENERATION, JUMP_GLOBAL, JUMP_INDEX, JUMP_MODULE, JUMP_RIP, JUMP_SLOT, JUMP_TAG, MAX_SLOTS,
  STATE_BUDGET, STATE_CPL, STATE_FLAGS, STATE_FS_BASE, STATE_GENERATION, STATE_GLOBAL_GENERATION, STATE_GS_BASE, STATE_JUMP,
  STATE_NEXT_INDEX, STATE_NEXT_MODULE, STATE_RIP, STATE_STOP_AT, STATE_TLB_HALF, WasmSpace,
} from './space';
import { translateBlock } from './translate';
import { numberFromEnv } from '../jit/mode';

/**
 * Runs of a block (in the JavaScript tiers) before it is queued for translation. TSVISOR_WASM_THRESHOLD
 * overrides. Boot to /init, alternating runs (2026-11-25): 20: 10.5-11.0 s, 50: 10.4-10.7, 200: 9.7-10.0,
 * 500: 10.2, 1000: 9.8-10.7. Blocks per module (64) and the rebuild rule (at least 256 new blocks, half
 * as many as the last rebuild held) were measured the same way: batches of 16 were slower, 256 the same;
 * rebuilding sooner or later was no better.
 */
export const DEFAULT_WASM_THRESHOLD = 200;
/** Blocks per module. TSVISOR_WASM_BATCH overrides. */
export const DEFAULT_WASM_BATCH = 64;
/**
 * Calls of BlockRunner.execute (chunks, about a quarter of a millisecond each) a queued block waits at most
 * before its batch is built anyway. Alternating boots: 16 was faster than 4 in 7 of 8 pairs (about 3%),
 * 1 slower in 4 of 4 (8%): more, smaller modules.
 */
const FLUSH_AFTER_CHUNKS = 16;

/** Whether the WebAssembly tier runs (TSVISOR_WASM=0 turns it off). */
export function wasmEnabledFromEnv(): boolean {
  const v = typeof process !== 'undefined' ? process.env.TSVISOR_WASM : undefined;
  return v !== '0';
}

type EnterFunction = (state: number, index: number) => number;
type EpochEnterFunction = (state: number, moduleSlot: number, index: number) => number;

/** Blocks translated since the last merge before they are all rebuilt into one module with the rest (see WasmTier.flush). */
const MERGE_MINIMUM = 256;

/** A block's WebAssembly translation: where its function is now, and its encoded code for rebuilding modules. */
export class WasmTranslation {
  /** The module's number (jump cache entries name it), its way in, and the block's index in its table. */
  module = 0;
  enter: EnterFunction = () => { throw new Error('translation not in a module yet'); };
  index = 0;
  constructor(readonly slot: number, readonly code: Uint8Array) {}
}

export class WasmTier {
  /** Settable for tests (0 and 1: every block translated before its first run). */
  threshold = numberFromEnv('TSVISOR_WASM_THRESHOLD', DEFAULT_WASM_THRESHOLD);
  batch = Math.max(1, numberFromEnv('TSVISOR_WASM_BATCH', DEFAULT_WASM_BATCH));
  private nextSlot = 1;
  private lastTag = 0;
  private lastModule = 0;
  private readonly freeSlots: number[] = [];
  private queue: Block[] = [];
  private chunksWaiting = 0;
  /** Translated blocks still valid. */
  private readonly live = new Set<Block>();
  /** Blocks in the module the last merge built, and translated since (in small modules). */
  private mergedCount = 0;
  private youngCount = 0;
  /** The way into each module still in use, by number (a merge drops the modules it replaces). */
  private readonly enters = new Map<number, EnterFunction>();
  /**
   * The current epoch's modules by number less `epochBase`, a table every module of the epoch
   * imports, so that a block chains to a block of another module without leaving WebAssembly.
   * V8 keeps every instance that imports a table alive with it and updates each on Table.set,
   * so the table is replaced at each full rebuild and the old modules go with it.
   */
  private modulesTable = new WebAssembly.Table({ element: 'anyfunc', initial: EPOCH_MODULES });
  private epochBase = 1;
  /**
   * enter(state, module - epochBase, index) for the current epoch: one function for JavaScript to call
   * into any block of the epoch. V8 optimises a call site with one WebAssembly target; calling each
   * module's own enter from one site went through its generic (slow) JavaScript-to-WebAssembly wrapper.
   */
  private epochTrampoline: EpochEnterFunction | undefined;
  /** Statistics. */
  translated = 0;
  untranslatable = 0;
  modules = 0;
  merges = 0;

  private constructor(readonly space: WasmSpace, cache: BlockCache) {
    cache.onDropTranslated = (b) => this.release(b);
  }

  /** The current epoch's trampoline, built on first use (a vCPU enters WebAssembly only once a block is translated). */
  get epochEnter(): EpochEnterFunction {
    if (this.epochTrampoline === undefined) this.epochTrampoline = this.trampoline();
    return this.epochTrampoline;
  }

  private static readonly byCache = new WeakMap<BlockCache, WasmTier>();

  /** The tier of the machine whose blocks `cache` holds, when its RAM is in a WasmSpace. */
  static forCache(cache: BlockCache, space: WasmSpace): WasmTier {
    let tier = WasmTier.byCache.get(cache);
    if (tier === undefined) { tier = new WasmTier(space, cache); WasmTier.byCache.set(cache, tier); }
    return tier;
  }

  /** `b` ran `threshold` times: translate it with the next batch (or mark it untranslatable). */
  queueBlock(b: Block): void {
    b.wasmStatus = 1;
    this.queue.push(b);
    if (this.queue.length >= this.batch) this.flush();
  }

  /** End of a chunk: a batch waiting too long is built as it is. */
  endOfChunk(): void {
    if (this.queue.length > 0 && ++this.chunksWaiting >= FLUSH_AFTER_CHUNKS) this.flush();
  }

  /**
   * Translates the queued blocks into one module. Blocks chain directly only
   * within a module, so once the blocks translated since the last merge are
   * half as many as those merged (and at least MERGE_MINIMUM), every live
   * block is rebuilt into one module: the total rebuilt stays a small
   * multiple of the blocks translated.
   */
  flush(): void {
    const blocks: Block[] = [];
    for (const b of this.queue) {
      if (!b.valid) continue;
      const body = translateBlock(b);
      if (body === undefined) { b.wasmStatus = 2; this.untranslatable++; continue; }
      const slot = this.allocateSlot();
      if (slot === 0) { b.wasmStatus = 2; continue; }
      // Tags never repeat within a machine's life (2^32 translations), and 0 means empty.
      this.space.slotTags[slot] = ++this.lastTag;
      b.wasm = new WasmTranslation(slot, Uint8Array.from(body.encode()));
      this.live.add(b);
      blocks.push(b);
      this.translated++;
    }
    this.queue = [];
    this.chunksWaiting = 0;
    if (blocks.length === 0) return;
    this.youngCount += blocks.length;
    if ((this.youngCount >= MERGE_MINIMUM && 2 * this.youngCount >= this.mergedCount) || this.lastModule + 1 - this.epochBase >= EPOCH_MODULES) {
      // A new epoch: a new table of modules, which the old modules (and the table they share) can be collected with.
      this.enters.clear();
      this.epochBase = this.lastModule + 1;
      this.modulesTable = new WebAssembly.Table({ element: 'anyfunc', initial: EPOCH_MODULES });
      this.epochTrampoline = undefined;
      this.build([...this.live]);
      this.mergedCount = this.live.size;
      this.youngCount = 0;
      this.merges++;
    } else this.build(blocks);
  }

  /** One module holding `blocks` (each has its translation); points each block at it. */
  private build(blocks: Block[]): void {
    const id = ++this.lastModule;
    const helpers = helperFunctions(this.space.codePagesOffset, this.space.slotTagsOffset, id, this.epochBase);
    const functions = [...helpers.map((body, k) => ({ type: HELPER_TYPES[k], code: body.encode() })),
      ...blocks.map((b) => ({ type: TYPE_BLOCK, code: (b.wasm as WasmTranslation).code }))];
    const bytes = encodeModule(MODULE_TYPES, functions, [{ name: 'enter', fn: HELPER_ENTER }], blocks.map((_, j) => HELPER_COUNT + j), EPOCH_MODULES);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.space.memory, modules: this.modulesTable } });
    const enter = instance.exports.enter as EnterFunction;
    this.enters.set(id, enter);
    this.modulesTable.set(id - this.epochBase, enter);
    this.modules++;
    for (let j = 0; j < blocks.length; j++) {
      const w = blocks[j].wasm as WasmTranslation;
      w.module = id; w.enter = enter; w.index = j;
    }
  }

  /** The epoch's trampoline: a module importing its table of modules, exporting enter(state, slot, index). */
  private trampoline(): EpochEnterFunction {
    const body = new FunctionBody(3);
    body.get(0).get(2).get(1).returnCallIndirect(TYPE_ENTER, TABLE_MODULES);
    const bytes = encodeModule([...MODULE_TYPES, { params: [I32, I32, I32], results: [I32] }], [{ type: MODULE_TYPES.length, code: body.encode() }],
      [{ name: 'enter', fn: 0 }], [], EPOCH_MODULES);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.space.memory, modules: this.modulesTable } });
    return instance.exports.enter as EpochEnterFunction;
  }

  /** The first module number of the current epoch (the trampoline's slot 0). */
  get currentEpochBase(): number { return this.epochBase; }

  /** The way into module number `id`, undefined once a merge replaced it. */
  moduleEnter(id: number): EnterFunction | undefined { return this.enters.get(id); }

  private allocateSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.nextSlot >= MAX_SLOTS) return 0;
    return this.nextSlot++;
  }

  /** `b` was dropped (its page was written): jump cache entries for it stop matching, and its slot is reused. */
  private release(b: Block): void {
    const w = b.wasm as WasmTranslation;
    this.space.slotTags[w.slot] = 0;
    this.freeSlots.push(w.slot);
    this.live.delete(b);
    b.wasm = undefined;
  }
}

/** A vCPU's entry into translated code. */
export class WasmVcpu {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  /** Whether the last run stopped before an instruction it left to JavaScript (the runner must run that one there). */
  slowExit = false;

  constructor(readonly tier: WasmTier, private readonly cpu: Cpu, private readonly state: number) {
    const buffer = tier.space.buffer;
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  /** Writes the number `v` (a signed 64-bit value, exact) as an int64 at absolute offset `at`. */
  private writeInt64(at: number, v: number): void {
    this.u32[at >> 2] = v >>> 0;
    this.u32[(at >> 2) + 1] = Math.floor(v / TWO_32) | 0;
  }

  /**
   * Runs translated block `b` and whatever it chains to, at most `room`
   * instructions, none at `stopAt` (NaN: no stop address) but the first.
   * Returns the instructions retired; cpu.rip is where it stopped.
   */
  run(b: Block, room: number, stopAt: number): number {
    const cpu = this.cpu, s = this.state, u32 = this.u32, i32 = this.i32;
    const mmu = cpu.mmu;
    const cpl = cpu.cpl;
    const fl = cpu.flags;
    const fw = (s + STATE_FLAGS) >> 2;
    const op = fl.op;
    if (op === LAZY_IMUL) {
      // Kinds the translated $flags does not compute: as eager bits.
      u32[fw + 9] = fl.arith(); u32[fw] = LAZY_EAGER;
    } else {
      const size = fl.size, mask = SIZE_MASK[size], wide = size === 8;
      u32[fw] = op; u32[fw + 1] = size;
      u32[fw + 2] = fl.res & mask; u32[fw + 3] = wide ? fl.resHi : 0;
      u32[fw + 4] = fl.a & mask; u32[fw + 5] = wide ? fl.aHi : 0;
      u32[fw + 6] = fl.b & mask; u32[fw + 7] = wide ? fl.bHi : 0;
      u32[fw + 8] = fl.cin; u32[fw + 9] = fl.eager;
    }
    i32[(s + STATE_CPL) >> 2] = cpl;
    i32[(s + STATE_TLB_HALF) >> 2] = cpl === 3 ? TLB_SIZE : 0;
    i32[(s + STATE_GENERATION) >> 2] = mmu.generation;
    i32[(s + STATE_GLOBAL_GENERATION) >> 2] = mmu.globalGeneration;
    this.writeInt64(s + STATE_FS_BASE, cpu.segs[SEG_FS].base);
    this.writeInt64(s + STATE_GS_BASE, cpu.segs[SEG_GS].base);
    if (Number.isNaN(stopAt)) { u32[(s + STATE_STOP_AT) >> 2] = 0; u32[((s + STATE_STOP_AT) >> 2) + 1] = 0x80000000; } else this.writeInt64(s + STATE_STOP_AT, stopAt);
    // The jump cache entry for `b`, so that blocks chaining to it find it.
    const rip = b.rip;
    const low = rip >>> 0;
    const e = s + STATE_JUMP + ((low ^ (low >>> 12)) & ((1 << JUMP_BITS) - 1)) * JUMP_ENTRY_SIZE;
    const vpn = Math.floor(rip / 4096);
    const idx = (cpl === 3 ? TLB_SIZE : 0) + (vpn & TLB_MASK);
    const global = mmu.tagExec[idx] === vpn && mmu.global[idx] === 1;
    this.writeInt64(e + JUMP_RIP, rip);
    const w = b.wasm as WasmTranslation;
    i32[(e + JUMP_SLOT) >> 2] = w.slot;
    i32[(e + JUMP_GENERATION) >> 2] = global ? mmu.globalGeneration : mmu.generation;
    i32[(e + JUMP_COUNT) >> 2] = b.insns.length;
    i32[(e + JUMP_CPL) >> 2] = cpl;
    i32[(e + JUMP_GLOBAL) >> 2] = global ? 1 : 0;
    u32[(e + JUMP_TAG) >> 2] = this.tier.space.slotTags[w.slot];
    i32[(e + JUMP_MODULE) >> 2] = w.module;
    i32[(e + JUMP_INDEX) >> 2] = w.index;
    // Each block's dispatch charges it to the budget before choosing the next.
    i32[(s + STATE_BUDGET) >> 2] = room;
    const tier = this.tier;
    const moduleSlot = w.module - tier.currentEpochBase;
    let exit = moduleSlot >= 0 && moduleSlot < EPOCH_MODULES ? tier.epochEnter(s, moduleSlot, w.index) : w.enter(s, w.index);
    // The next block is in another module: calling it from here is the only way across (see WasmTier).
    while (exit === EXIT_CROSS) {
      const enter = this.tier.moduleEnter(i32[(s + STATE_NEXT_MODULE) >> 2]);
      if (enter === undefined) break;
      exit = enter(s, i32[(s + STATE_NEXT_INDEX) >> 2]);
    }
    this.slowExit = exit === EXIT_SLOW;
    cpu.rip = this.f64[(s + STATE_RIP) >> 3];
    fl.op = u32[fw]; fl.size = u32[fw + 1];
    fl.res = u32[fw + 2]; fl.resHi = u32[fw + 3];
    fl.a = u32[fw + 4]; fl.aHi = u32[fw + 5];
    fl.b = u32[fw + 6]; fl.bHi = u32[fw + 7];
    fl.cin = u32[fw + 8]; fl.eager = u32[fw + 9];
    // Every block charges the budget with what it retires, and an early exit with the instructions before it.
    return room - i32[(s + STATE_BUDGET) >> 2];
  }
}

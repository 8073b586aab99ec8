/**
 * Runs guest code from the block cache, falling back to the interpreter for
 * anything the cache cannot hold (MMIO code, page-crossing instructions,
 * single-stepping, the interrupt shadow, decode faults). Same contract as
 * Cpu.execute: at most `budget` instructions, interrupts taken between
 * blocks, stop at `stopAt`, precise state on exceptions (RIP is set before
 * each instruction, instructionCount counts retired ones only).
 *
 * Dispatch: each block links to the blocks that ran after it, one link for
 * falling through its end and one for anywhere else (the last taken-branch
 * or return target), so most transitions skip the TLB and the cache. A link
 * is only followed under the conditions it was made under (see ChainSlot)
 * and while its target is valid; invalidation (CPU stores, announced DMA)
 * clears `valid` at once, so nothing is re-checked against guest RAM here.
 */
import type { Cpu } from '../cpu';
import { CpuException } from '../cpu-exception';
import { FLAG_RF, FLAG_TF, SEG_CS, TWO_32 } from '../cpu-constants';
import { ACCESS_EXEC, TLB_MASK, TLB_SIZE } from '../mmu';
import type { SegmentCache } from '../segment-cache';
import { Block, ChainSlot, pageKey } from './block';
import { buildBlock } from './block-builder';
import { BlockCache } from './block-cache';
import { BlockProfile } from './block-profile';
import { compileBlock, retiredBefore } from './codegen';
import { compileThresholdFromEnv } from './mode';
import { appendFileSync } from 'node:fs';
import { WasmSpace } from '../wasm/space';
import { WasmTier, WasmVcpu, wasmEnabledFromEnv } from '../wasm/tier';

/** TSVISOR_JIT_DUMP=FILE: append each compiled block's generated JavaScript to FILE (a developer's tool). */
const JIT_DUMP_FILE = typeof process !== 'undefined' ? process.env.TSVISOR_JIT_DUMP || undefined : undefined;

/** Entries in the jump cache (a power of two). */
const JUMP_CACHE_SIZE = 4096;

/** The jump cache entry for `rip`: low bits of the page offset mixed with the page number's. */
function jumpCacheIndex(rip: number): number {
  const low = rip >>> 0;
  return (low ^ (low >>> 12)) & (JUMP_CACHE_SIZE - 1);
}

export class BlockRunner {
  readonly cache: BlockCache;
  /** Statistics: instructions run from blocks and by the interpreter fallback. */
  blockInstructions = 0;
  interpretedInstructions = 0;
  /** Of blockInstructions, those retired by compiled code, and the calls into it. */
  compiledInstructions = 0;
  compiledCalls = 0;
  compiledBlocks = 0;
  /** Block executions before compiling (0: compile on first use). */
  compileThreshold = compileThresholdFromEnv();

  /**
   * The jump cache: the block last found at each RIP (hashed), with the
   * conditions it was found under, as QEMU's tb_jmp_cache. It serves the
   * transitions a block's two chain links miss: returns and indirect jumps
   * whose target varies (this kernel ends functions with a JMP to one shared
   * RET, whose successor is a different caller almost every time), and
   * blocks entered after an interrupt or a slice, which have no predecessor.
   */
  private readonly jumpCache: ChainSlot[] = Array.from({ length: JUMP_CACHE_SIZE }, () => new ChainSlot());

  /** TSVISOR_BLOCK_PROFILE: instructions and runs per block (a developer's tool). */
  private readonly profile = BlockProfile.fromEnv();

  /** Whether the last find() reached its page through a global translation (see ChainSlot.global). */
  private foundGlobal = false;

  /** The third tier (WebAssembly), when the vCPU's RAM and state are in a WasmSpace and TSVISOR_WASM allows. */
  private readonly wasm: WasmVcpu | undefined;
  /** Of blockInstructions, those retired by WebAssembly code, and the runs entering it. */
  wasmInstructions = 0;
  wasmRuns = 0;

  /**
   * `cache` is shared by the vCPUs of one machine, so a store by one invalidates code cached for all.
   * `wasm`: run the WebAssembly tier where the vCPU's RAM is in a WasmSpace.
   */
  constructor(private readonly cpu: Cpu, cache?: BlockCache, wasm = wasmEnabledFromEnv()) {
    this.cache = cache ?? BlockCache.forMemory(cpu.memory);
    const space = WasmSpace.of(cpu.memory);
    if (space !== undefined && cpu.wasmState !== undefined && wasm) {
      this.wasm = new WasmVcpu(WasmTier.forCache(this.cache, space), cpu, cpu.wasmState);
    }
  }

  /** The WebAssembly tier's statistics (undefined without it). */
  get wasmTier(): WasmTier | undefined { return this.wasm?.tier; }

  /**
   * An MMIO access: the device may have raised an interrupt (or completed
   * DMA). Compiled self-loops leave at their next back edge when
   * `deviceEpoch` moves, so the interrupt is taken at a block boundary as it
   * would be between blocks. Nothing is re-checked: DMA invalidates code
   * through GuestMemory.noteDmaWrite.
   */
  noteDeviceAccess(): void { this.cache.deviceEpoch++; }

  execute(budget: number, stopAt: number): number {
    const cpu = this.cpu;
    let executed = 0;
    let prev: Block | undefined;
    /** The compiled block running, to count its retired instructions if it throws. */
    let running: Block | undefined;
    /** The block tier 1 is running, to count the instruction that threw. */
    let decoded: Block | undefined;
    let compiledRetired = 0, compiledCalls = 0;
    const profile = this.profile;
    while (executed < budget) {
      try {
        while (executed < budget) {
          if (cpu.stopReason !== undefined || cpu.halted || cpu.waitForSipi || cpu.yieldSlice || cpu.rip === stopAt) {
            budget = cpu.rip === stopAt ? executed : cpu.budgetAfterPause(executed, budget);
            if (executed >= budget) {
              this.countCompiled(compiledRetired, compiledCalls);
              this.wasm?.tier.endOfChunk();
              return executed;
            }
          }
          if (cpu.interruptShadow === 0 && cpu.interruptSource !== undefined && cpu.takeInterrupt()) { prev = undefined; continue; }
          // After a WebAssembly run that stopped before an instruction it leaves to JavaScript (a TLB miss, a fault to
          // raise, a store into code), the interpreter runs that one instruction; what follows it is a block of its own.
          const slow = this.wasm !== undefined && this.wasm.slowExit;
          if (slow) (this.wasm as WasmVcpu).slowExit = false;
          const b = !slow && cpu.interruptShadow === 0 && (cpu.eflagsSys & FLAG_TF) === 0 ? this.lookup(prev) : undefined;
          prev = undefined;
          if (b === undefined) {
            const n = cpu.executeInterpreted(1, stopAt);
            executed += n;
            this.interpretedInstructions += n;
            continue;
          }
          // Whether the whole block may run as one unit: within the budget, with no stop address after its first instruction.
          const whole = executed + b.insns.length <= budget && !(stopAt > b.rip && stopAt <= b.lastInsnRip);
          const wasm = this.wasm;
          if (wasm !== undefined) {
            if (b.wasmStatus === 0 && b.hits >= wasm.tier.threshold && b.codeSize === 8) wasm.tier.queueBlock(b);
            if (b.wasm !== undefined && whole) {
              const retired = wasm.run(b, budget - executed, stopAt);
              executed += retired;
              cpu.instructionCount += retired;
              this.wasmInstructions += retired;
              this.blockInstructions += retired;
              this.wasmRuns++;
              continue;
            }
          }
          if (b.compiled === undefined && !b.uncompilable && ++b.hits > this.compileThreshold) this.compile(b);
          const fn = b.compiled;
          if (fn !== undefined && whole) {
            running = b;
            const retired = fn(cpu, cpu.lo, cpu.hi, cpu.flags, b.handlers, b.insns, b, this.cache, budget - executed);
            running = undefined;
            executed += retired;
            cpu.instructionCount += retired;
            // Statistics in locals, added to the fields once per call of execute (this runs per block).
            compiledRetired += retired;
            compiledCalls++;
            if (profile !== undefined) profile.compiled(b.rip, retired);
            if (b.valid && cpu.stopReason === undefined && !cpu.halted) prev = b;
            continue;
          }
          decoded = b;
          const k = this.runDecoded(b, budget - executed, stopAt);
          decoded = undefined;
          executed += k;
          this.blockInstructions += k;
          if (profile !== undefined) profile.decoded(b.rip, k);
          if (this.decodedComplete) prev = b;
        }
      } catch (e) {
        if (decoded !== undefined) {
          // The handler of the instruction at cpu.rip threw: it counts against the budget, as the interpreter's would.
          executed += retiredBefore(decoded, cpu.rip) + 1;
          decoded = undefined;
        }
        if (running !== undefined) {
          // Precise state: cpu.rip is the faulting instruction; those before it retired.
          // A self-loop left its earlier iterations' count in loopBase (set only on a fault).
          const retired = running.loopBase + retiredBefore(running, cpu.rip);
          running.loopBase = 0;
          executed += retired + 1;
          cpu.instructionCount += retired;
          this.blockInstructions += retired;
          running = undefined;
        }
        if (!(e instanceof CpuException)) throw e;
        prev = undefined;
        cpu.interruptShadow = 0;
        cpu.eflagsSys &= ~FLAG_RF;
        cpu.raise(e);
      }
    }
    this.countCompiled(compiledRetired, compiledCalls);
    this.wasm?.tier.endOfChunk();
    return executed;
  }

  /** Whether the last runDecoded ran its block to the end (the next block may then be chained to it). */
  private decodedComplete = false;

  /**
   * Tier 1: the block's decoded instructions through their handlers, at most
   * `room` of them, stopping before `stopAt` (after the first). Returns how
   * many ran; a throw leaves cpu.rip at the instruction that threw.
   */
  private runDecoded(b: Block, room: number, stopAt: number): number {
    const cpu = this.cpu;
    const insns = b.insns, handlers = b.handlers, nexts = b.nexts, count = insns.length;
    let k = 0;
    for (; k < count; k++) {
      if (k >= room || (k > 0 && cpu.rip === stopAt)) { this.decodedComplete = false; return k; }
      const next = nexts[k];
      cpu.nextRip = next;
      handlers[k](cpu, insns[k]);
      cpu.rip = cpu.nextRip;
      if (cpu.interruptShadow > 0) cpu.interruptShadow--;
      cpu.instructionCount++;
      if (cpu.rip !== next) { this.decodedComplete = true; return k + 1; } // taken branch, or a REP iteration batch
      if (!b.valid || cpu.stopReason !== undefined || cpu.halted) { this.decodedComplete = false; return k + 1; }
    }
    this.decodedComplete = true;
    return k;
  }

  private countCompiled(retired: number, calls: number): void {
    this.blockInstructions += retired;
    this.compiledInstructions += retired;
    this.compiledCalls += calls;
  }

  private compile(b: Block): void {
    try {
      b.compiled = compileBlock(b);
      this.compiledBlocks++;
      if (JIT_DUMP_FILE !== undefined) appendFileSync(JIT_DUMP_FILE, `// block at ${b.rip.toString(16)} (${b.insns.length} instructions)\n${b.compiled.toString()}\n`);
    } catch (e) {
      b.uncompilable = true;
      if (process.env.TSVISOR_JIT_DEBUG) console.error('tcg jit: compile failed', e);
    }
  }

  /**
   * The block at the current RIP: the previous block's chained successor
   * when still applicable, else the jump cache's entry for the RIP, else
   * through the TLB (may raise the fetch #PF) and the cache, building it on
   * a miss. Undefined: interpret one instead.
   */
  private lookup(prev: Block | undefined): Block | undefined {
    const cpu = this.cpu;
    const rip = cpu.rip;
    let slot: ChainSlot | undefined;
    if (prev !== undefined) {
      slot = rip === prev.fallRip ? prev.chainFall : prev.chainOther;
      const c = this.follow(slot, rip);
      if (c !== undefined) return c;
    }
    const entry = this.jumpCache[jumpCacheIndex(rip)];
    let b = this.follow(entry, rip);
    if (b === undefined) {
      const cs = cpu.segs[SEG_CS];
      const generation = cpu.mmu.generation;
      b = this.find(rip, cs);
      // find() may have filled the TLB (no flush, so the generation is unchanged) or raised #PF (no link made).
      if (b === undefined) return undefined;
      const global = this.foundGlobal;
      entry.set(b, global ? cpu.mmu.globalGeneration : generation, cpu.cpl, cs.base, global);
    }
    if (slot !== undefined) slot.copy(entry);
    return b;
  }

  /**
   * The target of `slot` (a chain link or a jump cache entry) when it is
   * the block at `rip` and still applies: valid, same code size, and the
   * conditions its translation was found under (CPL, MMU generation, CS base
   * and limit outside 64-bit mode) unchanged. Runs at every block transition.
   */
  private follow(slot: ChainSlot, rip: number): Block | undefined {
    const cpu = this.cpu;
    const c = slot.target;
    if (c === undefined || !c.valid || c.rip !== rip || c.codeSize !== cpu.codeSize || slot.cpl !== cpu.cpl) return undefined;
    const mmu = cpu.mmu;
    if (slot.generation !== (slot.global ? mmu.globalGeneration : mmu.generation)) return undefined;
    if (c.codeSize === 8) return c;
    const cs = cpu.segs[SEG_CS];
    return slot.csBase === cs.base && c.lastOffset <= cs.limit ? c : undefined;
  }

  /** The block at `rip` through the TLB and the cache, built on a miss. */
  private find(rip: number, cs: SegmentCache): Block | undefined {
    const cpu = this.cpu;
    const mmu = cpu.mmu;
    const codeSize = cpu.codeSize;
    const lin = codeSize === 8 ? rip : (cs.base + rip) % TWO_32;
    const vpn = Math.floor(lin / 4096);
    let idx = (cpu.cpl === 3 ? TLB_SIZE : 0) + (vpn & TLB_MASK);
    if (mmu.tagExec[idx] !== vpn) {
      idx = mmu.fill(lin, ACCESS_EXEC, cpu.cpl === 3);
      if (mmu.tagExec[idx] !== vpn) return undefined;
    }
    const bytes = mmu.bytes[idx];
    if (bytes === undefined) return undefined; // code in MMIO: interpret
    this.foundGlobal = mmu.global[idx] === 1;
    const physPage = mmu.physPages[idx] / 4096;
    const cache = this.cache;
    const b = cache.get(physPage, pageKey(lin & 0xfff, codeSize));
    // Same physical bytes reached through another CS base, or now past the CS limit: build it afresh.
    if (b !== undefined && b.rip === rip && (codeSize === 8 || b.lastOffset <= cs.limit)) return b;
    const nb = buildBlock(cpu, rip, lin, bytes, mmu.offsets[idx], physPage, cs.limit);
    if (nb === undefined) return undefined;
    cache.add(nb);
    cache.built++;
    return nb;
  }
}

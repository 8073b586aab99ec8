/**
 * Runs guest code from the block cache, falling back to the interpreter for
 * anything the cache cannot hold (MMIO code, page-crossing instructions,
 * single-stepping, the interrupt shadow, decode faults). Same contract as
 * Cpu.execute: at most `budget` instructions, interrupts taken between
 * blocks, stop at `stopAt`, precise state on exceptions (RIP is set before
 * each instruction, instructionCount counts retired ones only).
 */
import type { Cpu } from '../cpu';
import { CpuException } from '../cpu-exception';
import { FLAG_RF, FLAG_TF, SEG_CS, TWO_32 } from '../cpu-constants';
import { ACCESS_EXEC, TLB_MASK, TLB_SIZE } from '../mmu';
import { Block, blockKey } from './block';
import { buildBlock } from './block-builder';
import { BlockCache } from './block-cache';
import { compileBlock, retiredBefore } from './codegen';
import { compileThresholdFromEnv } from './mode';

export class BlockRunner {
  readonly cache: BlockCache;
  /** Statistics: instructions run from blocks and by the interpreter fallback. */
  blockInstructions = 0;
  interpretedInstructions = 0;
  compiledBlocks = 0;
  /** Block executions before compiling (0: compile on first use). */
  compileThreshold = compileThresholdFromEnv();

  /** `cache` is shared by the vCPUs of one machine, so a store by one invalidates code cached for all. */
  constructor(private readonly cpu: Cpu, cache?: BlockCache) {
    this.cache = cache ?? BlockCache.forMemory(cpu.memory);
  }

  /**
   * True: every execute() call assumes devices may have written RAM since the
   * last (the safe default for direct callers). The accelerator turns it off
   * and calls noteDeviceAccess() once per time slice instead: device DMA
   * happens on the event loop between slices or in response to a port/MMIO
   * access (which bumps the epoch too), not in the clock's timer callbacks.
   */
  epochPerExecute = true;

  /** A device access happened (MMIO): RAM may have changed under cached code. */
  noteDeviceAccess(): void { this.cache.deviceEpoch++; }

  execute(budget: number, stopAt: number): number {
    const cpu = this.cpu;
    // Devices (DMA completions) may have run since the last call.
    if (this.epochPerExecute) this.cache.deviceEpoch++;
    let executed = 0;
    let prev: Block | undefined;
    /** The compiled block running, to count its retired instructions if it throws. */
    let running: Block | undefined;
    while (executed < budget) {
      try {
        while (executed < budget) {
          if (cpu.stopReason !== undefined || cpu.halted || cpu.waitForSipi) return executed;
          if (cpu.rip === stopAt) return executed;
          if (cpu.interruptShadow === 0 && cpu.interruptSource !== undefined && cpu.takeInterrupt()) { prev = undefined; continue; }
          const b = cpu.interruptShadow === 0 && (cpu.eflagsSys & FLAG_TF) === 0 ? this.lookup(prev) : undefined;
          prev = undefined;
          if (b === undefined) {
            const n = cpu.executeInterpreted(1, stopAt);
            executed += n;
            this.interpretedInstructions += n;
            continue;
          }
          const insns = b.insns, handlers = b.handlers, nexts = b.nexts, count = insns.length;
          if (b.compiled === undefined && !b.uncompilable && ++b.hits > this.compileThreshold) this.compile(b);
          const fn = b.compiled;
          if (fn !== undefined && executed + count <= budget && !(stopAt > b.rip && stopAt <= b.lastInsnRip)) {
            running = b;
            b.loopBase = 0;
            const retired = fn(cpu, cpu.lo, cpu.hi, cpu.flags, handlers, insns, b, this.cache, budget - executed);
            running = undefined;
            executed += retired;
            cpu.instructionCount += retired;
            this.blockInstructions += retired;
            if (b.endsWithPortIo && retired === count) this.cache.deviceEpoch++;
            if (b.valid && cpu.stopReason === undefined && !cpu.halted) prev = b;
            continue;
          }
          let k = 0;
          let complete = true;
          for (; k < count; k++) {
            if (executed >= budget || (k > 0 && cpu.rip === stopAt)) { complete = false; break; }
            executed++;
            const next = nexts[k];
            cpu.nextRip = next;
            handlers[k](cpu, insns[k]);
            cpu.rip = cpu.nextRip;
            if (cpu.interruptShadow > 0) cpu.interruptShadow--;
            cpu.instructionCount++;
            if (cpu.rip !== next) { k++; break; } // taken branch, or a REP iteration batch
            if (!b.valid || cpu.stopReason !== undefined || cpu.halted) { k++; complete = false; break; }
          }
          this.blockInstructions += k;
          if (b.endsWithPortIo && k === count) this.cache.deviceEpoch++;
          if (complete) prev = b;
        }
      } catch (e) {
        if (running !== undefined) {
          // Precise state: cpu.rip is the faulting instruction; those before it retired.
          const retired = running.loopBase + retiredBefore(running, cpu.rip);
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
    return executed;
  }

  private compile(b: Block): void {
    try {
      b.compiled = compileBlock(b);
      this.compiledBlocks++;
    } catch (e) {
      b.uncompilable = true;
      if (process.env.TSVISOR_JIT_DEBUG) console.error('tcg jit: compile failed', e);
    }
  }

  /**
   * The block at the current RIP: the previous block's chained successor
   * when still applicable, else through the TLB (may raise the fetch #PF)
   * and the cache, building it on a miss. Undefined: interpret one instead.
   */
  private lookup(prev: Block | undefined): Block | undefined {
    const cpu = this.cpu;
    const mmu = cpu.mmu;
    const cache = this.cache;
    const rip = cpu.rip;
    const codeSize = cpu.codeSize;
    const cs = cpu.segs[SEG_CS];
    if (prev !== undefined) {
      const c = prev.chainNext;
      if (c !== undefined && c.valid && c.rip === rip && c.codeSize === codeSize && c.checkedEpoch === cache.deviceEpoch &&
        prev.chainGeneration === mmu.generation && prev.chainCpl === cpu.cpl && prev.chainCsBase === cs.base &&
        (codeSize === 8 || c.lastOffset <= cs.limit)) return c;
    }
    const lin = codeSize === 8 ? rip : (cs.base + rip) % TWO_32;
    const vpn = Math.floor(lin / 4096);
    const user = cpu.cpl === 3;
    let idx = (user ? TLB_SIZE : 0) + (vpn & TLB_MASK);
    if (mmu.tagExec[idx] !== vpn) {
      idx = mmu.fill(lin, ACCESS_EXEC, user);
      if (mmu.tagExec[idx] !== vpn) return undefined;
    }
    const bytes = mmu.bytes[idx];
    if (bytes === undefined) return undefined; // code in MMIO: interpret
    const pageStart = mmu.offsets[idx];
    const physBase = mmu.physPages[idx];
    const physPage = physBase / 4096;
    let b = cache.get(blockKey(physBase + (lin & 0xfff), codeSize));
    if (b !== undefined) {
      if (b.rip !== rip || (codeSize !== 8 && b.lastOffset > cs.limit)) b = undefined;
      else if (b.checkedEpoch !== cache.deviceEpoch) {
        if (BlockCache.matches(b, bytes, pageStart)) b.checkedEpoch = cache.deviceEpoch;
        else { cache.invalidatePage(physPage); b = undefined; }
      }
    }
    if (b === undefined) {
      b = buildBlock(cpu, rip, lin, bytes, pageStart, physPage, cs.limit, cache.deviceEpoch);
      if (b === undefined) return undefined;
      cache.add(b);
      cache.built++;
    }
    if (prev !== undefined) {
      prev.chainNext = b;
      prev.chainGeneration = mmu.generation;
      prev.chainCpl = cpu.cpl;
      prev.chainCsBase = cs.base;
    }
    return b;
  }
}

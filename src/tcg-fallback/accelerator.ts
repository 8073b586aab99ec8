/**
 * The software-CPU accelerator: RAM in plain ArrayBuffers, N vCPUs
 * interpreting guest code in time slices on the calling thread, port and
 * MMIO accesses dispatched straight to the IoBus.
 */
import {
  Accelerator, AcceleratorConfig, Registers, Segment, SpecialRegisters, Vcpu, VcpuStop,
} from '../accel';
import { GuestMemory } from '../memory/guest-memory';
import { InterruptRouter } from '../devices/irq';
import { Cpu } from './cpu';
import { CpuUnimplemented } from './cpu-exception';
import type { CpuInterruptSource } from './cpu-interrupt-port';
import { handlerTable } from './handler-table';
import { deliverInterrupt } from './interrupt-delivery';
import { SegmentCache } from './segment-cache';
import { BlockCache } from './jit/block-cache';
import { engineFromEnv } from './jit/mode';
import { RipSampler } from './rip-sampler';
import { addressFromBig, addressToBig, ApicMsrs, ApicBaseMsr } from './msr';
import { WasmSpace } from './wasm/space';
import { wasmEnabledFromEnv } from './wasm/tier';
import {
  CR0_PG, EFER_LMA, EFER_LME, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS,
} from './cpu-constants';

export interface TcgAcceleratorOptions {
  /** One per vCPU (its LAPIC); without one a vCPU sees no external interrupts. */
  interruptSources?: CpuInterruptSource[];
  /** Where devices' interrupt lines go; defaults to a router that drops everything. */
  interrupts?: InterruptRouter;
  /** The LAPIC MSRs per vCPU (usually the same objects as interruptSources). */
  apicMsrs?: ApicMsrs[];
  /** Older APIC_BASE-only hook; used when apicMsrs is absent. */
  apicBaseMsrs?: ApicBaseMsr[];
  /**
   * The platform the interrupt controllers provide: `beforeRun` runs due
   * timers and routes per-CPU APIC MMIO (called before each batch of
   * instructions); `tsc` is the TSC the LAPIC's deadline timer uses.
   */
  platform?: TcgPlatform;
  /** Length of one run() slice in milliseconds (default 4). */
  sliceMs?: number;
  /** Cache and compile guest code (jit/); default from TSVISOR_TCG, else on. False: the interpreter alone. */
  translate?: boolean;
}

export interface TcgPlatform {
  beforeRun?(vcpuIndex: number): void;
  /**
   * Instructions the vCPU may retire before the next timer is due, when
   * guest time counts instructions (guest-time.ts); undefined when time
   * follows the host or no timer is armed.
   */
  instructionsUntilTimer?(): number | undefined;
  tsc?: { read(): bigint; write(value: bigint): void };
}

const REG_ORDER = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/**
 * Instructions between checks of the clock, the timers and the stop flag
 * (a chunk). The size adapts to the speed of the code running: each check
 * costs about half a microsecond, which in a compiled loop at 3 GIPS is as
 * long as 1500 instructions, while interpreted code at 10 MIPS needs a
 * small chunk to notice the end of its slice in time. A due timer cuts a
 * chunk short (instructionsUntilTimer), so timers still fire on time.
 */
const CHUNK_MIN = 2048;
const CHUNK_MAX = 1 << 20;
/** Host milliseconds one chunk should take: grow below it, shrink past twice it. */
const CHUNK_TARGET_MS = 0.25;

class NullRouter implements InterruptRouter {
  setIrq(): void { /* no interrupt controller attached */ }
  signalMsi(): void { /* no interrupt controller attached */ }
}

export class TcgVcpu implements Vcpu {
  readonly cpu: Cpu;
  private readonly ripSampler = RipSampler.fromEnv();
  /** Instructions per chunk (see CHUNK_MIN). */
  private chunk = CHUNK_MIN;

  constructor(readonly index: number, memory: GuestMemory, private readonly config: AcceleratorConfig, private readonly sliceMs: number,
    source: CpuInterruptSource | undefined, apicMsrs: ApicMsrs | undefined, private readonly platform: TcgPlatform | undefined) {
    this.cpu = new Cpu(memory, config.bus);
    this.cpu.handlers = handlerTable();
    this.cpu.deliver = deliverInterrupt;
    this.cpu.interruptSource = source;
    this.cpu.apicMsrs = apicMsrs;
    this.cpu.tscSource = platform?.tsc;
    this.cpu.apicId = index;
    this.cpu.cpuCount = config.cpus;
    if (this.ripSampler) {
      const cpu = this.cpu;
      this.ripSampler.stats = () => {
        const j = cpu.jit;
        return j === undefined ? `interpreter: ${cpu.instructionCount} instructions`
          : `instructions ${cpu.instructionCount} in blocks ${j.blockInstructions} (compiled ${j.compiledInstructions} in ${j.compiledCalls} calls) interpreted ${j.interpretedInstructions} ` +
            `blocks built ${j.cache.built} compiled ${j.compiledBlocks} page invalidations ${j.cache.invalidations}` +
            (j.wasmTier === undefined ? '' : ` wasm ${j.wasmInstructions} in ${j.wasmRuns} runs, translated ${j.wasmTier.translated}` +
              ` untranslatable ${j.wasmTier.untranslatable} modules ${j.wasmTier.modules} rebuilds ${j.wasmTier.merges}`);
      };
    }
    if (index > 0) {
      this.cpu.waitForSipi = true;
      this.cpu.msr.apicBase &= ~0x100n; // not the bootstrap processor
    }
  }

  run(): VcpuStop {
    const cpu = this.cpu;
    const control = this.config.control;
    let chunkStart = performance.now();
    const deadline = chunkStart + this.sliceMs;
    this.ripSampler?.resume();
    try {
      for (;;) {
        if (control.stopRequested) return { kind: 'kicked' };
        this.platform?.beforeRun?.(this.index);
        this.handleInitSipi();
        if (cpu.waitForSipi) return { kind: 'halted' };
        if (cpu.halted) {
          if (!cpu.takeInterrupt()) return { kind: 'halted' };
        }
        const untilTimer = this.platform?.instructionsUntilTimer?.();
        const budget = untilTimer === undefined ? this.chunk : Math.max(1, Math.min(this.chunk, untilTimer));
        cpu.chunkTimeEnd = cpu.instructionCount + cpu.pauseTime + budget;
        cpu.execute(budget);
        if (cpu.yieldSlice) {
          cpu.yieldSlice = false;
          // A PAUSE ends the chunk (its guest time may have used it up); with one vCPU the slice runs on.
          if (this.config.cpus > 1) return { kind: 'kicked' };
        }
        this.ripSampler?.sample(cpu.rip);
        if (cpu.stopReason !== undefined) {
          const reason = cpu.stopReason;
          cpu.stopReason = undefined;
          if (reason === 'shutdown') return { kind: 'shutdown', reason: cpu.stopMessage };
          return { kind: 'error', message: cpu.stopMessage };
        }
        const now = performance.now();
        this.adaptChunk(now - chunkStart);
        chunkStart = now;
        if (cpu.halted) continue;
        if (now >= deadline) return { kind: 'kicked' };
      }
    } catch (e) {
      const where = `at ${describeRip(cpu)}`;
      if (e instanceof CpuUnimplemented) return { kind: 'error', message: `tcg: unimplemented ${e.what} ${where}` };
      return { kind: 'error', message: `tcg: internal error ${where}: ${e instanceof Error ? e.stack ?? e.message : String(e)}` };
    }
  }

  /** Grows the chunk while chunks run quickly, halves it when one ran long. */
  private adaptChunk(elapsedMs: number): void {
    if (elapsedMs < CHUNK_TARGET_MS) this.chunk = Math.min(CHUNK_MAX, this.chunk * 2);
    else if (elapsedMs > 2 * CHUNK_TARGET_MS) this.chunk = Math.max(CHUNK_MIN, this.chunk >> 1);
  }

  private handleInitSipi(): void {
    const src = this.cpu.interruptSource;
    if (!src) return;
    if (src.takeInit()) {
      const apicBase = this.cpu.msr.apicBase;
      this.cpu.resetState();
      this.cpu.msr.apicBase = apicBase;
      this.cpu.waitForSipi = this.index > 0;
    }
    if (this.cpu.waitForSipi) {
      const vector = src.takeStartup();
      if (vector !== undefined) {
        this.cpu.waitForSipi = false;
        this.cpu.halted = false;
        const cs = this.cpu.segs[SEG_CS];
        cs.loadReal(vector << 8);
        this.cpu.rip = 0;
        this.cpu.updateMode();
      }
    }
  }

  getRegisters(): Registers {
    const c = this.cpu;
    const r = {} as Registers;
    REG_ORDER.forEach((name, k) => { r[name] = (BigInt(c.hi[k]) << 32n) | BigInt(c.lo[k]); });
    r.rip = addressToBig(c.rip);
    r.rflags = BigInt(c.getEflags() >>> 0);
    return r;
  }

  setRegisters(regs: Registers): void {
    const c = this.cpu;
    REG_ORDER.forEach((name, k) => {
      const v = BigInt.asUintN(64, regs[name]);
      c.lo[k] = Number(v & 0xffffffffn);
      c.hi[k] = Number(v >> 32n);
    });
    c.rip = c.longMode && c.segs[SEG_CS].l ? addressFromBig(regs.rip) : Number(BigInt.asUintN(32, regs.rip));
    c.setEflags(Number(BigInt.asUintN(32, regs.rflags)));
    c.halted = false;
  }

  getSpecialRegisters(): SpecialRegisters {
    const c = this.cpu;
    return {
      cs: toSegment(c.segs[SEG_CS]), ds: toSegment(c.segs[SEG_DS]), es: toSegment(c.segs[SEG_ES]),
      fs: toSegment(c.segs[SEG_FS]), gs: toSegment(c.segs[SEG_GS]), ss: toSegment(c.segs[SEG_SS]),
      tr: toSegment(c.tr), ldt: toSegment(c.ldtr),
      gdt: { base: addressToBig(c.gdtBase), limit: c.gdtLimit },
      idt: { base: addressToBig(c.idtBase), limit: c.idtLimit },
      cr0: BigInt(c.cr0 >>> 0), cr2: addressToBig(c.cr2), cr3: BigInt(c.cr3), cr4: BigInt(c.cr4 >>> 0),
      cr8: BigInt(c.getCr8()), efer: BigInt(c.efer), apicBase: c.apicMsrs?.readMsr(0x1b) ?? c.msr.apicBase,
    };
  }

  setSpecialRegisters(s: SpecialRegisters): void {
    const c = this.cpu;
    fromSegment(c.segs[SEG_CS], s.cs); fromSegment(c.segs[SEG_DS], s.ds); fromSegment(c.segs[SEG_ES], s.es);
    fromSegment(c.segs[SEG_FS], s.fs); fromSegment(c.segs[SEG_GS], s.gs); fromSegment(c.segs[SEG_SS], s.ss);
    fromSegment(c.tr, s.tr); fromSegment(c.ldtr, s.ldt);
    c.gdtBase = addressFromBig(s.gdt.base); c.gdtLimit = s.gdt.limit;
    c.idtBase = addressFromBig(s.idt.base); c.idtLimit = s.idt.limit;
    c.cr0 = Number(BigInt.asUintN(32, s.cr0));
    c.cr2 = addressFromBig(s.cr2);
    c.cr3 = Number(BigInt.asUintN(52, s.cr3));
    c.cr4 = Number(BigInt.asUintN(32, s.cr4));
    let efer = Number(BigInt.asUintN(32, s.efer));
    // As under KVM, LMA follows LME and CR0.PG.
    if ((efer & EFER_LME) !== 0 && (c.cr0 & CR0_PG) !== 0) efer |= EFER_LMA; else efer &= ~EFER_LMA;
    c.efer = efer;
    c.setCr8(Number(s.cr8 & 0xfn));
    if (!c.apicMsrs?.writeMsr(0x1b, s.apicBase)) c.msr.apicBase = s.apicBase;
    // CPL comes from SS.DPL, as VMX defines it.
    c.cpl = c.protectedMode ? s.ss.dpl : 0;
    c.updateMode();
    c.mmu.flushAll();
    c.waitForSipi = false;
  }
}

function toSegment(s: SegmentCache): Segment {
  return {
    base: addressToBig(s.base), limit: s.limit >>> 0, selector: s.selector, type: s.type, present: s.present, dpl: s.dpl,
    db: s.db, s: s.s, l: s.l, g: s.g, avl: s.avl, unusable: s.unusable,
  };
}

function fromSegment(c: SegmentCache, s: Segment): void {
  c.base = addressFromBig(s.base);
  c.limit = s.limit >>> 0; c.selector = s.selector & 0xffff; c.type = s.type & 0xf; c.present = s.present; c.dpl = s.dpl & 3;
  c.db = s.db; c.s = s.s; c.l = s.l; c.g = s.g; c.avl = s.avl; c.unusable = s.unusable;
}

function describeRip(cpu: Cpu): string {
  const cs = cpu.segs[SEG_CS];
  let bytes = '';
  try {
    const base = cpu.is64 ? 0 : cs.base;
    for (let k = 0; k < 8; k++) bytes += cpu.fetchCodeByte(base + cpu.rip + k).toString(16).padStart(2, '0') + ' ';
  } catch {
    bytes += '??';
  }
  return `cs:rip ${cs.selector.toString(16)}:${addressToBig(cpu.rip).toString(16)} (bytes ${bytes.trim()})`;
}

function apicMsrsFor(options: TcgAcceleratorOptions, k: number): ApicMsrs | undefined {
  const full = options.apicMsrs?.[k];
  if (full) return full;
  const base = options.apicBaseMsrs?.[k];
  if (!base) return undefined;
  return {
    readMsr: (index) => (index === 0x1b ? base.readApicBase() : undefined),
    writeMsr: (index, value) => {
      if (index !== 0x1b) return false;
      base.writeApicBase(value);
      return true;
    },
  };
}

export function createTcgAccelerator(config: AcceleratorConfig, options: TcgAcceleratorOptions = {}): Accelerator {
  const translate = options.translate ?? engineFromEnv() === 'jit';
  // Guest RAM at physical 0 in a WebAssembly memory, where the translator's third tier runs on it.
  const memory = new GuestMemory(WasmSpace.allocateRam(config.ram, translate && wasmEnabledFromEnv(), config.cpus));
  const slice = options.sliceMs ?? 4;
  const vcpus: TcgVcpu[] = [];
  for (let k = 0; k < config.cpus; k++) {
    const vcpu = new TcgVcpu(k, memory, config, slice, options.interruptSources?.[k], apicMsrsFor(options, k), options.platform);
    // TSC-deadline is reported only when the LAPIC sees the same TSC the CPU reads.
    vcpu.cpu.tscDeadline = options.apicMsrs?.[k] !== undefined && options.platform?.tsc !== undefined;
    vcpus.push(vcpu);
  }
  // One translation cache per machine: a store by any vCPU invalidates code cached for all.
  const cache = translate ? BlockCache.forMemory(memory) : undefined;
  // Device DMA reaches it through memory.noteDmaWrite (see BlockCache).
  for (const v of vcpus) v.cpu.setTranslation(translate, cache);
  return {
    name: 'tcg',
    memory,
    interrupts: options.interrupts ?? new NullRouter(),
    vcpus,
    destroy(): void { /* plain ArrayBuffers: the garbage collector frees them */ },
  };
}

/**
 * Helpers for the translator tests: a 64-bit paged machine (identity map of
 * the first 2 MiB through one page table) whose CPU runs in one of three
 * tiers, so each scenario can be checked against the interpreter.
 */
import { Cpu } from '../src/tcg-fallback/cpu';
import { CpuException } from '../src/tcg-fallback/cpu-exception';
import { handlerTable } from '../src/tcg-fallback/handler-table';
import { GuestMemory } from '../src/memory/guest-memory';
import { WasmSpace } from '../src/tcg-fallback/wasm/space';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { assemble } from './tcg-cpu-support';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, SEG_CS, SEG_SS } from '../src/tcg-fallback/cpu-constants';

export const CODE = 0x10000;
export const PT = 0x4000;
export const PTE_P = 1, PTE_RW = 2, PTE_US = 4;

/**
 * interp: interpreter only; blocks: cached decoded blocks; compiled: blocks compiled to JS on first use;
 * wasm: blocks translated to WebAssembly before their first run (RAM in a WasmSpace).
 */
export type Tier = 'interp' | 'blocks' | 'compiled' | 'wasm';
export const TIERS: Tier[] = ['interp', 'blocks', 'compiled', 'wasm'];

export interface Machine { cpu: Cpu; mem: GuestMemory; fault: () => CpuException | undefined }

export function machine(tier: Tier): Machine {
  const mem = new GuestMemory(WasmSpace.allocateRam([{ guestAddress: 0, size: 4 << 20 }], tier === 'wasm'));
  const cpu = new Cpu(mem, new IoBus(memoryLogger()));
  cpu.handlers = handlerTable();
  // The wasm tier whatever TSVISOR_WASM says (scripts/test-tcg-modes turns it off for the other modes).
  cpu.setTranslation(tier !== 'interp', undefined, tier === 'wasm');
  if (cpu.jit !== undefined) cpu.jit.compileThreshold = tier === 'compiled' ? 0 : Infinity;
  const wasm = cpu.jit?.wasmTier;
  if (wasm !== undefined) { wasm.threshold = tier === 'wasm' ? 0 : Infinity; wasm.batch = 1; }
  let caught: CpuException | undefined;
  cpu.policy = { onException: (e) => { caught = e; return true; } };
  mem.writeU32(0x1000, 0x2000 | PTE_P | PTE_RW);
  mem.writeU32(0x2000, 0x3000 | PTE_P | PTE_RW);
  mem.writeU32(0x3000, PT | PTE_P | PTE_RW);
  for (let k = 0; k < 512; k++) mem.writeU32(PT + k * 8, (k * 4096) | PTE_P | PTE_RW);
  cpu.efer = EFER_LME | EFER_LMA | EFER_NXE;
  cpu.cr4 = CR4_PAE;
  cpu.cr3 = 0x1000;
  cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | 0x10;
  const cs = cpu.segs[SEG_CS];
  cs.l = true; cs.db = false; cs.type = 0xb; cs.selector = 8; cs.limit = 0xffffffff;
  const ss = cpu.segs[SEG_SS];
  ss.selector = 0x10; ss.db = true; ss.limit = 0xffffffff;
  cpu.cpl = 0;
  cpu.updateMode();
  cpu.mmu.flushAll();
  cpu.lo[4] = 0x80000;
  return { cpu, mem, fault: () => caught };
}

/** Loads Intel-syntax `source` at CODE and runs it until the `done:` label (which the source must define) or `max` instructions. */
/**
 * Ends the block before `done:` with a JMP to the next instruction (a JMP the
 * block builder does not follow). Without it, the block holding the last
 * instructions would also hold the stop address, and the runner runs such a
 * block on tier 1 even when it is compiled: the "compiled" tier would not be
 * tested.
 */
export function endBlockBeforeDone(source: string): string {
  if (!source.includes('\ndone:')) throw new Error('no done: label');
  return source.replace('\ndone:', '\n  jmp .Lbefore_done\n.Lbefore_done:\ndone:');
}

export function runProgram(m: Machine, source: string, max = 100000): { doneAt: number; code: Uint8Array } {
  source = endBlockBeforeDone(source);
  const code = assemble(`.intel_syntax noprefix\n${source}\n`, 64, CODE);
  m.mem.write(CODE, code);
  const doneAt = labelAddress(source, 'done');
  m.cpu.rip = CODE;
  m.cpu.execute(max, doneAt);
  return { doneAt, code };
}

/** Address of `label` in `source` as assembled at CODE (assembles the part before it). */
export function labelAddress(source: string, label: string): number {
  const at = source.indexOf(`\n${label}:`);
  if (at < 0) throw new Error(`no label ${label}`);
  const before = assemble(`.intel_syntax noprefix\n${source.slice(0, at)}\n`, 64, CODE);
  return CODE + before.length;
}

/** Architectural state that must not depend on the tier. */
export function snapshot(cpu: Cpu): Record<string, string | number> {
  const s: Record<string, string | number> = { rip: cpu.rip, retired: cpu.instructionCount, rflags: cpu.getEflags() };
  for (let r = 0; r < 16; r++) s[`r${r}`] = registerText(cpu, [r]);
  return s;
}

/**
 * Runs `scenario` on a fresh machine for each tier and checks that the
 * translator's tiers end in the interpreter's state. Returns the states
 * (interp, blocks, compiled) for further assertions.
 */
export function sameOnEveryTier(t: { same(found: unknown, wanted: unknown, ...rest: [string]): unknown }, scenario: (m: Machine, tier: Tier) => void): Record<string, string | number>[] {
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    scenario(m, tier);
    return snapshot(m.cpu);
  });
  for (let k = 1; k < states.length; k++) t.same(states[k], states[0], `${TIERS[k]} as the interpreter`);
  return states;
}

/** Registers as `hi:lo` hex pairs, for comparing tiers. */
export function registerText(cpu: Cpu, registers: readonly number[]): string {
  return registers.map((r) => `${cpu.hi[r].toString(16)}:${cpu.lo[r].toString(16)}`).join(' ');
}

/**
 * Runs `source` on every tier for each pair of operands in `values` (placed by
 * `load`) and fails, naming the pair, wherever a translator tier leaves
 * `registers` other than the interpreter does. Returns the pairs run.
 */
export function pairsAgreeOnEveryTier<V extends number | bigint>(t: { fail(message: string): unknown }, values: readonly V[],
  load: (m: Machine, a: V, b: V) => void, source: string, registers: readonly number[]): number {
  let pairs = 0;
  for (const a of values) {
    for (const b of values) {
      const results = TIERS.map((tier) => {
        const m = machine(tier);
        load(m, a, b);
        runProgram(m, source);
        return registerText(m.cpu, registers);
      });
      pairs++;
      if (results.some((r) => r !== results[0])) t.fail(`a=${a.toString(16)} b=${b.toString(16)}: ${results.join(' | ')}`);
    }
  }
  return pairs;
}

/**
 * Helpers for the software-CPU tests: assemble snippets with the system
 * assembler and run them in 64-bit user mode through runUserMode.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runUserMode, UserModeResult, UserModeState } from '../src/tcg-fallback/user-mode-runner';

const cache = new Map<string, Uint8Array>();

/** Assembles AT&T or Intel (`.intel_syntax noprefix` first line) source into flat bytes at `origin`. */
export function assemble(source: string, bits: 16 | 32 | 64 = 64, origin = 0): Uint8Array {
  const key = `${bits}:${origin}:${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), 'tcg-asm-'));
  try {
    const src = join(dir, 'a.s');
    writeFileSync(src, `.code${bits}\n${source}\n`);
    execFileSync('as', ['--64', '-o', join(dir, 'a.o'), src]);
    execFileSync('ld', ['-m', 'elf_x86_64', '-Ttext', `0x${origin.toString(16)}`, '--oformat', 'binary', '-e', '0', '-o', join(dir, 'a.bin'), join(dir, 'a.o')]);
    const bytes = new Uint8Array(readFileSync(join(dir, 'a.bin')));
    cache.set(key, bytes);
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const CODE = 0x400000n;
export const DATA = 0x600000n;
export const STACK_TOP = 0x800000n;

export function emptyState(): UserModeState {
  return {
    gpr: new Array<bigint>(16).fill(0n),
    rip: CODE,
    rflags: 0x2n,
    xmm: new Uint8Array(256),
    mxcsr: 0x1f80,
    fsBase: 0n,
    gsBase: 0n,
  };
}

export interface RunOptions {
  regs?: Partial<Record<'rax' | 'rcx' | 'rdx' | 'rbx' | 'rsp' | 'rbp' | 'rsi' | 'rdi' | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15', bigint>>;
  rflags?: bigint;
  data?: Uint8Array;
  xmm?: Uint8Array;
  mxcsr?: number;
  max?: number;
}

export const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

export interface Run extends UserModeResult {
  reg(name: (typeof REG_NAMES)[number]): bigint;
  flags: bigint;
  data: Uint8Array;
}

/** Runs `source` (Intel syntax) at CODE with a data page at DATA and a stack page below STACK_TOP. */
export function run(source: string, opts: RunOptions = {}): Run {
  const code = assemble(`.intel_syntax noprefix\n${source}\nhlt_marker: nop\n`, 64, Number(CODE));
  const codePage = new Uint8Array(Math.ceil((code.length + 16) / 4096) * 4096);
  codePage.set(code);
  const data = new Uint8Array(8192);
  if (opts.data) data.set(opts.data);
  const stack = new Uint8Array(4096);
  const state = emptyState();
  state.gpr[4] = STACK_TOP;
  for (const [k, v] of Object.entries(opts.regs ?? {})) state.gpr[REG_NAMES.indexOf(k as (typeof REG_NAMES)[number])] = v as bigint;
  if (opts.rflags !== undefined) state.rflags = opts.rflags;
  if (opts.xmm) state.xmm.set(opts.xmm);
  if (opts.mxcsr !== undefined) state.mxcsr = opts.mxcsr;
  const result = runUserMode({
    pages: [
      { address: CODE, bytes: codePage, writable: false, executable: true },
      { address: DATA, bytes: data, writable: true, executable: false },
      { address: STACK_TOP - 4096n, bytes: stack, writable: true, executable: false },
    ],
    state,
    stopAt: CODE + BigInt(code.length - 1),
    maxInstructions: opts.max ?? 100000,
  });
  return {
    ...result,
    reg: (name) => result.state.gpr[REG_NAMES.indexOf(name)],
    flags: result.state.rflags,
    data,
  };
}

export const CF = 1n, PF = 4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, OF = 0x800n, DF = 0x400n;
export const ARITH = CF | PF | AF | ZF | SF | OF;

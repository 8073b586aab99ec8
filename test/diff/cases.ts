/**
 * Turns (group, seed) into a complete test case: code page, data pages,
 * initial registers, and which flags are undefined where.
 */
import { readFileSync } from 'node:fs';
import { InsnInfo, Rng, SeqBuilder } from './gen-core';
import { X87Gen, fillFpData, fillXmm, fpValue, genSseFp, genSseInt } from './gen-fp';
import { genMisc, genPrivileged } from './gen-misc';
import { genSegment, pickBases } from './gen-seg';
import { genAlu, genAtomic, genBitOps, genFlow, genMov, genMulDiv, genShift, genStack, genString } from './gen-int';
import { ARITH_FLAGS, CODE, DATA, DF, PAGE_SIZE, PageSpec, RODATA, STACK, STACK_TOP, UserModeState } from './layout';

export const GROUPS = ['alu', 'shift', 'muldiv', 'bitops', 'flow', 'mov', 'atomic', 'string', 'stack', 'segment', 'misc', 'privileged', 'sse-int', 'sse-fp', 'x87'] as const;
export type Group = (typeof GROUPS)[number];

export interface DiffCase {
  group: Group;
  seed: number;
  code: Uint8Array;
  insns: InsnInfo[];
  pages: PageSpec[];
  state: UserModeState;
  stopAt: bigint;
  /** Flags that may be undefined when the sequence reaches stopAt. */
  undefAtEnd: number;
}

/** Host CPU features that decide which instructions may be generated (the host is the reference). */
export function hostFeatures(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/** Groups whose instructions the host cannot run are not generated at all. */
export function groupSupportedByHost(group: Group, features: Set<string>): string | undefined {
  if (group === 'atomic' && !features.has('cx16')) return 'host lacks CMPXCHG16B';
  return undefined;
}

const INT_GEN: Partial<Record<Group, (g: SeqBuilder) => void>> = {
  alu: genAlu, shift: genShift, muldiv: genMulDiv, bitops: genBitOps, flow: (g) => genFlow(g), mov: genMov,
  atomic: genAtomic, string: genString, stack: genStack, misc: genMisc, privileged: genPrivileged, 'sse-int': genSseInt, 'sse-fp': genSseFp,
};

function randomBytes(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = r.u32();
    out[i] = v; out[i + 1] = v >>> 8; out[i + 2] = v >>> 16; out[i + 3] = v >>> 24;
  }
  return out;
}

export function makeCase(group: Group, seed: number): DiffCase {
  // A jump body can rarely outgrow rel8; then the next sub-seed is used.
  for (let attempt = 0; ; attempt++) {
    try {
      return build(group, seed, attempt);
    } catch (e) {
      if (attempt > 20) throw e;
    }
  }
}

/** FNV-1a of the group name: a group's cases must not change when groups are added. */
function groupSalt(group: Group): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < group.length; i++) h = Math.imul(h ^ group.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function build(group: Group, seed: number, attempt: number): DiffCase {
  const r = new Rng((Math.imul(seed, 0x9e3779b1) + attempt * 7919 + groupSalt(group)) >>> 0);
  const g = new SeqBuilder(r);
  const units = r.range(1, 8);
  const fp = group === 'sse-fp' || group === 'x87';
  const x87Depth = group === 'x87' ? r.int(4) : 0;
  const x87 = new X87Gen(x87Depth);
  const bases = group === 'segment' ? pickBases(r) : { fs: 0n, gs: 0n };
  for (let i = 0; i < units; i++) {
    if (group === 'x87') x87.gen(g);
    else if (group === 'segment') genSegment(g, bases);
    else INT_GEN[group]!(g);
  }
  // End with JMP +0: it closes the software CPU's last block before stopAt, so
  // its block compiler runs the block instead of handing it to the interpreter
  // (a block that contains stopAt is interpreted).
  g.emit([0xeb, 0x00]);
  if (g.bytes.length > PAGE_SIZE - 16) throw new Error('sequence too long');
  const stopAt = CODE + BigInt(g.bytes.length);
  const codePage = new Uint8Array(PAGE_SIZE).fill(0xcc);
  codePage.set(g.bytes);

  const data = randomBytes(r, 2 * PAGE_SIZE);
  if (fp || group === 'sse-int') fillFpData(r, data, true, group !== 'x87');
  const pages: PageSpec[] = [
    { address: CODE, bytes: codePage, writable: false, executable: true },
    { address: DATA, bytes: data.slice(0, PAGE_SIZE), writable: true, executable: false },
    { address: DATA + BigInt(PAGE_SIZE), bytes: data.slice(PAGE_SIZE), writable: true, executable: false },
    { address: STACK, bytes: randomBytes(r, PAGE_SIZE), writable: true, executable: false },
    { address: RODATA, bytes: randomBytes(r, PAGE_SIZE), writable: false, executable: false },
  ];

  const gpr = Array.from({ length: 16 }, () => r.interesting64());
  gpr[4] = STACK_TOP;
  const xmm = new Uint8Array(256);
  fillXmm(r, xmm);
  let mxcsr = 0x1f80;
  if (group === 'sse-fp' && r.chance(0.5)) mxcsr |= (r.int(4) << 13) | (r.chance(0.2) ? 0x8040 : 0);
  const st: number[] = Array.from({ length: 8 }, () => 0);
  for (let i = 0; i < x87Depth; i++) st[i] = fpValue(r, false, false);
  const top = (8 - x87Depth) & 7;
  let tag = 0;
  for (let i = 0; i < x87Depth; i++) tag |= 1 << ((top + i) & 7);
  const state: UserModeState = {
    gpr,
    rip: CODE,
    rflags: 0x202n | BigInt(r.u32() & (ARITH_FLAGS | DF)),
    xmm,
    mxcsr,
    x87: { st, top, control: 0x027f, status: top << 11, tag },
    fsBase: bases.fs,
    gsBase: bases.gs,
  };
  return { group, seed, code: new Uint8Array(g.bytes), insns: g.insns, pages, state, stopAt, undefAtEnd: g.undef };
}

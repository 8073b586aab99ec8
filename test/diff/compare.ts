/**
 * Compares the software CPU's result with the host's and formats a report a
 * CPU author can act on: seed, bytes, disassembly, input state, differences.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiffCase } from './cases';
import { NativeResult } from './native';
import { COMPARED_FLAGS, UserModeResult, UserModeState } from './layout';

const NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const hex = (v: bigint | number): string => '0x' + v.toString(16);

/** #PF error code bits both sides must agree on: P, W, U, I/D (the host may add PK/SGX bits). */
const PF_ERROR_BITS = 0x1f;

/**
 * The x87 tag as a set of valid physical registers. The host reports the
 * FXSAVE abridged tag (1 = valid); an emulator may keep the full tag word
 * (2 bits per register, 3 = empty). Either is accepted.
 */
function validRegisters(tag: number, full: boolean): number {
  if (!full) return tag & 0xff;
  let valid = 0;
  for (let i = 0; i < 8; i++) if (((tag >> (2 * i)) & 3) !== 3) valid |= 1 << i;
  return valid;
}

/** Doubles equal, both NaN, or within the documented x87 tolerance (relative 2^-50). */
function x87Close(a: number, b: number): boolean {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= Math.max(Math.abs(a), Math.abs(b)) * 2 ** -50;
}

/** Which instruction a RIP belongs to (for the flags that are undefined there). */
function undefAt(c: DiffCase, rip: bigint, faulted: boolean): number {
  if (rip === c.stopAt) return c.undefAtEnd;
  const off = Number(rip - c.pages[0].address);
  const insn = c.insns.find((i) => off >= i.offset && off < i.offset + i.length);
  return insn ? insn.undefBefore | (faulted ? insn.undefOnFault ?? 0 : 0) : 0;
}

/** Diagnostics only (scripts/fuzz-cpu): the tap tests always compare everything. */
export interface CompareOptions {
  /** Leave MXCSR's sticky exception flags (bits 0-5) out, to see value bugs behind missing flags. */
  ignoreMxcsrFlags?: boolean;
}

export function compareResults(c: DiffCase, native: NativeResult, soft: UserModeResult, softPages: Uint8Array[], opts: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  if (native.hostTimedOut) return ['the host was still running after 2 s: the generator made a (near) endless loop'];
  const n = native.state, s = soft.state;
  const ne = native.exception, se = soft.exception;
  if (!ne && se) diffs.push(`software CPU raised vector ${se.vector} (error ${se.errorCode ?? '-'}, address ${se.address !== undefined ? hex(se.address) : '-'}); host reached the end`);
  if (ne && !se) diffs.push(`host raised vector ${ne.vector} (error ${hex(ne.errorCode ?? 0)}, address ${hex(ne.address ?? 0n)}); software CPU did not`);
  if (ne && se) {
    if (ne.vector !== se.vector) diffs.push(`vector: host ${ne.vector}, soft ${se.vector}`);
    else if (ne.vector === 14) {
      if (((ne.errorCode ?? 0) & PF_ERROR_BITS) !== ((se.errorCode ?? -1) & PF_ERROR_BITS)) diffs.push(`#PF error code: host ${hex(ne.errorCode ?? 0)}, soft ${se.errorCode === undefined ? '-' : hex(se.errorCode)}`);
      if (ne.address !== se.address) diffs.push(`#PF address: host ${hex(ne.address ?? 0n)}, soft ${se.address === undefined ? '-' : hex(se.address)}`);
    }
  }
  if (!ne && !se && s.rip !== c.stopAt) diffs.push(`software CPU stopped at ${hex(s.rip)} after ${soft.instructionsExecuted} instructions, not at ${hex(c.stopAt)}`);
  for (let i = 0; i < 16; i++) {
    if (BigInt.asUintN(64, n.gpr[i]) !== BigInt.asUintN(64, s.gpr[i])) diffs.push(`${NAMES[i]}: host ${hex(n.gpr[i])}, soft ${hex(BigInt.asUintN(64, s.gpr[i]))}`);
  }
  if (n.rip !== s.rip) diffs.push(`rip: host ${hex(n.rip)}, soft ${hex(s.rip)}`);
  const mask = BigInt(COMPARED_FLAGS & ~undefAt(c, n.rip, ne !== undefined));
  if ((n.rflags & mask) !== (s.rflags & mask)) {
    diffs.push(`rflags (compared bits ${hex(mask)}): host ${hex(n.rflags & mask)}, soft ${hex(s.rflags & mask)}`);
  }
  for (let i = 0; i < 16; i++) {
    const a = Buffer.from(n.xmm.subarray(i * 16, i * 16 + 16)), b = Buffer.from(s.xmm.subarray(i * 16, i * 16 + 16));
    if (!a.equals(b)) diffs.push(`xmm${i}: host ${Buffer.from(a).reverse().toString('hex')}, soft ${Buffer.from(b).reverse().toString('hex')}`);
  }
  if (n.fsBase !== s.fsBase || n.gsBase !== s.gsBase) diffs.push(`fs/gs base: host ${hex(n.fsBase)}/${hex(n.gsBase)}, soft ${hex(s.fsBase)}/${hex(s.gsBase)}`);
  const mxcsrMask = opts.ignoreMxcsrFlags ? ~0x3f : ~0;
  if ((n.mxcsr & mxcsrMask) !== (s.mxcsr & mxcsrMask)) diffs.push(`mxcsr: host ${hex(n.mxcsr)}, soft ${hex(s.mxcsr)}`);
  if (c.group === 'x87') diffs.push(...compareX87(n, s));
  const writable = c.pages.filter((p) => p.writable);
  writable.forEach((p, i) => {
    const a = native.pages[i], b = softPages[i];
    const bad: number[] = [];
    for (let o = 0; o < a.length && bad.length < 8; o++) if (a[o] !== b[o]) bad.push(o);
    if (bad.length) {
      const at = bad[0] & ~7;
      diffs.push(`memory ${hex(p.address + BigInt(at))}: host ${Buffer.from(a.subarray(at, at + 16)).toString('hex')}, soft ${Buffer.from(b.subarray(at, at + 16)).toString('hex')}` +
        ` (first differing offsets ${bad.map((x) => hex(x)).join(' ')})`);
    }
  });
  return diffs;
}

function compareX87(n: UserModeState, s: UserModeState): string[] {
  const out: string[] = [];
  const a = n.x87!, b = s.x87;
  if (!b) return ['x87 state missing from the software CPU result'];
  if (a.top !== b.top) out.push(`x87 top: host ${a.top}, soft ${b.top}`);
  if (a.control !== b.control) out.push(`x87 control: host ${hex(a.control)}, soft ${hex(b.control)}`);
  // C0 C2 C3 only: C1 and the sticky exception flags depend on 80-bit vs double rounding.
  if ((a.status & 0x4500) !== (b.status & 0x4500)) out.push(`x87 status C0/C2/C3: host ${hex(a.status & 0x4500)}, soft ${hex(b.status & 0x4500)}`);
  const va = validRegisters(a.tag, false), vb = validRegisters(b.tag, b.tag > 0xff);
  if (va !== vb) out.push(`x87 valid registers (physical bitmap): host ${hex(va)}, soft ${hex(vb)} (soft tag ${hex(b.tag)})`);
  for (let i = 0; i < 8; i++) {
    if (!(va & (1 << ((a.top + i) & 7)))) continue;
    if (!x87Close(a.st[i], b.st[i])) out.push(`st(${i}): host ${a.st[i]}, soft ${b.st[i]}`);
  }
  return out;
}

/** objdump's disassembly of the sequence, or a note when objdump is missing. */
export function disassemble(c: DiffCase): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-dis-'));
  try {
    const f = join(dir, 'code.bin');
    writeFileSync(f, c.code);
    const r = spawnSync('objdump', ['-D', '-b', 'binary', '-mi386:x86-64', `--adjust-vma=${hex(c.pages[0].address)}`, f], { encoding: 'utf8' });
    if (r.status !== 0) return `(objdump unavailable) bytes ${Buffer.from(c.code).toString('hex')}`;
    return r.stdout.split('\n').filter((l) => /^\s+[0-9a-f]+:/.test(l)).join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describeCase(c: DiffCase, diffs: string[]): string {
  const st = c.state;
  const regs = NAMES.map((nm, i) => `${nm}=${hex(st.gpr[i])}`).join(' ');
  return [
    `group ${c.group} seed ${c.seed}: ${Buffer.from(c.code).toString('hex')}`,
    disassemble(c),
    `input: ${regs} rflags=${hex(st.rflags)} mxcsr=${hex(st.mxcsr)}` +
      (c.group === 'segment' ? ` fsbase=${hex(st.fsBase)} gsbase=${hex(st.gsBase)}` : '') +
      (c.group === 'x87' && st.x87 ? ` x87 top=${st.x87.top} st=[${st.x87.st.join(', ')}]` : ''),
    ...(c.group.startsWith('sse') ? Array.from({ length: 16 }, (_, i) => `  in xmm${i}=${Buffer.from(st.xmm.subarray(i * 16, i * 16 + 16)).reverse().toString('hex')}`) : []),
    ...diffs.map((d) => `  ${d}`),
  ].join('\n');
}

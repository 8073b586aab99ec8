/**
 * The host CPU as the reference: builds test/diff/runner.c with the system
 * gcc (into a cache directory keyed by the source's hash, never committed)
 * and runs batches of cases through one runner process per batch.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiffCase } from './cases';
import { PAGE_SIZE, UserModeResult, UserModeState } from './layout';

/** The C source lives next to the TypeScript in test/diff (dist/ holds only JS). */
function runnerSource(): string {
  const candidates = [join(__dirname, 'runner.c'), join(__dirname, '..', '..', '..', 'test', 'diff', 'runner.c')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('test/diff/runner.c not found');
  return found;
}

/** Path of the compiled runner, or a reason why there is none. */
export function buildRunner(): { path: string } | { error: string } {
  const src = runnerSource();
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'tsvisor-diff');
  const path = join(dir, `runner-${hash}`);
  if (existsSync(path)) return { path };
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}`;
  // No stack protector: the signal handler runs while FS may still hold the test's base.
  const cc = spawnSync('gcc', ['-O1', '-Wall', '-fno-stack-protector', '-o', tmp, src], { encoding: 'utf8' });
  if (cc.error) return { error: `gcc not available: ${cc.error.message}` };
  if (cc.status !== 0) return { error: `gcc failed: ${cc.stderr}` };
  renameSync(tmp, path); // atomic: parallel test files may build at once
  return { path };
}

const STATE_BYTES = 16 * 8 + 8 + 8 + 256 + 4 + 8 + 64 + 16;
const HEAD_BYTES = 24;

function writeState(buf: Buffer, at: number, s: UserModeState): number {
  for (let i = 0; i < 16; i++) buf.writeBigUInt64LE(BigInt.asUintN(64, s.gpr[i]), at + i * 8);
  at += 128;
  buf.writeBigUInt64LE(s.rip, at); at += 8;
  buf.writeBigUInt64LE(s.rflags, at); at += 8;
  buf.set(s.xmm, at); at += 256;
  buf.writeUInt32LE(s.mxcsr, at); at += 4;
  const x = s.x87 ?? { st: [0, 0, 0, 0, 0, 0, 0, 0], top: 0, control: 0x037f, status: 0, tag: 0 };
  buf.writeUInt16LE(x.control, at);
  buf.writeUInt16LE((x.status & ~0x3800) | (x.top << 11), at + 2);
  buf.writeUInt16LE(x.tag, at + 4);
  buf.writeUInt16LE(0, at + 6);
  at += 8;
  for (let i = 0; i < 8; i++) buf.writeDoubleLE(x.st[i], at + i * 8);
  at += 64;
  buf.writeBigUInt64LE(s.fsBase, at);
  buf.writeBigUInt64LE(s.gsBase, at + 8);
  return at + 16;
}

function readState(buf: Buffer, at: number): UserModeState {
  const gpr: bigint[] = [];
  for (let i = 0; i < 16; i++) gpr.push(buf.readBigUInt64LE(at + i * 8));
  at += 128;
  const rip = buf.readBigUInt64LE(at);
  const rflags = buf.readBigUInt64LE(at + 8);
  at += 16;
  const xmm = new Uint8Array(buf.subarray(at, at + 256));
  at += 256;
  const mxcsr = buf.readUInt32LE(at);
  at += 4;
  const control = buf.readUInt16LE(at);
  const status = buf.readUInt16LE(at + 2);
  const tag = buf.readUInt16LE(at + 4);
  at += 8;
  const st: number[] = [];
  for (let i = 0; i < 8; i++) st.push(buf.readDoubleLE(at + i * 8));
  at += 64;
  const fsBase = buf.readBigUInt64LE(at);
  const gsBase = buf.readBigUInt64LE(at + 8);
  return { gpr, rip, rflags, xmm, mxcsr, x87: { st, top: (status >> 11) & 7, control, status, tag }, fsBase, gsBase };
}

export interface NativeResult extends UserModeResult {
  /** Final contents of the writable pages, in case page order. */
  pages: Uint8Array[];
  /** The sequence was still running natively after 2 s (a generator bug, reported as a mismatch). */
  hostTimedOut?: boolean;
}

/** Run cases on the host CPU. Throws when the runner itself dies (a harness bug). */
export function runNative(runner: string, cases: DiffCase[]): NativeResult[] {
  const size = cases.reduce((n, c) => n + 4 + c.pages.length * (12 + PAGE_SIZE) + STATE_BYTES, 4);
  const input = Buffer.alloc(size);
  let at = 0;
  for (const c of cases) {
    input.writeUInt32LE(c.pages.length, at); at += 4;
    for (const p of c.pages) {
      input.writeBigUInt64LE(p.address, at);
      input.writeUInt32LE((p.writable ? 1 : 0) | (p.executable ? 2 : 0), at + 8);
      input.set(p.bytes, at + 12);
      at += 12 + PAGE_SIZE;
    }
    at = writeState(input, at, c.state);
  }
  input.writeUInt32LE(0xffffffff, at);
  const run = spawnSync(runner, [], { input, maxBuffer: 1 << 30 });
  if (run.error) throw run.error;
  const out = run.stdout;
  const results: NativeResult[] = [];
  let o = 0;
  for (const c of cases) {
    const writable = c.pages.filter((p) => p.writable).length;
    if (o + HEAD_BYTES + STATE_BYTES + writable * PAGE_SIZE > out.length) {
      throw new Error(`native runner stopped early (status ${run.status}, signal ${run.signal}) at case seed ${c.seed}: ${run.stderr.toString()}`);
    }
    const kind = out.readUInt32LE(o);
    const vector = out.readUInt32LE(o + 4);
    const errorCode = out.readUInt32LE(o + 8);
    const address = out.readBigUInt64LE(o + 16);
    o += HEAD_BYTES;
    const state = readState(out, o);
    o += STATE_BYTES;
    const pages: Uint8Array[] = [];
    for (let i = 0; i < writable; i++) { pages.push(new Uint8Array(out.subarray(o, o + PAGE_SIZE))); o += PAGE_SIZE; }
    results.push({ state, pages, instructionsExecuted: 0, exception: kind === 0 ? undefined : { vector, errorCode, address }, hostTimedOut: kind === 2 });
  }
  return results;
}

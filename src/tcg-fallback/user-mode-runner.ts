/**
 * Runs x86-64 code in 64-bit ring 3 on the real software CPU, for
 * differential tests against native execution. The caller's pages are
 * mapped (4-level page tables built here, with U/S, R/W and NX from the
 * page flags) at the linear addresses given; their bytes are the guest
 * memory itself, so stores land in the caller's arrays.
 *
 * x87 registers are doubles internally (see fpu-state.ts); `x87.tag` is the
 * FXSAVE abridged tag byte (bit per physical register, 1 = not empty) and
 * `x87.st[k]` is ST(k).
 */
import { IoBus } from '../devices/bus';
import { GuestMemory, MemoryRegion } from '../memory/guest-memory';
import { Cpu } from './cpu';
import { CpuException, CpuUnimplemented } from './cpu-exception';
import {
  CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE,
  EFER_SCE, FLAG_IF, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, TWO_32,
} from './cpu-constants';
import { handlerTable } from './handler-table';
import { addressFromBig, addressToBig } from './msr';
import { memoryLogger } from '../log';
import { engineFromEnv } from './jit/mode';
import { WasmSpace } from './wasm/space';
import { wasmEnabledFromEnv } from './wasm/tier';

export interface UserModeState {
  gpr: bigint[];
  rip: bigint;
  rflags: bigint;
  xmm: Uint8Array;
  mxcsr: number;
  x87?: { st: number[]; top: number; control: number; status: number; tag: number };
  fsBase: bigint;
  gsBase: bigint;
}

export interface UserModeResult {
  state: UserModeState;
  /** Set when execution stopped on an exception (vector like 0 for #DE, 6 for #UD, 13 #GP, 14 #PF). */
  exception?: { vector: number; errorCode?: number; address?: bigint };
  instructionsExecuted: number;
}

export interface UserModePage {
  address: bigint;
  bytes: Uint8Array;
  writable: boolean;
  executable: boolean;
}

/** Physical layout: page tables from 1 MiB (room for the tables of 250 pages), the caller's pages from 4 MiB. */
const TABLES_PHYS = 0x100000;
const PAGES_PHYS = 0x400000;

export class UserModeError extends Error {
  override name = 'UserModeError';
}

/**
 * Runs until RIP reaches `stopAt`, `maxInstructions` have executed, or an
 * exception occurs. Throws UserModeError for an instruction this CPU does
 * not implement (so a gap is never mistaken for a guest exception).
 */
export function runUserMode(options: {
  pages: UserModePage[];
  state: UserModeState;
  stopAt: bigint;
  maxInstructions: number;
}): UserModeResult {
  const { pages, state } = options;
  // Each caller page (or run of pages) becomes a RAM region backed by the caller's bytes;
  // for the WebAssembly tier, which needs RAM at physical 0, all of them are copied into one.
  const wasm = engineFromEnv() === 'jit' && wasmEnabledFromEnv();
  const regions: MemoryRegion[] = [];
  const mappings: { linear: number; phys: number; writable: boolean; executable: boolean }[] = [];
  const copies: { from: Uint8Array; to: Uint8Array }[] = [];
  const placed: { phys: number; bytes: Uint8Array; caller: Uint8Array }[] = [];
  let phys = PAGES_PHYS;
  for (const p of pages) {
    if (p.address % 4096n !== 0n) throw new UserModeError(`page address 0x${p.address.toString(16)} is not 4 KiB aligned`);
    let bytes = p.bytes;
    if (bytes.length % 4096 !== 0 || bytes.length === 0) {
      const padded = new Uint8Array(Math.max(4096, Math.ceil(bytes.length / 4096) * 4096));
      padded.set(bytes);
      copies.push({ from: padded, to: bytes });
      bytes = padded;
    }
    placed.push({ phys, bytes, caller: p.bytes });
    for (let off = 0; off < bytes.length; off += 4096) {
      mappings.push({ linear: addressFromBig(p.address) + off, phys: phys + off, writable: p.writable, executable: p.executable });
    }
    phys += bytes.length;
  }
  const tableBytes = new Uint8Array((1 + 3 * mappings.length) * 4096);
  if (TABLES_PHYS + tableBytes.length > PAGES_PHYS) throw new UserModeError(`${mappings.length} pages: the page tables would not fit below the pages`);
  buildPageTables(tableBytes, mappings);
  if (wasm) {
    const [ram] = WasmSpace.allocateRam([{ guestAddress: 0, size: phys }], true);
    ram.bytes.set(tableBytes, TABLES_PHYS);
    for (const p of placed) {
      ram.bytes.set(p.bytes, p.phys);
      copies.push({ from: ram.bytes.subarray(p.phys, p.phys + p.caller.length), to: p.caller });
    }
    regions.push(ram);
  } else {
    for (const p of placed) regions.push({ guestAddress: p.phys, bytes: p.bytes });
    regions.push({ guestAddress: TABLES_PHYS, bytes: tableBytes });
  }
  const memory = new GuestMemory(regions);

  const cpu = new Cpu(memory, new IoBus(memoryLogger()));
  cpu.handlers = handlerTable();
  enterUserMode(cpu);
  loadState(cpu, state);
  let stopped: CpuException | undefined;
  cpu.policy = { onException: (e) => { stopped = e; return true; } };
  const stopAt = addressFromBig(options.stopAt);
  let executed = 0;
  try {
    executed = cpu.execute(options.maxInstructions, stopAt);
  } catch (e) {
    if (e instanceof CpuUnimplemented) {
      throw new UserModeError(`unimplemented ${e.what} at rip 0x${addressToBig(cpu.rip).toString(16)}`);
    }
    throw e;
  } finally {
    for (const c of copies) c.to.set(c.from.subarray(0, c.to.length));
  }
  const result: UserModeResult = { state: saveState(cpu), instructionsExecuted: cpu.instructionCount };
  void executed;
  if (stopped) {
    result.exception = { vector: stopped.vector };
    if (stopped.errorCode !== undefined) result.exception.errorCode = stopped.errorCode;
    if (stopped.address !== undefined) result.exception.address = addressToBig(stopped.address);
  }
  return result;
}

function buildPageTables(tables: Uint8Array, mappings: { linear: number; phys: number; writable: boolean; executable: boolean }[]): void {
  const view = new DataView(tables.buffer, tables.byteOffset, tables.byteLength);
  let nextTable = 1;
  const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40;
  const entry = (table: number, index: number): number => table * 4096 + index * 8;
  const childOf = (table: number, index: number): number => {
    const at = entry(table, index);
    const lo = view.getUint32(at, true);
    if ((lo & P) !== 0) return (lo - TABLES_PHYS - (lo & 0xfff)) / 4096;
    const t = nextTable++;
    view.setUint32(at, TABLES_PHYS + t * 4096 + (P | RW | US), true);
    return t;
  };
  for (const m of mappings) {
    const va = m.linear < 0 ? m.linear + 2 ** 48 : m.linear;
    const idx = (shift: number): number => Math.floor(va / 2 ** shift) % 512;
    const pdpt = childOf(0, idx(39));
    const pd = childOf(pdpt, idx(30));
    const pt = childOf(pd, idx(21));
    const at = entry(pt, idx(12));
    view.setUint32(at, (m.phys % TWO_32) + (P | US | A | D | (m.writable ? RW : 0)), true);
    view.setUint32(at + 4, Math.floor(m.phys / TWO_32) | (m.executable ? 0 : 0x80000000), true);
  }
}

function enterUserMode(cpu: Cpu): void {
  cpu.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
  cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  cpu.cr3 = TABLES_PHYS;
  cpu.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
  const cs = cpu.segs[SEG_CS];
  cs.selector = 0x33; cs.base = 0; cs.limit = 0xffffffff; cs.type = 0xb; cs.s = true; cs.dpl = 3; cs.present = true;
  cs.l = true; cs.db = false; cs.g = true; cs.unusable = false;
  const ss = cpu.segs[SEG_SS];
  ss.selector = 0x2b; ss.base = 0; ss.limit = 0xffffffff; ss.type = 3; ss.s = true; ss.dpl = 3; ss.present = true;
  ss.l = false; ss.db = true; ss.g = true; ss.unusable = false;
  for (const seg of [SEG_DS, SEG_ES, SEG_FS, SEG_GS]) {
    const s = cpu.segs[seg];
    s.selector = 0; s.base = 0; s.limit = 0xffffffff; s.type = 3; s.dpl = 3; s.present = true; s.db = true; s.g = true; s.unusable = false;
  }
  // A 64-bit TSS too short for an I/O bitmap, as Linux user processes see it: port I/O at CPL 3 is #GP.
  cpu.tr.selector = 0x40; cpu.tr.base = 0; cpu.tr.limit = 0x67; cpu.tr.type = 11; cpu.tr.s = false; cpu.tr.present = true;
  cpu.cpl = 3;
  cpu.updateMode();
  cpu.mmu.flushAll();
}

function loadState(cpu: Cpu, s: UserModeState): void {
  for (let r = 0; r < 16; r++) {
    const v = BigInt.asUintN(64, s.gpr[r] ?? 0n);
    cpu.lo[r] = Number(v & 0xffffffffn);
    cpu.hi[r] = Number(v >> 32n);
  }
  cpu.rip = addressFromBig(s.rip);
  cpu.setEflags(Number(BigInt.asUintN(32, s.rflags)) | FLAG_IF);
  cpu.xmm.set(s.xmm.subarray(0, 256));
  cpu.mxcsr = s.mxcsr;
  cpu.segs[SEG_FS].base = addressFromBig(s.fsBase);
  cpu.segs[SEG_GS].base = addressFromBig(s.gsBase);
  if (s.x87) {
    const f = cpu.fpu;
    f.top = s.x87.top & 7;
    f.control = s.x87.control;
    f.status = s.x87.status;
    for (let k = 0; k < 8; k++) {
      const physical = (f.top + k) & 7;
      f.st[physical] = s.x87.st[k] ?? 0;
      f.valid[physical] = (s.x87.tag >> physical) & 1;
    }
  }
}

function saveState(cpu: Cpu): UserModeState {
  const gpr: bigint[] = [];
  for (let r = 0; r < 16; r++) gpr.push((BigInt(cpu.hi[r]) << 32n) | BigInt(cpu.lo[r]));
  const f = cpu.fpu;
  const st: number[] = [];
  for (let k = 0; k < 8; k++) st.push(f.st[(f.top + k) & 7]);
  return {
    gpr,
    rip: addressToBig(cpu.rip),
    rflags: BigInt(cpu.getEflags()),
    xmm: Uint8Array.from(cpu.xmm),
    mxcsr: cpu.mxcsr,
    x87: { st, top: f.top, control: f.control, status: f.statusWord(), tag: f.abridgedTag() },
    fsBase: addressToBig(cpu.segs[SEG_FS].base),
    gsBase: addressToBig(cpu.segs[SEG_GS].base),
  };
}

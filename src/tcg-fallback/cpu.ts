/**
 * The software x86-64 CPU: architectural state, linear/physical memory
 * access through segmentation and the soft MMU, stack helpers, operand
 * access for decoded instructions, and the fetch-decode-execute loop.
 *
 * Number representation: 64-bit general registers are pairs of unsigned
 * 32-bit halves (`lo`, `hi`). Addresses are plain numbers: linear addresses in
 * long mode are the signed value of the canonical 64-bit address (exact,
 * since canonical addresses fit in 48 bits), elsewhere they are below 2^32.
 */
import { IoBus } from '../devices/bus';
import { GuestMemory } from '../memory/guest-memory';
import { CpuException, CpuUnimplemented } from './cpu-exception';
import {
  ARITH_FLAGS, CR0_PE, CR0_ET, EFER_LMA, FLAGS_FIXED_ONE, FLAG_IF, FLAG_VM, FLAG_TF, SEG_CS, SEG_FS, SEG_SS,
  TWO_32, VEC_GP, VEC_SS, VEC_UD, FLAG_RF,
} from './cpu-constants';
import { DecodedInstruction, decode, CodeReader } from './decoder';
import { LazyFlags } from './lazy-flags';
import { ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, Mmu, TLB_MASK, TLB_SIZE } from './mmu';
import { SegmentCache } from './segment-cache';
import type { CpuInterruptSource, InterruptChanges } from './cpu-interrupt-port';
import { Multiplier, Divider } from './alu';
import { lockAllowed } from './lock-rules';
import { MsrState } from './msr-state';
import { FpuState } from './fpu-state';
import { BlockRunner } from './jit/block-runner';
import { CPUID_SIGNATURE } from './cpuid';
import { engineFromEnv } from './jit/mode';
import type { BlockCache } from './jit/block-cache';
import { STATE_REG_HI, STATE_REG_LO, WasmSpace } from './wasm/space';
import { wasmEnabledFromEnv } from './wasm/tier';

export type Handler = (cpu: Cpu, i: DecodedInstruction) => void;

/** What the CPU does with an exception: deliver it through the IDT (a machine) or stop (the user-mode runner). */
export interface ExceptionPolicy {
  /** Return true to stop the run with this exception instead of delivering it. */
  onException(e: CpuException): boolean;
}

export class Cpu implements CodeReader {
  /** General registers as unsigned 32-bit halves; inside the WasmSpace's state area when there is one (see wasm/space.ts). */
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  rip = 0;
  /** Address of the next instruction; branch handlers overwrite it. */
  nextRip = 0;
  readonly flags = new LazyFlags();
  /** RFLAGS without the six arithmetic flags (those live in `flags`). */
  eflagsSys = FLAGS_FIXED_ONE;
  readonly segs: SegmentCache[] = [0, 1, 2, 3, 4, 5].map(() => new SegmentCache());
  readonly ldtr = new SegmentCache();
  readonly tr = new SegmentCache();
  gdtBase = 0; gdtLimit = 0xffff;
  idtBase = 0; idtLimit = 0xffff;
  cr0 = CR0_ET | 0x60000000;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  /** CR8 when no interrupt source provides a TPR. */
  cr8 = 0;
  readonly dr = new Float64Array(8);
  cpl = 0;
  /** Default operand/address size of the code segment: 2, 4 or 8 (64-bit mode). */
  codeSize = 2;
  /** Stack pointer width: 2, 4 or 8. */
  stackSize = 2;
  /** High half of a 64-bit value returned by a read helper. */
  vhi = 0;
  readonly insn = new DecodedInstruction();
  readonly mmu: Mmu;
  readonly msr = new MsrState();
  readonly fpu = new FpuState();
  readonly mul = new Multiplier();
  readonly div = new Divider();
  /** 16 XMM registers, 16 bytes each, little-endian; typed views share the bytes. */
  readonly xmm = new Uint8Array(256);
  readonly xmm32 = new Uint32Array(this.xmm.buffer);
  readonly xmmF32 = new Float32Array(this.xmm.buffer);
  readonly xmmF64 = new Float64Array(this.xmm.buffer);
  mxcsr = 0x1f80;
  halted = false;
  /**
   * Set by PAUSE: leave execute() at the next instruction or block boundary, ending the
   * chunk (see pauseTime); with more vCPUs the vCPU also ends its slice, so the others
   * (which run round-robin on this thread) get to release whatever it spins on.
   */
  yieldSlice = false;
  /**
   * Guest time spent in PAUSE beyond the one instruction it retires, in instruction
   * units, added to guest time by the machine (GuestTime counts instructions). On
   * recent cores PAUSE takes on the order of a hundred cycles, so a spin-wait such
   * as Linux's delay loops (rep_nop + rdtsc) runs a hundred times fewer iterations
   * than if PAUSE took one; QEMU's icount counts it as one.
   */
  pauseTime = 0;
  /**
   * The value of instructionCount + pauseTime at which the current chunk's guest time
   * is used up; the vCPU sets it before each chunk, so that PAUSE time never carries
   * guest time past the timer deadline the chunk was cut at.
   */
  chunkTimeEnd = Infinity;

  /**
   * The run loop's budget once it sees a reason to stop (stopReason, halted,
   * waitForSipi, yieldSlice): `executed`, so it returns, unless the only reason
   * is a PAUSE with one vCPU. Then the chunk goes on: yieldSlice is cleared and
   * the budget cut to the guest time left before chunkTimeEnd, so the chunk still
   * ends at its timer deadline, without a round trip through the vCPU loop at
   * every PAUSE of a spin-wait (Linux's delay loops run hundreds of thousands
   * during a boot). With more vCPUs the slice must be given up (yieldSlice stays).
   */
  budgetAfterPause(executed: number, budget: number): number {
    if (!this.yieldSlice || this.stopReason !== undefined || this.halted || this.waitForSipi || this.cpuCount > 1) return executed;
    this.yieldSlice = false;
    return Math.min(budget, executed + this.chunkTimeEnd - this.instructionCount - this.pauseTime);
  }
  /** Waiting for INIT/SIPI (application processors start here). */
  waitForSipi = false;
  /** Instructions left in which interrupts stay blocked (STI, MOV SS, POP SS shadow). */
  interruptShadow = 0;
  /** Pending NMI blocked until IRET. */
  nmiBlocked = false;
  /** TSC: counts instructions scaled; a fake but monotonic clock. */
  tscOffset = 0;
  instructionCount = 0;
  handlers: Handler[] = [];
  policy: ExceptionPolicy | undefined;
  interruptSource: CpuInterruptSource | undefined;
  /** Set by HLT, a stop request or an error to leave the run loop. */
  stopReason: 'halt' | 'error' | 'shutdown' | 'exception' | undefined;
  stopMessage = '';
  stoppedException: CpuException | undefined;
  /** Nesting of exception delivery, to detect double and triple faults. */
  deliveringVector = -1;
  readonly mmioBuffers = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(2), new Uint8Array(0), new Uint8Array(4),
    new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(8)];
  /** Delivery hook installed by the interrupt module. */
  deliver: (cpu: Cpu, vector: number, errorCode: number | undefined, software: boolean, nextRip: number) => void = () => {
    throw new CpuUnimplemented('interrupt delivery');
  };

  // Fetch window: the current code page.
  private fetchVpn = NaN;
  private fetchGeneration = -1;
  private fetchUser = false;
  private fetchIdx = 0;

  /** The block cache in front of the interpreter (undefined: interpreter only). See jit/. */
  jit: BlockRunner | undefined;

  /** Absolute offset of this vCPU's state area in the WasmSpace, when its RAM is in one (the third tier can run). */
  readonly wasmState: number | undefined;

  constructor(readonly memory: GuestMemory, readonly bus: IoBus) {
    const space = WasmSpace.of(memory);
    this.wasmState = space?.allocateState();
    const state = this.wasmState;
    this.lo = space !== undefined && state !== undefined ? new Uint32Array(space.buffer, state + STATE_REG_LO, 16) : new Uint32Array(16);
    this.hi = space !== undefined && state !== undefined ? new Uint32Array(space.buffer, state + STATE_REG_HI, 16) : new Uint32Array(16);
    this.mmu = new Mmu(memory, this, space !== undefined && state !== undefined ? { space, state } : undefined);
    this.resetState();
    this.setTranslation(engineFromEnv() === 'jit');
  }

  /**
   * Turns the block cache on or off (TSVISOR_TCG picks the default); vCPUs of one machine share `cache`.
   * `wasm`: whether its WebAssembly tier runs, where the RAM allows (TSVISOR_WASM picks the default).
   */
  setTranslation(enabled: boolean, cache?: BlockCache, wasm = wasmEnabledFromEnv()): void {
    this.jit = enabled ? new BlockRunner(this, cache, wasm) : undefined;
  }

  /** Power-on / INIT state (SDM 10.1): real mode at F000:FFF0. */
  resetState(): void {
    this.lo.fill(0); this.hi.fill(0);
    this.lo[2] = CPUID_SIGNATURE; // EDX: family/model/stepping
    for (const s of this.segs) { s.selector = 0; s.base = 0; s.limit = 0xffff; s.type = 3; s.dpl = 0; s.present = true; s.db = false; s.s = true; s.l = false; s.g = false; s.unusable = false; }
    const cs = this.segs[SEG_CS];
    cs.selector = 0xf000; cs.base = 0xffff0000; cs.type = 0xb;
    this.rip = 0xfff0;
    this.flags.setEager(0);
    this.eflagsSys = FLAGS_FIXED_ONE;
    this.cr0 = CR0_ET | 0x60000000; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0; this.efer = 0;
    this.gdtBase = 0; this.gdtLimit = 0xffff; this.idtBase = 0; this.idtLimit = 0xffff;
    this.ldtr.loadNull(0); this.ldtr.unusable = false; this.ldtr.present = true; this.ldtr.type = 2; this.ldtr.s = false; this.ldtr.limit = 0xffff;
    this.tr.selector = 0; this.tr.base = 0; this.tr.limit = 0xffff; this.tr.type = 11; this.tr.s = false; this.tr.present = true;
    this.xmm.fill(0); this.mxcsr = 0x1f80;
    this.fpu.reset();
    this.halted = false;
    this.interruptShadow = 0;
    this.updateMode();
    this.mmu.flushAll();
  }

  // ---------------------------------------------------------------- flags

  getEflags(): number {
    return (this.eflagsSys & ~ARITH_FLAGS) | this.flags.arith() | FLAGS_FIXED_ONE;
  }

  setEflags(value: number): void {
    this.eflagsSys = (value & ~ARITH_FLAGS & 0x3f7fd7) | FLAGS_FIXED_ONE;
    this.flags.setEager(value & ARITH_FLAGS);
  }

  get interruptsEnabled(): boolean { return (this.eflagsSys & FLAG_IF) !== 0; }

  // ---------------------------------------------------------------- mode

  get protectedMode(): boolean { return (this.cr0 & CR0_PE) !== 0; }
  get longMode(): boolean { return (this.efer & EFER_LMA) !== 0; }
  get is64(): boolean { return this.codeSize === 8; }

  /** Recomputes code and stack sizes after CS, SS, CR0 or EFER change. */
  updateMode(): void {
    const cs = this.segs[SEG_CS];
    if ((this.efer & EFER_LMA) !== 0 && cs.l) this.codeSize = 8;
    else this.codeSize = cs.db ? 4 : 2;
    this.stackSize = this.codeSize === 8 ? 8 : this.segs[SEG_SS].db ? 4 : 2;
    if ((this.eflagsSys & FLAG_VM) !== 0) this.cpl = 3;
    else if (!this.protectedMode) this.cpl = 0;
  }

  // ---------------------------------------------------------------- registers

  /** Reads a general register of `size` bytes; 8-byte reads put the high half in vhi. */
  getReg(size: number, r: number, i?: DecodedInstruction): number {
    switch (size) {
      case 1:
        if (r >= 4 && r < 8 && (i === undefined || i.rex === 0)) return (this.lo[r - 4] >>> 8) & 0xff;
        return this.lo[r] & 0xff;
      case 2: return this.lo[r] & 0xffff;
      case 4: return this.lo[r];
      default: this.vhi = this.hi[r]; return this.lo[r];
    }
  }

  /** Writes a general register; 32-bit writes zero the high half as in 64-bit mode. */
  setReg(size: number, r: number, v: number, vh: number, i?: DecodedInstruction): void {
    switch (size) {
      case 1:
        if (r >= 4 && r < 8 && (i === undefined || i.rex === 0)) this.lo[r - 4] = (this.lo[r - 4] & 0xffff00ff) | ((v & 0xff) << 8);
        else this.lo[r] = (this.lo[r] & 0xffffff00) | (v & 0xff);
        return;
      case 2: this.lo[r] = (this.lo[r] & 0xffff0000) | (v & 0xffff); return;
      case 4: this.lo[r] = v; this.hi[r] = 0; return;
      default: this.lo[r] = v; this.hi[r] = vh;
    }
  }

  /** A register as a signed address-sized number (for 64-bit: the signed 64-bit value). */
  regAddress(r: number, addrSize: number): number {
    if (addrSize === 8) return (this.hi[r] | 0) * TWO_32 + this.lo[r];
    if (addrSize === 4) return this.lo[r];
    return this.lo[r] & 0xffff;
  }

  /** Writes an address-sized register value (used by string ops, LOOP, stack pointer updates). */
  setRegAddress(r: number, addrSize: number, v: number): void {
    if (addrSize === 8) { this.lo[r] = v >>> 0; this.hi[r] = Math.floor(v / TWO_32); }
    else if (addrSize === 4) { this.lo[r] = v >>> 0; this.hi[r] = 0; }
    else this.lo[r] = (this.lo[r] & 0xffff0000) | (v & 0xffff);
  }

  // ---------------------------------------------------------------- addresses

  /** Effective address (segment offset) of the ModRM memory operand. */
  /** Exact halves of the last 64-bit effective address (LEA needs them; the number form is exact only for canonical values). */
  eaLo = 0;
  eaHi = 0;

  effectiveAddress(i: DecodedInstruction): number {
    if (i.addrSize === 8) {
      this.effectiveAddressHalves(i);
      return (this.eaHi | 0) * TWO_32 + this.eaLo;
    }
    let ea = i.disp;
    if (i.base >= 0) ea += this.lo[i.base];
    if (i.index >= 0) ea += this.lo[i.index] << i.scale;
    if (i.ripRelative) ea += this.nextRip;
    ea = i.addrSize === 4 ? ea >>> 0 : ea & 0xffff;
    this.eaLo = ea; this.eaHi = 0;
    return ea;
  }

  /**
   * The 64-bit effective address of `i` (addrSize 8) into eaLo/eaHi only: no
   * number past 2^31 is returned, so callers that use the halves (tier 1's
   * memory forms) do not box one on the heap at each access.
   */
  effectiveAddressHalves(i: DecodedInstruction): void {
    if (i.ripRelative) {
      const v = this.nextRip + i.disp;
      this.eaLo = v >>> 0; this.eaHi = Math.floor(v / TWO_32) >>> 0;
      return;
    }
    let lo = i.disp >>> 0;
    let hi = i.disp < 0 ? -1 : 0;
    if (i.base >= 0) { lo += this.lo[i.base]; hi += this.hi[i.base]; }
    if (i.index >= 0) { const m = 1 << i.scale; lo += this.lo[i.index] * m; hi += this.hi[i.index] * m; }
    const carry = Math.floor(lo / TWO_32);
    this.eaLo = lo >>> 0; this.eaHi = (hi + carry) >>> 0;
  }

  /**
   * Segment offset -> linear address with the mode's checks: canonical form in
   * 64-bit mode, limit and type in protected and real mode.
   */
  linear(seg: number, offset: number, size: number, write: boolean): number {
    if (this.codeSize === 8) {
      const lin = seg >= SEG_FS ? offset + this.segs[seg].base : offset;
      if (lin < -0x800000000000 || lin + size - 1 >= 0x800000000000 || lin < -0x800000000000) {
        // Exact 64-bit wrap for the rare offset+base overflow before deciding it is non-canonical.
        const w = Number(BigInt.asIntN(64, BigInt(Math.round(lin))));
        if (w >= -0x800000000000 && w < 0x800000000000) return w;
        throw new CpuException(seg === SEG_SS ? VEC_SS : VEC_GP, 0);
      }
      return lin;
    }
    const s = this.segs[seg];
    if (this.protectedMode && (this.eflagsSys & FLAG_VM) === 0) {
      if (s.unusable) throw new CpuException(seg === SEG_SS ? VEC_SS : VEC_GP, 0);
      if (write ? !s.writable : !s.readable) throw new CpuException(VEC_GP, 0);
    }
    const last = offset + size - 1;
    if (s.expandDown) {
      const upper = s.db ? 0xffffffff : 0xffff;
      if (offset <= s.limit || last > upper) throw new CpuException(seg === SEG_SS ? VEC_SS : VEC_GP, 0);
    } else if (last > s.limit) {
      throw new CpuException(seg === SEG_SS ? VEC_SS : VEC_GP, 0);
    }
    return (s.base + offset) % TWO_32;
  }

  // ---------------------------------------------------------------- memory (linear)

  /** The TLB entry for `lin` with `access` (filled, and faulting, as needed). */
  tlbIndex(lin: number, access: number, user: boolean): number {
    const vpn = Math.floor(lin / 4096);
    const idx = (user ? TLB_SIZE : 0) + (vpn & TLB_MASK);
    const tags = access === ACCESS_READ ? this.mmu.tagRead : access === ACCESS_WRITE ? this.mmu.tagWrite : this.mmu.tagExec;
    if (tags[idx] === vpn) return idx;
    return this.mmu.fill(lin, access, user);
  }

  /** Reads 1/2/4/8 bytes at a linear address; 8-byte reads put the high half in vhi. */
  readLinear(lin: number, size: number, user = this.cpl === 3): number {
    const off = lin & 0xfff;
    if (off + size > 4096) return this.readSplit(lin, size, user);
    const idx = this.tlbIndex(lin, ACCESS_READ, user);
    const view = this.mmu.views[idx];
    if (view !== undefined) {
      const p = this.mmu.offsets[idx] + off;
      switch (size) {
        case 1: return view.getUint8(p);
        case 2: return view.getUint16(p, true);
        case 4: return view.getUint32(p, true);
        default: this.vhi = view.getUint32(p + 4, true); return view.getUint32(p, true);
      }
    }
    const buf = this.mmioBuffers[size];
    this.jit?.noteDeviceAccess();
    this.bus.mmioRead(this.mmu.physPages[idx] + off, buf);
    const lo = buf[0] | ((buf[1] ?? 0) << 8) | ((buf[2] ?? 0) << 16) | ((buf[3] ?? 0) << 24);
    if (size === 8) this.vhi = (buf[4] | (buf[5] << 8) | (buf[6] << 16) | (buf[7] << 24)) >>> 0;
    return size === 4 || size === 8 ? lo >>> 0 : lo;
  }

  private readSplit(lin: number, size: number, user: boolean): number {
    // Ascending byte order: a fault on the second page reports that page's first byte, as hardware does.
    let lo = 0, hi = 0;
    for (let k = 0; k < size; k++) {
      const b = this.readLinear(this.wrapLinear(lin + k), 1, user);
      if (k >= 4) hi += b * 2 ** (8 * (k - 4)); else lo += b * 2 ** (8 * k);
    }
    this.vhi = hi >>> 0;
    return lo >>> 0;
  }

  private wrapLinear(lin: number): number {
    return this.codeSize === 8 || this.longMode ? lin : lin % TWO_32;
  }

  writeLinear(lin: number, size: number, v: number, vh: number, user = this.cpl === 3): void {
    const off = lin & 0xfff;
    if (off + size > 4096) { this.writeSplit(lin, size, v, vh, user); return; }
    const idx = this.tlbIndex(lin, ACCESS_WRITE, user);
    const view = this.mmu.views[idx];
    if (view !== undefined) {
      const p = this.mmu.offsets[idx] + off;
      // Stores into pages holding cached code drop those blocks (self-modifying code, page reuse).
      this.jit?.cache.noteStore(this.mmu.physPages[idx] / 4096);
      switch (size) {
        case 1: view.setUint8(p, v); return;
        case 2: view.setUint16(p, v, true); return;
        case 4: view.setUint32(p, v >>> 0, true); return;
        default: view.setUint32(p, v >>> 0, true); view.setUint32(p + 4, vh >>> 0, true); return;
      }
    }
    const buf = this.mmioBuffers[size];
    for (let k = 0; k < size; k++) buf[k] = k < 4 ? v >>> (8 * k) : vh >>> (8 * (k - 4));
    this.jit?.noteDeviceAccess();
    this.bus.mmioWrite(this.mmu.physPages[idx] + off, buf);
  }

  private writeSplit(lin: number, size: number, v: number, vh: number, user: boolean): void {
    // Both pages must be writable before any byte is written (precise faults).
    this.probeWrite(lin, size, user);
    for (let k = 0; k < size; k++) {
      const b = k < 4 ? (v >>> (8 * k)) & 0xff : (vh >>> (8 * (k - 4))) & 0xff;
      this.writeLinear(this.wrapLinear(lin + k), 1, b, 0, user);
    }
  }

  /** Faults now if a later write of `size` bytes at `lin` would fault. */
  probeWrite(lin: number, size: number, user = this.cpl === 3): void {
    this.tlbIndex(lin, ACCESS_WRITE, user);
    if ((lin & 0xfff) + size > 4096) this.tlbIndex(this.wrapLinear(lin - (lin & 0xfff) + 4096), ACCESS_WRITE, user);
  }

  /** System accesses (descriptor tables, TSS, IDT) are supervisor accesses regardless of CPL. */
  readSystem(lin: number, size: number): number { return this.readLinear(lin, size, false); }
  writeSystem(lin: number, size: number, v: number, vh = 0): void { this.writeLinear(lin, size, v, vh, false); }

  codePageOffset = 0;

  codePage(lin: number): Uint8Array | undefined {
    this.fetchCodeByte(lin);
    const bytes = this.mmu.bytes[this.fetchIdx];
    this.codePageOffset = this.mmu.offsets[this.fetchIdx] + (lin & 0xfff);
    return bytes;
  }

  fetchCodeByte(lin: number): number {
    const vpn = Math.floor(lin / 4096);
    const user = this.cpl === 3;
    if (vpn !== this.fetchVpn || this.fetchGeneration !== this.mmu.generation || user !== this.fetchUser) {
      this.fetchIdx = this.tlbIndex(lin, ACCESS_EXEC, user);
      this.fetchVpn = vpn; this.fetchGeneration = this.mmu.generation; this.fetchUser = user;
    }
    // Exec tag may have been evicted by a data fill of a colliding page; re-check cheaply.
    if (this.mmu.tagExec[this.fetchIdx] !== vpn) this.fetchIdx = this.tlbIndex(lin, ACCESS_EXEC, user);
    const bytes = this.mmu.bytes[this.fetchIdx];
    if (bytes !== undefined) return bytes[this.mmu.offsets[this.fetchIdx] + (lin & 0xfff)];
    const buf = this.mmioBuffers[1];
    this.bus.mmioRead(this.mmu.physPages[this.fetchIdx] + (lin & 0xfff), buf);
    return buf[0];
  }

  // ---------------------------------------------------------------- memory (segmented)

  read(seg: number, offset: number, size: number): number {
    return this.readLinear(this.linear(seg, offset, size, false), size);
  }

  write(seg: number, offset: number, size: number, v: number, vh = 0): void {
    this.writeLinear(this.linear(seg, offset, size, true), size, v, vh);
  }

  // ---------------------------------------------------------------- ModRM operands

  /** Linear address of the last memory operand, kept so read-modify-write does not recompute it. */
  lastLinear = 0;

  readRm(i: DecodedInstruction, size: number): number {
    if (i.mod === 3) return this.getReg(size, i.rm, i);
    this.lastLinear = this.linear(i.segment, this.effectiveAddress(i), size, false);
    return this.readLinear(this.lastLinear, size);
  }

  /** Reads a memory or register operand that will be written back: checks writability first. */
  readRmForWrite(i: DecodedInstruction, size: number): number {
    if (i.mod === 3) return this.getReg(size, i.rm, i);
    this.lastLinear = this.linear(i.segment, this.effectiveAddress(i), size, true);
    this.probeWrite(this.lastLinear, size);
    return this.readLinear(this.lastLinear, size);
  }

  /** Writes back to the operand last read by readRmForWrite. */
  writeBackRm(i: DecodedInstruction, size: number, v: number, vh: number): void {
    if (i.mod === 3) this.setReg(size, i.rm, v, vh, i);
    else this.writeLinear(this.lastLinear, size, v, vh);
  }

  writeRm(i: DecodedInstruction, size: number, v: number, vh: number): void {
    if (i.mod === 3) this.setReg(size, i.rm, v, vh, i);
    else this.writeLinear(this.linear(i.segment, this.effectiveAddress(i), size, true), size, v, vh);
  }

  /** Memory operand's linear address (for instructions that only take memory). */
  memoryLinear(i: DecodedInstruction, size: number, write: boolean): number {
    return this.linear(i.segment, this.effectiveAddress(i), size, write);
  }

  // ---------------------------------------------------------------- stack

  stackPointer(): number { return this.regAddress(4, this.stackSize); }

  push(size: number, v: number, vh = 0): void {
    const sp = this.stackAdd(this.stackPointer(), -size);
    this.write(SEG_SS, sp, size, v, vh);
    this.setRegAddress(4, this.stackSize, sp);
  }

  /** Reads the stack top without popping; `extra` skips bytes already read. */
  peek(size: number, extra = 0): number {
    return this.read(SEG_SS, this.stackAdd(this.stackPointer(), extra), size);
  }

  pop(size: number): number {
    const sp = this.stackPointer();
    const v = this.read(SEG_SS, sp, size);
    const vh = this.vhi;
    this.setRegAddress(4, this.stackSize, this.stackAdd(sp, size));
    this.vhi = vh;
    return v;
  }

  stackAdd(sp: number, delta: number): number {
    const v = sp + delta;
    if (this.stackSize === 8) return v;
    if (this.stackSize === 4) return v >>> 0;
    return v & 0xffff;
  }

  // ---------------------------------------------------------------- control flow

  /** Sets the next RIP for a near branch, truncated to the operand size. */
  branchTo(target: number, opSize: number): void {
    if (opSize === 2) target &= 0xffff;
    else if (opSize === 4 || this.codeSize !== 8) target = target >>> 0;
    else if (target < -0x800000000000 || target >= 0x800000000000) throw new CpuException(VEC_GP, 0);
    if (this.codeSize !== 8 && target > this.segs[SEG_CS].limit) throw new CpuException(VEC_GP, 0);
    this.nextRip = target;
  }

  // ---------------------------------------------------------------- execution

  /**
   * Executes up to `budget` instructions, taking interrupts at instruction
   * boundaries. Returns early on HLT, a stop reason, or when RIP equals `stopAt`.
   */
  execute(budget: number, stopAt = NaN): number {
    if (this.jit !== undefined) return this.jit.execute(budget, stopAt);
    return this.executeInterpreted(budget, stopAt);
  }

  /** The reference interpreter: decodes every instruction every time. */
  executeInterpreted(budget: number, stopAt = NaN): number {
    let executed = 0;
    const i = this.insn;
    while (executed < budget) {
      try {
        while (executed < budget) {
          if (this.stopReason !== undefined || this.halted || this.waitForSipi || this.yieldSlice) {
            budget = this.budgetAfterPause(executed, budget);
            if (executed >= budget) return executed;
          }
          if (this.rip === stopAt) return executed;
          if (this.interruptShadow === 0 && this.interruptSource !== undefined && this.takeInterrupt()) continue;
          executed++;
          const singleStep = (this.eflagsSys & FLAG_TF) !== 0;
          decode(this, this.codeSize === 8 ? this.rip : (this.segs[SEG_CS].base + this.rip) % TWO_32, this.codeSize, i);
          const next = this.rip + i.length;
          this.nextRip = this.codeSize === 8 ? next : this.codeSize === 4 ? next >>> 0 : next & 0xffff;
          if (this.codeSize !== 8 && this.rip + i.length - 1 > this.segs[SEG_CS].limit) throw new CpuException(VEC_GP, 0);
          if (i.lock && !lockAllowed(i)) throw new CpuException(VEC_UD, undefined);
          this.handlers[i.opcode](this, i);
          this.rip = this.nextRip;
          if (this.interruptShadow > 0) this.interruptShadow--;
          this.instructionCount++;
          if (singleStep) this.singleStepTrap(i.opcode);
        }
      } catch (e) {
        if (!(e instanceof CpuException)) throw e;
        this.interruptShadow = 0;
        this.eflagsSys &= ~FLAG_RF;
        this.raise(e);
      }
    }
    return executed;
  }

  /**
   * TF was set when the instruction began: a single-step #DB trap (DR6.BS)
   * after it. INT n/INT3/INTO clear TF on delivery and trap nothing here.
   */
  private singleStepTrap(opcode: number): void {
    if (opcode === 0xcc || opcode === 0xcd || opcode === 0xce || opcode === 0xf1) return;
    this.dr[6] = ((this.dr[6] >>> 0) | 0x4000) >>> 0;
    this.raise(new CpuException(1, undefined));
  }

  /** Delivers a pending NMI or (with IF=1) external interrupt; true when one was delivered. */
  takeInterrupt(): boolean {
    const src = this.interruptSource;
    if (src === undefined) return false;
    const changes = src.changes;
    // Interruptible, NMIs unblocked, and nothing changed in the controllers since they last had nothing for us.
    const settled = changes !== undefined && (this.eflagsSys & FLAG_IF) !== 0 && !this.nmiBlocked;
    if (settled && changes === this.quietChanges && changes.count === this.quietCount) return false;
    if (!this.nmiBlocked && src.takeNmi()) {
      this.nmiBlocked = true;
      this.halted = false;
      this.deliver(this, 2, undefined, false, this.rip);
      return true;
    }
    if ((this.eflagsSys & FLAG_IF) !== 0 && src.hasPendingInterrupt()) {
      const vector = src.acknowledgeInterrupt();
      this.halted = false;
      this.deliver(this, vector, undefined, false, this.rip);
      return true;
    }
    if (settled) { this.quietChanges = changes; this.quietCount = changes.count; }
    return false;
  }

  /** The controllers' change count (and whose) when takeInterrupt last found nothing deliverable, interruptible. */
  private quietChanges: InterruptChanges | undefined;
  private quietCount = -1;

  /** Set by instructions after which interrupts may have become deliverable (informational). */
  pendingCheck = false;

  /** CPUID identity of this CPU. */
  apicId = 0;
  cpuCount = 1;
  /** CPUID reports the TSC-deadline timer (the attached LAPIC implements it on our TSC). */
  tscDeadline = false;
  /** The LAPIC's MSRs (APIC_BASE, TSC_DEADLINE), when a LAPIC model is attached. */
  apicMsrs: import('./msr').ApicMsrs | undefined;
  /** The platform TSC (shared with the LAPIC's TSC-deadline timer), when attached. */
  tscSource: { read(): bigint; write(value: bigint): void } | undefined;

  getCr8(): number {
    return this.interruptSource ? (this.interruptSource.getTpr() >> 4) & 0xf : this.cr8;
  }

  setCr8(v: number): void {
    this.cr8 = v & 0xf;
    if (this.interruptSource) this.interruptSource.setTpr((v & 0xf) << 4);
  }

  /** Time-stamp counter: host monotonic nanoseconds (a 1 GHz TSC) plus the guest's offset. */
  readTsc(): number {
    if (this.tscSource) return Number(this.tscSource.read());
    return Math.floor(performance.now() * 1e6) + this.tscOffset;
  }

  /** ea + delta wrapped to the instruction's address size (second field of a memory pseudo-descriptor or far pointer). */
  stackAddLike(i: DecodedInstruction, ea: number, delta: number): number {
    const v = ea + delta;
    return i.addrSize === 8 ? v : i.addrSize === 4 ? v >>> 0 : v & 0xffff;
  }

  /** Handles an exception from an instruction at `rip`: policy stop, or delivery (with double/triple fault rules). */
  raise(e: CpuException): void {
    if (this.policy && this.policy.onException(e)) {
      this.stoppedException = e;
      this.stopReason = 'exception';
      return;
    }
    if (e.vector === 14 && e.address !== undefined) this.cr2 = e.address;
    try {
      this.deliver(this, e.vector, e.errorCode, false, this.rip);
      this.nextRip = this.rip;
    } catch (nested) {
      if (!(nested instanceof CpuException)) throw nested;
      this.raiseNested(e, nested);
    }
  }

  private raiseNested(first: CpuException, second: CpuException): void {
    const contributory = (v: number): boolean => v === 0 || (v >= 10 && v <= 13);
    if (first.vector === 8) { this.tripleFault(); return; }
    const isDouble = (contributory(first.vector) && contributory(second.vector)) ||
      (first.vector === 14 && (contributory(second.vector) || second.vector === 14));
    if (second.vector === 14 && second.address !== undefined) this.cr2 = second.address;
    try {
      if (isDouble) this.deliver(this, 8, 0, false, this.rip);
      else this.deliver(this, second.vector, second.errorCode, false, this.rip);
    } catch (third) {
      if (!(third instanceof CpuException)) throw third;
      if (isDouble) { this.tripleFault(); return; }
      this.raiseNested(second, third);
    }
  }

  tripleFault(): void {
    this.stopReason = 'shutdown';
    this.stopMessage = 'triple fault';
  }

  unimplemented(what: string): never {
    throw new CpuUnimplemented(what);
  }
}

export { ACCESS_EXEC };

/**
 * A KVM vCPU implementing the accelerator's Vcpu. run() loops on KVM_RUN and
 * dispatches port and MMIO exits to the IoBus synchronously, straight out of
 * the mmapped kvm_run page: no objects are built per exit, because the exit
 * round trip is the VMM's hottest path (goal: within 1.2x of a C loop).
 */
import { IoBus, AccessSize } from '../devices/bus';
import { Registers, RunControl, SpecialRegisters, Vcpu, VcpuStop } from '../accel';
import { KvmBinding, kvmBinding, VcpuStateName, isKvmError } from './binding';
import { CpuidEntry, encodeCpuidEntries } from './cpuid';
import { decodeExit, describeExit, KvmExit } from './exits';
import { decodeRegs, decodeSregs, encodeRegs, encodeSregs } from './registers';

// Stops without payload are shared, frozen objects: returning them allocates nothing.
const KICKED: VcpuStop = Object.freeze({ kind: 'kicked' });
const HALTED: VcpuStop = Object.freeze({ kind: 'halted' });
const TRIPLE_FAULT: VcpuStop = Object.freeze({ kind: 'shutdown', reason: 'triple fault' });

const TWO_POW_32 = 0x1_0000_0000;
const IO_DIRECTION_OUT = 1;

export interface KvmVcpuOptions {
  bus: IoBus;
  control: RunControl;
}

export class KvmVcpu implements Vcpu {
  /** The kvm_run page: exits are decoded from it and I/O data written into it. */
  readonly runPage: Uint8Array;
  private readonly runBuffer: ArrayBuffer;
  private readonly view: DataView;
  private readonly b: KvmBinding;
  private readonly bus: IoBus;
  private readonly control: RunControl;
  /** Views of kvm_run.mmio.data for each access size, made once. */
  private readonly mmioViews: Uint8Array[] = [];
  private readonly stateBuffers = new Map<VcpuStateName, Uint8Array>();
  private destroyed = false;
  /** The exit reason of the last KVM_RUN, for diagnostics. */
  lastExitReason = -1;
  /**
   * Set on vCPU 0 under KVM SMP (vcpu-threads.ts): serves the exits other
   * vCPUs' threads have handed over; true when one needs the machine (a stop).
   */
  serveThreadExits: (() => boolean) | undefined;

  // kvm_run offsets and exit reasons copied into fields: the loop reads them per exit.
  private readonly offImmediateExit: number;
  private readonly offIoDirection: number;
  private readonly offIoSize: number;
  private readonly offIoPort: number;
  private readonly offIoCount: number;
  private readonly offIoDataOffset: number;
  private readonly offMmioPhysAddr: number;
  private readonly offMmioLen: number;
  private readonly offMmioIsWrite: number;
  private readonly exitIo: number;
  private readonly exitMmio: number;
  private readonly exitHlt: number;
  private readonly exitIntr: number;
  private readonly exitShutdown: number;
  private readonly exitSystemEvent: number;
  private readonly exitIrqWindowOpen: number;
  private readonly exitThreadExits: number;

  /**
   * Wraps a vCPU fd: either one just made with KVM_CREATE_VCPU, or one made by
   * another thread (fds are process-wide), so a Worker can run a vCPU the main
   * thread created. `mmapSize` is KVM_GET_VCPU_MMAP_SIZE.
   */
  constructor(readonly fd: number, readonly index: number, mmapSize: number, options: KvmVcpuOptions) {
    const b = kvmBinding();
    this.b = b;
    this.bus = options.bus;
    this.control = options.control;
    b.registerVcpu(fd, mmapSize);
    this.runBuffer = b.mapRun(fd, mmapSize);
    this.runPage = new Uint8Array(this.runBuffer);
    this.view = new DataView(this.runBuffer);
    const o = b.runOffsets;
    this.offImmediateExit = o.immediateExit;
    this.offIoDirection = o.ioDirection;
    this.offIoSize = o.ioSize;
    this.offIoPort = o.ioPort;
    this.offIoCount = o.ioCount;
    this.offIoDataOffset = o.ioDataOffset;
    this.offMmioPhysAddr = o.mmioPhysAddr;
    this.offMmioLen = o.mmioLen;
    this.offMmioIsWrite = o.mmioIsWrite;
    for (let len = 0; len <= 8; len++) this.mmioViews.push(this.runPage.subarray(o.mmioData, o.mmioData + len));
    const r = b.exitReasons;
    this.exitIo = r.IO;
    this.exitMmio = r.MMIO;
    this.exitHlt = r.HLT;
    this.exitIntr = r.INTR;
    this.exitShutdown = r.SHUTDOWN;
    this.exitSystemEvent = r.SYSTEM_EVENT;
    this.exitIrqWindowOpen = r.IRQ_WINDOW_OPEN;
    this.exitThreadExits = b.runThreadExits;
  }

  /** KVM_CREATE_VCPU with `index` as the vCPU id (= initial APIC ID). */
  static create(vmFd: number, index: number, mmapSize: number, options: KvmVcpuOptions): KvmVcpu {
    return new KvmVcpu(kvmBinding().createVcpu(vmFd, index), index, mmapSize, options);
  }

  run(): VcpuStop {
    const b = this.b;
    const fd = this.fd;
    const control = this.control;
    try {
      for (;;) {
        if (control.stopRequested) {
          control.clear();
          return KICKED;
        }
        const reason = b.run(fd);
        this.lastExitReason = reason;
        if (reason === this.exitIo) this.dispatchIo();
        else if (reason === this.exitMmio) this.dispatchMmio();
        else if (reason === this.exitThreadExits) {
          // Only vCPU threads interrupted KVM_RUN (nobody wants the event loop): serve
          // their exits here and re-enter, unless one needs the machine. Cleared before
          // serving, so an exit handed over meanwhile makes the next KVM_RUN return.
          this.runPage[this.offImmediateExit] = 0;
          if (this.serveThreadExits?.()) return KICKED;
        } else if (reason === this.exitIntr) {
          // A kick: immediate_exit stays set until we clear it, and KVM would
          // refuse to enter the guest again.
          this.runPage[this.offImmediateExit] = 0;
          control.clear();
          return KICKED;
        } else if (reason === this.exitHlt) return HALTED;
        else if (reason === this.exitShutdown) return TRIPLE_FAULT;
        else if (reason === this.exitSystemEvent) return this.systemEventStop();
        else if (reason !== this.exitIrqWindowOpen) return this.errorStop(this.lastExit());
      }
    } catch (e) {
      if (isKvmError(e)) return { kind: 'error', message: `vCPU ${this.index}: ${e.message}` };
      throw e;
    }
  }

  /**
   * Serves an exit that KVM_RUN returned on another thread (this vCPU's own
   * thread under SMP, see vcpu-threads.ts), as run() would: I/O goes to the
   * bus and its data into kvm_run. Undefined: the vCPU goes on.
   */
  serveExit(reason: number): VcpuStop | undefined {
    this.lastExitReason = reason;
    if (reason === this.exitIo) this.dispatchIo();
    else if (reason === this.exitMmio) this.dispatchMmio();
    else if (reason === this.exitShutdown) return TRIPLE_FAULT;
    else if (reason === this.exitSystemEvent) return this.systemEventStop();
    // HLT and an open interrupt window need nothing with the in-kernel irqchip.
    else if (reason !== this.exitHlt && reason !== this.exitIrqWindowOpen && reason !== this.exitIntr) return this.errorStop(this.lastExit());
    return undefined;
  }

  private dispatchIo(): void {
    const page = this.runPage;
    const view = this.view;
    const bus = this.bus;
    const size = page[this.offIoSize] as AccessSize;
    const port = view.getUint16(this.offIoPort, true);
    const count = view.getUint32(this.offIoCount, true);
    // data_offset is a u64 but always inside the kvm_run mapping (a page or two).
    let at = view.getUint32(this.offIoDataOffset, true);
    if (page[this.offIoDirection] === IO_DIRECTION_OUT) {
      for (let i = 0; i < count; i++, at += size) {
        const value = size === 1 ? page[at] : size === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
        bus.pioWrite(port, size, value);
      }
    } else {
      for (let i = 0; i < count; i++, at += size) {
        const value = bus.pioRead(port, size);
        if (size === 1) page[at] = value;
        else if (size === 2) view.setUint16(at, value, true);
        else view.setUint32(at, value >>> 0, true);
      }
    }
  }

  private dispatchMmio(): void {
    const view = this.view;
    const length = view.getUint32(this.offMmioLen, true);
    const address = view.getUint32(this.offMmioPhysAddr, true) + view.getUint32(this.offMmioPhysAddr + 4, true) * TWO_POW_32;
    const data = this.mmioViews[length > 8 ? 8 : length];
    if (this.runPage[this.offMmioIsWrite] !== 0) this.bus.mmioWrite(address, data);
    else this.bus.mmioRead(address, data);
  }

  private systemEventStop(): VcpuStop {
    const exit = this.lastExit();
    const flags = this.b.flags;
    if (exit.kind === 'system-event') {
      if (exit.type === flags.SYSTEM_EVENT_SHUTDOWN) return { kind: 'system-event', event: 'poweroff' };
      if (exit.type === flags.SYSTEM_EVENT_RESET) return { kind: 'system-event', event: 'reset' };
      if (exit.type === flags.SYSTEM_EVENT_CRASH) return { kind: 'system-event', event: 'crash' };
    }
    return this.errorStop(exit);
  }

  private errorStop(exit: KvmExit): VcpuStop {
    let where = '';
    try {
      where = ` at rip 0x${this.getRegisters().rip.toString(16)}`;
    } catch {
      // The registers are a courtesy in the message; the exit itself is the news.
    }
    return { kind: 'error', message: `vCPU ${this.index}: ${describeExit(exit)}${where}` };
  }

  /** The last exit, decoded (allocates; for diagnostics and tests). */
  lastExit(): KvmExit {
    return decodeExit(this.lastExitReason, this.runPage, this.b.runOffsets, this.b.exitReasons);
  }

  /** Makes a running (or about to run) KVM_RUN return 'kicked'. Any thread may call kickVcpu(fd) instead. */
  kick(): void {
    this.b.kick(this.fd);
  }

  /** Ask KVM to exit as soon as the guest can take an interrupt (no-irqchip setups). */
  set requestInterruptWindow(on: boolean) {
    this.runPage[this.b.runOffsets.requestInterruptWindow] = on ? 1 : 0;
  }

  get readyForInterruptInjection(): boolean {
    return this.runPage[this.b.runOffsets.readyForInterruptInjection] !== 0;
  }

  /** KVM_INTERRUPT: only without the in-kernel irqchip. */
  injectInterrupt(vector: number): void {
    this.b.interrupt(this.fd, vector);
  }

  getRegisters(): Registers {
    return decodeRegs(this.getRawState('regs'));
  }

  setRegisters(regs: Registers): void {
    const raw = this.stateBuffer('regs');
    encodeRegs(regs, raw);
    this.b.setState(this.fd, this.b.stateKinds.regs, raw);
  }

  getSpecialRegisters(): SpecialRegisters {
    return decodeSregs(this.getRawState('sregs'));
  }

  setSpecialRegisters(sregs: SpecialRegisters): void {
    // Read first so the pending-interrupt bitmap at the end of kvm_sregs is kept.
    const raw = this.getRawState('sregs');
    encodeSregs(sregs, raw);
    this.b.setState(this.fd, this.b.stateKinds.sregs, raw);
  }

  /**
   * Raw kernel struct for FPU, XSAVE, LAPIC, mp_state, vcpu events, debug
   * registers, XCRs (snapshots keep them opaque). The returned bytes are a
   * reused buffer: copy them to keep them.
   */
  getRawState(kind: VcpuStateName): Uint8Array {
    const raw = this.stateBuffer(kind);
    this.b.getState(this.fd, this.b.stateKinds[kind], raw);
    return raw;
  }

  setRawState(kind: VcpuStateName, raw: Uint8Array): void {
    this.b.setState(this.fd, this.b.stateKinds[kind], raw);
  }

  /** KVM_MP_STATE_* (0 runnable, 1 uninitialized, 2 init received, 3 halted, 4 SIPI received). */
  get mpState(): number {
    const raw = this.getRawState('mpState');
    return new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true);
  }

  set mpState(state: number) {
    const raw = this.stateBuffer('mpState');
    new DataView(raw.buffer, raw.byteOffset, 4).setUint32(0, state, true);
    this.b.setState(this.fd, this.b.stateKinds.mpState, raw);
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    this.b.setCpuid(this.fd, encodeCpuidEntries(entries));
  }

  /** Reads MSRs; those KVM refuses are missing from the result. */
  getMsrs(indices: readonly number[]): Map<number, bigint> {
    const raw = this.encodeMsrs(indices.map((index) => [index, 0n]));
    const n = this.b.getMsrs(this.fd, raw);
    const dv = new DataView(raw.buffer);
    const out = new Map<number, bigint>();
    for (let i = 0; i < n; i++) out.set(dv.getUint32(i * 16, true), dv.getBigUint64(i * 16 + 8, true));
    return out;
  }

  /** Writes MSRs; returns how many KVM accepted (it stops at the first refusal). */
  setMsrs(values: ReadonlyMap<number, bigint> | readonly (readonly [number, bigint])[]): number {
    return this.b.setMsrs(this.fd, this.encodeMsrs([...values]));
  }

  private encodeMsrs(entries: readonly (readonly [number, bigint])[]): Uint8Array {
    const raw = new Uint8Array(entries.length * 16);
    const dv = new DataView(raw.buffer);
    entries.forEach(([index, value], i) => {
      dv.setUint32(i * 16, index >>> 0, true);
      dv.setBigUint64(i * 16 + 8, BigInt.asUintN(64, value), true);
    });
    return raw;
  }

  private stateBuffer(kind: VcpuStateName): Uint8Array {
    let raw = this.stateBuffers.get(kind);
    if (!raw) {
      raw = new Uint8Array(this.b.stateSizes[kind]);
      this.stateBuffers.set(kind, raw);
    }
    return raw;
  }

  /**
   * Unregisters it from kicking, unmaps kvm_run (views of it become empty)
   * and, if `closeFd`, closes the fd. Not while run() is in progress.
   */
  destroy(closeFd = true): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.b.unregisterVcpu(this.fd);
    this.b.releaseMapping(this.runBuffer);
    if (closeFd) this.b.closeFd(this.fd);
  }
}

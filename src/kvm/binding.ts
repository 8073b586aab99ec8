/**
 * Loads the native KVM addon (build/Release/tsvisor_kvm.node) and describes
 * its surface. The addon is thin: raw ioctls, mappings and the kick signal;
 * every struct it hands back is raw kernel bytes that src/kvm/ decodes.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Offsets inside struct kvm_run, read from <linux/kvm.h> at build time. */
export interface KvmRunOffsets {
  requestInterruptWindow: number; immediateExit: number; exitReason: number;
  readyForInterruptInjection: number; ifFlag: number;
  ioDirection: number; ioSize: number; ioPort: number; ioCount: number; ioDataOffset: number;
  mmioPhysAddr: number; mmioData: number; mmioLen: number; mmioIsWrite: number;
  failEntryReason: number; failEntryCpu: number; hwExitReason: number;
  internalSuberror: number; internalNdata: number; internalData: number;
  systemEventType: number; systemEventNdata: number; systemEventData: number;
  exceptionNumber: number; exceptionErrorCode: number;
}

export interface KvmExitReasons {
  UNKNOWN: number; EXCEPTION: number; IO: number; HYPERCALL: number; DEBUG: number; HLT: number;
  MMIO: number; IRQ_WINDOW_OPEN: number; SHUTDOWN: number; FAIL_ENTRY: number; INTR: number;
  INTERNAL_ERROR: number; SYSTEM_EVENT: number; IOAPIC_EOI: number;
}

export interface KvmCapabilityNumbers {
  IRQCHIP: number; HLT: number; USER_MEMORY: number; SET_TSS_ADDR: number; EXT_CPUID: number;
  NR_VCPUS: number; MAX_VCPUS: number; NR_MEMSLOTS: number; PIT2: number; IRQ_ROUTING: number;
  IRQFD: number; IRQFD_RESAMPLE: number; IOEVENTFD: number; SIGNAL_MSI: number; XSAVE: number; XCRS: number;
  IMMEDIATE_EXIT: number; SET_IDENTITY_MAP_ADDR: number; TSC_DEADLINE_TIMER: number;
}

export interface KvmFlags {
  IOEVENTFD_DATAMATCH: number; IOEVENTFD_PIO: number; IOEVENTFD_DEASSIGN: number;
  IRQFD_DEASSIGN: number; IRQFD_RESAMPLE: number; PIT_SPEAKER_DUMMY: number;
  MEM_READONLY: number; MEM_LOG_DIRTY_PAGES: number;
  IRQ_ROUTING_IRQCHIP: number; IRQ_ROUTING_MSI: number;
  SYSTEM_EVENT_SHUTDOWN: number; SYSTEM_EVENT_RESET: number; SYSTEM_EVENT_CRASH: number;
}

/** Fixed-size vCPU state structs, by name; the value is the `kind` argument. */
export interface VcpuStateTable<T> {
  regs: T; sregs: T; fpu: T; xsave: T; lapic: T; mpState: T; vcpuEvents: T; debugRegs: T; xcrs: T;
}
export type VcpuStateName = keyof VcpuStateTable<number>;

type Bytes = ArrayBuffer | ArrayBufferView;

export interface KvmBinding {
  openKvm(): number;
  closeFd(fd: number): void;
  apiVersion(kvmFd: number): number;
  checkExtension(fd: number, capability: number): number;
  vcpuMmapSize(kvmFd: number): number;
  /** Raw kvm_cpuid_entry2 array. */
  supportedCpuid(kvmFd: number): ArrayBuffer;
  msrIndexList(kvmFd: number): Uint32Array;

  createVm(kvmFd: number, type?: number): number;
  setUserMemoryRegion(vmFd: number, slot: number, flags: number, guestAddress: number, ram: ArrayBuffer | null): void;
  setTssAddr(vmFd: number, address: number): void;
  setIdentityMapAddr(vmFd: number, address: number): void;
  createIrqchip(vmFd: number): void;
  createPit2(vmFd: number, flags?: number): void;
  irqLine(vmFd: number, gsi: number, level: number): void;
  signalMsi(vmFd: number, addressLo: number, addressHi: number, data: number, flags?: number, devid?: number): number;
  setGsiRouting(vmFd: number, entries: Bytes): void;
  irqfd(vmFd: number, eventFd: number, gsi: number, flags?: number, resampleFd?: number): void;
  ioeventfd(vmFd: number, eventFd: number, address: number, length: number, flags?: number, datamatch?: bigint | number): void;

  createVcpu(vmFd: number, id: number): number;
  registerVcpu(vcpuFd: number, mmapSize: number): void;
  unregisterVcpu(vcpuFd: number): void;
  mapRun(vcpuFd: number, mmapSize: number): ArrayBuffer;
  /** KVM_RUN: the exit reason; exitReasons.INTR when kicked; runThreadExits when only vCPU threads interrupted it. */
  run(vcpuFd: number): number;
  runThreadExits: number;
  /** From any thread; false if the fd is not a registered vCPU. */
  kick(vcpuFd: number): boolean;
  getState(vcpuFd: number, kind: number, buffer: Bytes): void;
  setState(vcpuFd: number, kind: number, buffer: Bytes): void;
  setCpuid(vcpuFd: number, entries: Bytes): void;
  getMsrs(vcpuFd: number, entries: Bytes): number;
  setMsrs(vcpuFd: number, entries: Bytes): number;
  interrupt(vcpuFd: number, vector: number): void;
  stateKinds: VcpuStateTable<number>;
  stateSizes: VcpuStateTable<number>;

  mmapRam(size: number): ArrayBuffer;
  attachRam(address: bigint): ArrayBuffer;
  mappingAddress(buffer: Bytes): bigint;
  /** Detaches the buffer and drops its hold on the mapping. */
  releaseMapping(buffer: ArrayBuffer): void;

  eventfdCreate(initialValue?: number, flags?: number): number;
  eventfdRead(fd: number): bigint | null;
  eventfdWrite(fd: number, value?: bigint | number): void;

  runOffsets: KvmRunOffsets;
  exitReasons: KvmExitReasons;
  structSizes: { cpuidEntry2: number; msrEntry: number; irqRoutingEntry: number; segment: number };
  capabilities: KvmCapabilityNumbers;
  flags: KvmFlags;
}

export class KvmBindingMissing extends Error {
  override name = 'KvmBindingMissing';
}

let cached: KvmBinding | undefined;

/** The compiled addon; the project root is found relative to this file (src/kvm or dist/src/kvm). */
export function kvmBinding(): KvmBinding {
  if (cached) return cached;
  const candidates = [resolve(__dirname, '..', '..'), resolve(__dirname, '..', '..', '..')].map((root) =>
    join(root, 'build', 'Release', 'tsvisor_kvm.node'),
  );
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new KvmBindingMissing(
      `the KVM addon is not built (looked for ${candidates.join(', ')}); run \`npm install\` or \`npx node-gyp rebuild --nodedir=/usr\``,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached = require(path) as KvmBinding;
  return cached;
}

/** Errors thrown by the addon: message "<ioctl>: <ERRNO>", code and errno set. */
export interface KvmError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function isKvmError(e: unknown): e is KvmError {
  return e instanceof Error && typeof (e as Partial<KvmError>).code === 'string' && typeof (e as Partial<KvmError>).errno === 'number';
}

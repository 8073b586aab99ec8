/**
 * The one interface both CPU backends implement: KVM (src/kvm/) and the
 * software CPU (src/tcg-fallback/). Machine code (boot, devices, QMP) talks
 * only to this, so the same guest runs under either.
 *
 * Register values are BigInt: they are read and written rarely (boot setup,
 * `info registers`, snapshots), never on the exit path.
 */
import { GuestMemory } from './memory/guest-memory';
import { IoBus } from './devices/bus';
import { Doorbells } from './devices/virtio/doorbells';
import { Logger } from './log';
import { InterruptRouter } from './devices/irq';

export interface Registers {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}

/** A segment register in its hidden (descriptor cache) form, as KVM's kvm_segment. */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  /** Descriptor type field (4 bits). */
  type: number;
  present: boolean;
  dpl: number;
  /** Default operation size (D/B bit). */
  db: boolean;
  /** Code/data (true) or system (false) descriptor. */
  s: boolean;
  /** 64-bit code segment. */
  l: boolean;
  /** Granularity: limit in 4 KiB units. */
  g: boolean;
  avl: boolean;
  unusable: boolean;
}

export interface DescriptorTable {
  base: bigint;
  limit: number;
}

export interface SpecialRegisters {
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment;
  tr: Segment; ldt: Segment;
  gdt: DescriptorTable; idt: DescriptorTable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint;
  apicBase: bigint;
}

/**
 * Why Vcpu.run() returned. I/O is not a reason: both backends dispatch port
 * and MMIO accesses to the IoBus themselves and keep running.
 */
export type VcpuStop =
  /** The machine asked the vCPU to come back (pause, QMP, a device's exit request, time slice spent). */
  | { kind: 'kicked' }
  /** HLT with nothing pending; the machine waits for an interrupt (software CPU, or KVM without irqchip). */
  | { kind: 'halted' }
  /** Triple fault or a shutdown the CPU itself entered. */
  | { kind: 'shutdown'; reason: string }
  /** The guest asked for reset/poweroff through the platform (PSCI-like system events, i8042 reset). */
  | { kind: 'system-event'; event: 'reset' | 'poweroff' | 'crash' }
  /** The backend could not go on (KVM_EXIT_FAIL_ENTRY, INTERNAL_ERROR, an unknown exit). */
  | { kind: 'error'; message: string };

export interface Vcpu {
  readonly index: number;
  /**
   * KVM's vCPU fd; absent under the software CPU. The main thread passes it to
   * kickVcpu() (src/kvm/kick.ts) to bring a vCPU running in another thread out
   * of KVM_RUN.
   */
  readonly fd?: number;
  getRegisters(): Registers;
  setRegisters(regs: Registers): void;
  getSpecialRegisters(): SpecialRegisters;
  setSpecialRegisters(sregs: SpecialRegisters): void;
  /** Run guest code until something the machine must handle; see VcpuStop. */
  run(): VcpuStop;
}

/** Shared between a running vCPU loop and whoever may stop it. */
export interface RunControl {
  /** Set to make run() return { kind: 'kicked' } at the next opportunity. */
  requestStop(): void;
  /** Consumed by the vCPU loop. */
  readonly stopRequested: boolean;
  clear(): void;
}

export class SimpleRunControl implements RunControl {
  stopRequested = false;
  requestStop(): void { this.stopRequested = true; }
  clear(): void { this.stopRequested = false; }
}

export interface AcceleratorConfig {
  /** RAM layout: the machine decides where the PCI hole is. */
  ram: readonly { guestAddress: number; size: number }[];
  cpus: number;
  bus: IoBus;
  control: RunControl;
  /** Where a backend says which optional paths it could not use. */
  log?: Logger;
}

/**
 * vCPUs that run on host threads of their own (KVM with more than one vCPU:
 * a vCPU halted in KVM_RUN blocks its thread until an interrupt, so the
 * machine thread cannot take turns with them). The machine thread does not
 * run these; it serves the exits they hand over, because it owns the devices.
 */
export interface VcpuThreads {
  /** True when vCPU `index` runs on a thread of its own. */
  owns(index: number): boolean;
  /** Lets every thread run guest code (cheap when they already do). */
  release(): void;
  /** Stops every thread outside the guest, serving the exits they hand over meanwhile. */
  park(): void;
  /** Serves the exits handed over so far; returns the first that the machine must act on. */
  serve(): { index: number; stop: VcpuStop } | undefined;
  /** Runs `read` while vCPU `index` is out of the guest (KVM serialises state ioctls with KVM_RUN). */
  whileParked<T>(index: number, read: () => T): T;
  /** Linux TID of vCPU `index`'s thread. */
  threadId(index: number): number;
}

export interface Accelerator {
  readonly name: 'kvm' | 'tcg';
  readonly memory: GuestMemory;
  readonly interrupts: InterruptRouter;
  readonly vcpus: readonly Vcpu[];
  /** Absent when the machine thread runs every vCPU itself (one vCPU, or the software CPU). */
  readonly vcpuThreads?: VcpuThreads;
  /** KVM with ioeventfd: virtqueue notify writes that skip the bus (see doorbells.ts). */
  readonly doorbells?: Doorbells;
  /** Release fds and mappings. The accelerator is unusable afterwards. */
  destroy(): void;
}

/** Thrown when an accelerator cannot start; `reason` is one line for the user. */
export class AcceleratorUnavailable extends Error {
  override name = 'AcceleratorUnavailable';
}

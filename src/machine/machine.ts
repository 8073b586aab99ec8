/**
 * One guest: accelerator, buses, devices and the loaded kernel. Lives on the
 * machine worker thread, which owns every device (no locks), and is driven
 * by runOnce() from the worker's loop.
 *
 * Reset is done by building a new Machine: the accelerator, RAM and device
 * state start from scratch, exactly as at power-on, which is simpler and
 * safer than resetting each piece in place.
 */
import { Accelerator, AcceleratorConfig, SimpleRunControl, Vcpu, VcpuStop } from '../accel';
import { IoBus } from '../devices/bus';
import { Logger, defaultLogger } from '../log';
import { AccelName, VmConfig } from './vm-config';
import { MachineEnd } from './vm-protocol';
import { Platform, createPlatform } from './platform';
import { loadKernel } from './load-kernel';
import { createAccelerator } from './create-accelerator';
import { memoryLayout } from './memory-layout';
import { VirtioMachine } from './virtio-devices';
import { NO_BACKENDS, VirtioBackends } from './virtio-backends';
import { virtioConfigOf } from './virtio-config';

export interface MachineImages {
  kernel: Uint8Array;
  initrd?: Uint8Array;
}

export interface MachineIo {
  /** Console bytes from the guest's COM1. */
  writeConsole(bytes: Uint8Array): void;
  /** Run the machine loop soon: a device raised an interrupt from an event-loop callback. */
  wake?(): void;
}

/** What the worker loop does after one round of running the vCPUs. */
export type RoundResult =
  | { kind: 'continue' }
  /** Every vCPU is halted; nothing to do until an interrupt (timer or host input). */
  | { kind: 'idle'; wakeInMs: number | undefined }
  | { kind: 'reset'; cause: string }
  | { kind: 'end'; end: MachineEnd };

export class Machine {
  private requested: RoundResult | undefined;
  /** Disks, nets, rng, console on PCI or MMIO (the disks' and TAPs' host ends outlive the Machine). */
  virtio: VirtioMachine | undefined;

  private constructor(
    readonly config: VmConfig,
    readonly accel: Accelerator,
    readonly bus: IoBus,
    readonly platform: Platform,
    /** Shared with the accelerator: a device's request stops the running vCPU. */
    readonly control: SimpleRunControl,
  ) {}

  /**
   * Builds the machine with the first accelerator of `candidates` that
   * starts. Throws an Error with a one-line message when none does or the
   * kernel cannot be loaded.
   */
  static create(
    config: VmConfig, images: MachineImages, candidates: AccelName[], io: MachineIo, log: Logger = defaultLogger,
    backends: VirtioBackends = NO_BACKENDS,
  ): Machine {
    const bus = new IoBus(log);
    const control = new SimpleRunControl();
    const accelConfig: AcceleratorConfig = { ram: memoryLayout(config.memoryBytes).ram, cpus: config.cpus, bus, control };
    let machine: Machine | undefined;
    const platform = createPlatform(bus, config, io, {
      onDebugExit: (status) => machine?.request({ kind: 'end', end: { kind: 'debug-exit', status } }),
      onResetRequest: () => machine?.request({ kind: 'reset', cause: 'guest-reset' }),
      onPowerOff: () => machine?.request({ kind: 'end', end: { kind: 'poweroff' } }),
    });
    const accel = createAccelerator(candidates, accelConfig, platform, log);
    machine = new Machine(config, accel, bus, platform, control);
    try {
      machine.virtio = VirtioMachine.attach({
        config: virtioConfigOf(config), backends, bus, accel, router: platform.router, log,
        writeConsole: (bytes) => io.writeConsole(bytes),
        wake: () => io.wake?.(),
      });
      loadKernel(config, images, accel);
    } catch (e) {
      accel.destroy();
      throw e;
    }
    return machine;
  }

  /** A device asks for the machine to stop running and do something (reset, end). */
  request(result: RoundResult): void {
    // The first request wins: a debug-exit followed by a reset in the same slice still exits.
    this.requested ??= result;
    this.control.requestStop();
  }

  /**
   * Runs every vCPU the machine thread runs once (round-robin) and says what
   * the loop should do next. vCPUs on threads of their own (KVM SMP) are let
   * run, and the exits they handed over are served after each run: such an
   * exit kicks vCPU 0 out of KVM_RUN, so that is when they are waiting.
   */
  runOnce(): RoundResult {
    const threads = this.accel.vcpuThreads;
    // A stop served while the machine was paused (park serves pending exits) comes first.
    const early = this.serveVcpuThreads();
    if (early) return early;
    threads?.release();
    let allHalted = true;
    for (const vcpu of this.accel.vcpus) {
      if (threads?.owns(vcpu.index)) continue;
      this.platform.beforeRun(vcpu.index);
      this.virtio?.beforeRun(this.platform.msUntilNextTimer());
      const stop = vcpu.run();
      this.virtio?.afterRun();
      const outcome = this.interpret(vcpu.index, stop) ?? this.serveVcpuThreads();
      if (outcome) return outcome;
      if (stop.kind !== 'halted') allHalted = false;
    }
    if (this.requested) return this.takeRequest();
    if (allHalted) {
      this.platform.guestTime.enterIdle();
      return { kind: 'idle', wakeInMs: this.platform.msUntilNextTimer() };
    }
    this.platform.guestTime.leaveIdle();
    return { kind: 'continue' };
  }

  private serveVcpuThreads(): RoundResult | undefined {
    const served = this.accel.vcpuThreads?.serve();
    return served ? this.interpret(served.index, served.stop) : undefined;
  }

  /**
   * Takes every vCPU out of the guest (pause, and before a reset or the end,
   * so vCPU threads stop running guest code nobody will serve). runOnce()
   * lets them run again.
   */
  parkVcpus(): void {
    this.accel.vcpuThreads?.park();
  }

  /** Reads vCPU `index` (registers) while it is out of the guest. */
  readVcpu<T>(index: number, read: (vcpu: Vcpu) => T): T {
    const vcpu = this.accel.vcpus[index];
    if (!vcpu) throw new Error(`CPU ${index} does not exist`);
    const threads = this.accel.vcpuThreads;
    return threads ? threads.whileParked(index, () => read(vcpu)) : read(vcpu);
  }

  /** Linux TID of the thread that runs vCPU `index`; `machineThreadId` unless it has its own. */
  vcpuThreadId(index: number, machineThreadId: number): number {
    const threads = this.accel.vcpuThreads;
    return threads?.owns(index) ? threads.threadId(index) : machineThreadId;
  }

  private interpret(index: number, stop: VcpuStop): RoundResult | undefined {
    // A device's request (debug-exit, reset, poweroff) happened before whatever ended the
    // run: the software CPU may execute past the I/O instruction until its next check.
    if (this.requested) return this.takeRequest();
    switch (stop.kind) {
      case 'kicked':
      case 'halted':
        return undefined;
      case 'shutdown':
        return { kind: 'reset', cause: `vCPU ${index}: ${stop.reason}` };
      case 'system-event':
        if (stop.event === 'poweroff') return { kind: 'end', end: { kind: 'poweroff' } };
        if (stop.event === 'reset') return { kind: 'reset', cause: 'guest-reset' };
        return { kind: 'end', end: { kind: 'error', message: `vCPU ${index}: guest crashed` } };
      case 'error':
        return { kind: 'end', end: { kind: 'error', message: `vCPU ${index}: ${stop.message}` } };
    }
  }

  private takeRequest(): RoundResult {
    const r = this.requested ?? { kind: 'continue' };
    this.requested = undefined;
    this.control.clear();
    return r;
  }

  destroy(): void {
    this.accel.destroy();
  }
}

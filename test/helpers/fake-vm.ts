/**
 * An in-memory VmControl that follows QEMU's run-state machine, for testing
 * the monitor without a guest. Extra methods play the guest's side
 * (guestShutdown, internalError) so tests can reach every state.
 */
import { EventEmitter } from 'node:events';
import {
  Accel, BlockDeviceInfo, ChardevInfo, RunState, ShutdownCause, VcpuInfo, VmControl, VmEvent,
} from '../../src/qmp/vm-control';

export interface FakeVmOptions {
  name?: string;
  uuid?: string;
  accel?: Accel;
  cpus?: number;
  machineType?: string;
  hotpluggableCpus?: boolean;
  /** Start running (no -S); default is 'prelaunch' like QEMU -S. */
  running?: boolean;
  /** QEMU's -no-shutdown: a guest power-off stops in 'shutdown' instead of exiting. */
  noShutdown?: boolean;
  blockDevices?: BlockDeviceInfo[];
  chardevs?: ChardevInfo[];
  /** Delay (ms) of the async operations, to exercise ordering. */
  latencyMs?: number;
}

const hex = (v: bigint, digits: number) => v.toString(16).padStart(digits, '0');

export class FakeVm implements VmControl {
  readonly events = new EventEmitter();
  readonly name: string | undefined;
  readonly uuid: string;
  readonly accel: Accel;
  readonly kvmPresent = true;
  readonly machineType: string;
  readonly hotpluggableCpus: boolean;
  readonly cpuType = 'qemu64-x86_64-cpu';
  /** Calls the monitor made, in order: 'stop', 'cont', ... */
  readonly calls: string[] = [];
  quitCalled = false;
  private state: RunState;
  private readonly cpuCount: number;
  private readonly latency: number;
  private readonly noShutdown: boolean;
  private readonly blocks: BlockDeviceInfo[];
  private readonly chars: ChardevInfo[];

  constructor(opts: FakeVmOptions = {}) {
    this.name = opts.name;
    this.uuid = opts.uuid ?? '00000000-0000-0000-0000-000000000000';
    this.accel = opts.accel ?? 'kvm';
    this.cpuCount = opts.cpus ?? 1;
    this.machineType = opts.machineType ?? 'pc-i440fx-7.2';
    this.hotpluggableCpus = opts.hotpluggableCpus ?? true;
    this.state = opts.running ? 'running' : 'prelaunch';
    this.noShutdown = opts.noShutdown ?? false;
    this.blocks = opts.blockDevices ?? [];
    this.chars = opts.chardevs ?? [];
    this.latency = opts.latencyMs ?? 0;
  }

  runState(): RunState {
    return this.state;
  }

  private emit(e: VmEvent): void {
    this.events.emit('event', e);
  }

  private settle(): Promise<void> {
    return this.latency > 0 ? new Promise((r) => setTimeout(r, this.latency)) : Promise.resolve();
  }

  /** QEMU's do_vm_stop(): only a running VM stops and reports STOP. */
  private vmStop(to: RunState): void {
    if (this.state !== 'running') return;
    this.state = to;
    this.emit({ event: 'STOP' });
  }

  async stop(): Promise<void> {
    this.calls.push('stop');
    await this.settle();
    this.vmStop('paused');
  }

  async cont(): Promise<void> {
    this.calls.push('cont');
    await this.settle();
    if (this.state === 'running') return;
    // QEMU sends RESUME before the vCPUs actually run.
    this.emit({ event: 'RESUME' });
    this.state = 'running';
  }

  async reset(): Promise<void> {
    this.calls.push('reset');
    await this.settle();
    this.emit({ event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' } });
    if (this.state !== 'running') this.state = 'prelaunch';
  }

  async powerdown(): Promise<void> {
    this.calls.push('powerdown');
    await this.settle();
    this.emit({ event: 'POWERDOWN' });
  }

  quit(): void {
    this.calls.push('quit');
    this.quitCalled = true;
    this.emit({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
    // QEMU then exits; its final vm_shutdown() stops without a STOP event.
    this.state = 'shutdown';
  }

  /** The guest powers off (ACPI S5, or reboot with --no-reboot). */
  guestShutdown(reason: ShutdownCause = 'guest-shutdown'): void {
    this.emit({ event: 'SHUTDOWN', data: { guest: true, reason } });
    if (this.noShutdown) this.vmStop('shutdown');
    else { this.state = 'shutdown'; }
  }

  /** KVM reported an internal error on a vCPU. */
  internalError(): void {
    this.vmStop('internal-error');
  }

  async cpus(): Promise<VcpuInfo[]> {
    await this.settle();
    return Array.from({ length: this.cpuCount }, (_, i) => ({
      index: i,
      qomPath: `/machine/unattached/device[${i === 0 ? 0 : i + 1}]`,
      threadId: process.pid + 1 + i,
      props: { socketId: 0, coreId: i, threadId: 0 },
    }));
  }

  async registers(cpuIndex: number): Promise<string> {
    await this.settle();
    if (cpuIndex < 0 || cpuIndex >= this.cpuCount) throw new Error(`no CPU ${cpuIndex}`);
    const rip = 0xfff0n + BigInt(cpuIndex);
    return [
      'RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000000 RDX=0000000000060fb1',
      'RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=0000000000000000',
      'R8 =0000000000000000 R9 =0000000000000000 R10=0000000000000000 R11=0000000000000000',
      'R12=0000000000000000 R13=0000000000000000 R14=0000000000000000 R15=0000000000000000',
      `RIP=${hex(rip, 16)} RFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0`,
      'ES =0000 0000000000000000 0000ffff 00009300',
      'CS =f000 00000000ffff0000 0000ffff 00009b00',
      '',
    ].join('\n');
  }

  blockDevices(): BlockDeviceInfo[] {
    return this.blocks;
  }

  chardevs(): ChardevInfo[] {
    return this.chars;
  }
}

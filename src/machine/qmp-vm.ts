/**
 * The QMP monitor's view of a running guest (src/qmp/vm-control.ts) over
 * the main thread's VmHost. It keeps QEMU's run-state rules: STOP and RESUME
 * only on a real change, a reset of a VM that is not running leaves it in
 * 'prelaunch', quit emits SHUTDOWN before the reply.
 */
import { EventEmitter } from 'node:events';
import { Accel, BlockDeviceInfo, ChardevInfo, RunState, VcpuInfo, VmControl, VmEvent } from '../qmp/vm-control';
import { VmHost } from './vm-host';
import { VmConfig } from './vm-config';
import { virtioBlockDevices } from './virtio-block-info';
import { virtioConfigOf } from './virtio-config';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export class QmpVm implements VmControl {
  readonly events = new EventEmitter();
  readonly uuid = ZERO_UUID;
  readonly machineType = 'pc';
  readonly hotpluggableCpus = false;
  private state: RunState;

  constructor(private readonly host: VmHost, private readonly config: VmConfig, readonly kvmPresent: boolean) {
    this.state = host.state;
    host.on('started', () => { this.state = host.state; });
    host.on('event', (name, data) => this.onGuestEvent(name, data));
    host.on('end', (end) => {
      this.state = end.kind === 'error' ? 'internal-error' : 'shutdown';
    });
  }

  get name(): string | undefined {
    return this.config.name;
  }

  get accel(): Accel {
    return this.host.accel ?? 'tcg';
  }

  get cpuType(): string {
    return this.accel === 'kvm' ? 'host-x86_64-cpu' : 'qemu64-x86_64-cpu';
  }

  runState(): RunState {
    return this.state;
  }

  private emit(e: VmEvent): void {
    this.events.emit('event', e);
  }

  /** Guest-initiated changes reported by the machine thread. */
  private onGuestEvent(name: string, data: Record<string, unknown> | undefined): void {
    if (name === 'RESET') {
      this.emit({ event: 'RESET', data: { guest: true, reason: 'guest-reset' } });
    } else if (name === 'SHUTDOWN') {
      this.state = 'shutdown';
      this.emit({ event: 'SHUTDOWN', data: { guest: data?.guest !== false, reason: 'guest-shutdown' } });
    }
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    await this.host.pause();
    this.state = 'paused';
    this.emit({ event: 'STOP' });
  }

  async cont(): Promise<void> {
    if (this.state === 'running') return;
    this.emit({ event: 'RESUME' });
    await this.host.resume();
    this.state = 'running';
  }

  async reset(): Promise<void> {
    await this.host.reset();
    this.emit({ event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' } });
    if (this.state !== 'running') this.state = 'prelaunch';
  }

  async powerdown(): Promise<void> {
    this.emit({ event: 'POWERDOWN' });
    await this.host.powerdown();
  }

  async quit(): Promise<void> {
    this.emit({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
    await this.host.quit();
    this.state = 'shutdown';
  }

  async cpus(): Promise<VcpuInfo[]> {
    const cpus = await this.host.cpus();
    return cpus.map((c) => ({
      index: c.index,
      qomPath: `/machine/unattached/device[${c.index}]`,
      // The machine thread's Linux TID (all vCPUs run there): what libvirt pins.
      threadId: c.threadId,
      props: { socketId: c.index, coreId: 0, threadId: 0 },
    }));
  }

  registers(cpuIndex: number): Promise<string> {
    return this.host.registers(cpuIndex);
  }

  blockDevices(): BlockDeviceInfo[] {
    return virtioBlockDevices(virtioConfigOf(this.config));
  }

  chardevs(): ChardevInfo[] {
    const serial = this.config.serial;
    if (serial.kind === 'none') return [];
    return [{ label: 'serial0', filename: serial.kind === 'stdio' ? 'stdio' : `file:${serial.path}`, frontendOpen: true }];
  }
}

/**
 * The main thread's handle on a running guest: starts the machine worker,
 * turns requests (pause, reset, registers...) into messages, kicks the vCPU
 * out of KVM_RUN so it notices them, and reports guest events and the end.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { VmConfig, AccelName } from './vm-config';
import { CpuSummary, HostToWorker, MachineEnd, RunState, WorkerToHost } from './vm-protocol';
import { kickVcpu } from '../kvm/kick';

/** A request message without its id (distributed over the union); the id is added when sent. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type RequestBody = WithoutId<Extract<HostToWorker, { id: number }>>;

export interface VmHostEvents {
  started: [accel: AccelName];
  /** QMP-style events: RESET, SHUTDOWN, STOP, RESUME, POWERDOWN. */
  event: [name: string, data: Record<string, unknown> | undefined];
  end: [end: MachineEnd];
}

export class VmHost extends EventEmitter<VmHostEvents> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private vcpuFds: number[] = [];
  private ended = false;
  state: RunState = 'prelaunch';
  accel: AccelName | undefined;

  constructor(readonly config: VmConfig) {
    super();
  }

  /**
   * Starts the worker and builds the machine. Resolves once the guest is
   * loaded (running, or paused when `paused`); rejects with a one-line
   * message when the machine cannot be built (bad image, no accelerator).
   */
  start(images: { kernel: Uint8Array; initrd?: Uint8Array }, paused: boolean, accelCandidates: AccelName[]): Promise<void> {
    const worker = new Worker(join(__dirname, 'vm-worker.js'));
    this.worker = worker;
    const config: VmConfig = { ...this.config, accel: accelCandidates };
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (msg: WorkerToHost) => {
        switch (msg.type) {
          case 'started':
            this.vcpuFds = msg.vcpuFds;
            this.accel = msg.accel;
            if (!started) {
              started = true;
              this.state = paused ? 'prelaunch' : 'running';
              this.emit('started', msg.accel);
              resolve();
            }
            return;
          case 'fatal':
            if (!started) reject(new Error(msg.message));
            else this.finish({ kind: 'error', message: msg.message });
            return;
          case 'reply': {
            const p = this.pending.get(msg.id);
            if (!p) return;
            this.pending.delete(msg.id);
            if (msg.ok) p.resolve(msg.value);
            else p.reject(new Error(msg.message));
            return;
          }
          case 'event':
            this.emit('event', msg.event, msg.data);
            return;
          case 'end':
            this.finish(msg.end);
            return;
        }
      });
      worker.on('error', (e) => {
        if (!started) reject(e);
        else this.finish({ kind: 'error', message: `machine thread failed: ${e.message}` });
      });
      worker.on('exit', () => {
        if (!this.ended) this.finish({ kind: 'error', message: 'machine thread exited unexpectedly' });
      });
      const startMsg: HostToWorker = { type: 'start', config, kernel: images.kernel, initrd: images.initrd, paused, serialFd: null };
      worker.postMessage(startMsg);
    });
  }

  private finish(end: MachineEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.state = 'shutdown';
    for (const p of this.pending.values()) p.reject(new Error('the machine has ended'));
    this.pending.clear();
    this.emit('end', end);
    // terminate() cannot interrupt a native call: bring a vCPU out of KVM_RUN first.
    this.kick();
    void this.worker?.terminate();
  }

  /** Interrupts a vCPU blocked in KVM_RUN so the worker reads its messages. */
  private kick(): void {
    for (const fd of this.vcpuFds) kickVcpu(fd);
  }

  private request(body: RequestBody): Promise<unknown> {
    if (!this.worker || this.ended) return Promise.reject(new Error('the machine is not running'));
    const id = this.nextId++;
    const msg = { ...body, id } as HostToWorker;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage(msg);
      this.kick();
    });
  }

  async pause(): Promise<void> {
    await this.request({ type: 'pause' });
    this.state = 'paused';
  }

  async resume(): Promise<void> {
    await this.request({ type: 'resume' });
    this.state = 'running';
  }

  async reset(): Promise<void> {
    await this.request({ type: 'reset' });
  }

  async powerdown(): Promise<void> {
    await this.request({ type: 'powerdown' });
  }

  async quit(): Promise<void> {
    if (this.ended) return;
    try {
      await this.request({ type: 'quit' });
    } finally {
      this.finish({ kind: 'quit' });
    }
  }

  sendSerialInput(bytes: Uint8Array): void {
    if (!this.worker || this.ended) return;
    this.worker.postMessage({ type: 'serial-input', bytes } satisfies HostToWorker);
    this.kick();
  }

  async registers(cpu: number): Promise<string> {
    return (await this.request({ type: 'info-registers', cpu })) as string;
  }

  async cpus(): Promise<CpuSummary[]> {
    return (await this.request({ type: 'info-cpus' })) as CpuSummary[];
  }
}

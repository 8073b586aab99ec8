/**
 * The machine thread. It owns the vCPUs and every device, so devices need no
 * locks, and it calls KVM_RUN (or runs the software CPU) itself, so an exit
 * reaches its device with no thread hop (see ARCHITECTURE.md, thread model).
 *
 * The main thread talks to it with messages; when the vCPU is inside
 * KVM_RUN the main thread also kicks it (signal + immediate_exit), after
 * which run() returns, this loop yields to the event loop and the message
 * is handled.
 */
import { parentPort } from 'node:worker_threads';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Machine, MachineImages, RoundResult } from './machine';
import { HostToWorker, WorkerToHost, CpuSummary } from './vm-protocol';
import { AccelName, VmConfig } from './vm-config';
import { formatRegisters } from './format-registers';
import { createLogger } from '../log';
import { NO_BACKENDS, VirtioBackends, closeVirtioBackends, openVirtioBackends } from './virtio-backends';
import { virtioConfigOf } from './virtio-config';
import { startProfilerFromEnv } from './worker-profiler';
import { linuxThreadId } from '../kvm/thread-id';

const port = parentPort;
if (!port) throw new Error('vm-worker.ts must run as a worker thread');

const log = createLogger('');
/** The thread id of every vCPU this thread runs (all of them, except KVM's vCPUs 1..N-1: own threads). */
const threadId = linuxThreadId();
const stopProfiler = startProfilerFromEnv();
let machine: Machine | undefined;
let config: VmConfig;
let images: MachineImages;
let candidates: AccelName[];
let consoleFd: number | null = null;
let ownsConsoleFd = false;
let running = false;
let roundScheduled = false;
let idleTimer: NodeJS.Timeout | undefined;
/** Disk images and TAPs: opened once at start, kept across resets, closed at the end. */
let backends: VirtioBackends = NO_BACKENDS;

function post(msg: WorkerToHost): void {
  port!.postMessage(msg);
}

/** Writes all bytes, retrying when a non-blocking terminal or pipe is momentarily full. */
function writeConsole(bytes: Uint8Array): void {
  if (consoleFd === null) return;
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(consoleFd, bytes, off, bytes.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') { consoleFd = null; return; }
      throw e;
    }
  }
}

function build(): Machine {
  return Machine.create(config, images, candidates, { writeConsole, wake: schedule }, log, backends);
}

/**
 * Reset: a new Machine from the same config and the same open disks. Disk
 * requests in flight write into the old machine's RAM, so they finish first.
 */
async function rebuild(): Promise<void> {
  const old = machine;
  machine = undefined;
  if (old) {
    old.parkVcpus();
    await old.virtio?.drain();
    old.destroy();
  }
  machine = build();
}

/** Machine gone: let in-flight disk writes land, then release image locks and TAPs. */
async function releaseBackends(old: Machine | undefined): Promise<void> {
  await old?.virtio?.drain();
  const b = backends;
  backends = NO_BACKENDS;
  await closeVirtioBackends(b);
}

function schedule(): void {
  if (roundScheduled || !running) return;
  if (idleTimer) { clearTimeout(idleTimer); idleTimer = undefined; }
  roundScheduled = true;
  setImmediate(round);
}

function end(result: RoundResult & { kind: 'end' }): void {
  running = false;
  stopProfiler?.();
  const old = machine;
  machine = undefined;
  old?.parkVcpus();
  void releaseBackends(old).finally(() => {
    old?.destroy();
    post({ type: 'end', end: result.end });
  });
}

function round(): void {
  roundScheduled = false;
  if (!running || !machine) return;
  let r: RoundResult;
  try {
    r = machine.runOnce();
  } catch (e) {
    // A bug in a device or the CPU must end this guest with a clear message, not hang it.
    r = { kind: 'end', end: { kind: 'error', message: `internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}` } };
  }
  switch (r.kind) {
    case 'continue':
      schedule();
      return;
    case 'idle':
      // Sleep until the next guest timer; host input or a QMP command wakes us sooner.
      if (r.wakeInMs !== undefined) idleTimer = setTimeout(() => { idleTimer = undefined; schedule(); }, Math.max(0, r.wakeInMs));
      return;
    case 'reset':
      if (config.noReboot) {
        end({ kind: 'end', end: { kind: 'no-reboot', cause: r.cause } });
        return;
      }
      rebuild().then(() => {
        // QEMU reports a triple fault as a guest reset too.
        post({ type: 'event', event: 'RESET', data: { guest: true, reason: 'guest-reset' } });
        schedule();
      }, (e: unknown) => end({ kind: 'end', end: { kind: 'error', message: e instanceof Error ? e.message : String(e) } }));
      return;
    case 'end':
      if (r.end.kind === 'poweroff') post({ type: 'event', event: 'SHUTDOWN', data: { guest: true, reason: 'guest-shutdown' } });
      end(r);
      return;
  }
}

function cpuSummaries(): CpuSummary[] {
  const m = machine;
  if (!m) return [];
  return m.accel.vcpus.map((v) => ({
    index: v.index,
    rip: '0x' + m.readVcpu(v.index, (vcpu) => vcpu.getRegisters().rip).toString(16),
    threadId: m.vcpuThreadId(v.index, threadId),
  }));
}

function reply(id: number, f: () => unknown): void {
  try {
    post({ type: 'reply', id, ok: true, value: f() });
  } catch (e) {
    post({ type: 'reply', id, ok: false, message: e instanceof Error ? e.message : String(e) });
  }
}

port.on('message', (msg: HostToWorker) => {
  switch (msg.type) {
    case 'start': {
      config = msg.config;
      images = { kernel: msg.kernel, initrd: msg.initrd };
      candidates = Array.isArray(config.accel) ? config.accel : ['tcg'];
      if (config.serial.kind === 'stdio') consoleFd = msg.serialFd ?? 1;
      else if (config.serial.kind === 'file') {
        consoleFd = openSync(config.serial.path, 'w');
        ownsConsoleFd = true;
      }
      const paused = msg.paused;
      // Disks open asynchronously (and take their locks) before the first machine is built.
      openVirtioBackends(virtioConfigOf(config), log).then((opened) => {
        backends = opened;
        let m: Machine;
        try {
          m = build();
        } catch (e) {
          void releaseBackends(undefined);
          post({ type: 'fatal', message: e instanceof Error ? e.message : String(e) });
          return;
        }
        machine = m;
        post({ type: 'started', accel: m.accel.name, vcpuFds: vcpuFds(m), threadId });
        running = !paused;
        schedule();
      }, (e: unknown) => post({ type: 'fatal', message: e instanceof Error ? e.message : String(e) }));
      return;
    }
    case 'pause':
      running = false;
      machine?.parkVcpus();
      machine?.platform.pauseClock();
      if (idleTimer) { clearTimeout(idleTimer); idleTimer = undefined; }
      reply(msg.id, () => undefined);
      return;
    case 'resume':
      running = machine !== undefined;
      machine?.platform.resumeClock();
      reply(msg.id, () => undefined);
      schedule();
      return;
    case 'reset':
      rebuild().then(() => {
        reply(msg.id, () => {
          if (machine) post({ type: 'started', accel: machine.accel.name, vcpuFds: vcpuFds(machine), threadId });
        });
        schedule();
      }, (e: unknown) => reply(msg.id, () => { throw e; }));
      return;
    case 'powerdown':
      reply(msg.id, () => machine?.platform.pressPowerButton());
      schedule();
      return;
    case 'quit': {
      running = false;
      const old = machine;
      machine = undefined;
      old?.parkVcpus();
      void releaseBackends(old).finally(() => {
        old?.destroy();
        if (ownsConsoleFd && consoleFd !== null) closeSync(consoleFd);
        reply(msg.id, () => undefined);
      });
      return;
    }
    case 'serial-input':
      machine?.platform.serial.enqueueInput(msg.bytes);
      machine?.virtio?.enqueueConsoleInput(msg.bytes);
      schedule();
      return;
    case 'info-registers':
      reply(msg.id, () => {
        if (!machine) throw new Error(`CPU ${msg.cpu} does not exist`);
        return machine.readVcpu(msg.cpu, (vcpu) => formatRegisters(vcpu.getRegisters(), vcpu.getSpecialRegisters()));
      });
      return;
    case 'info-cpus':
      reply(msg.id, cpuSummaries);
      return;
  }
});

/**
 * KVM fds of the vCPUs this thread runs, so the main thread can kick it out
 * of KVM_RUN to read its messages. vCPUs on threads of their own are left
 * out: kicking them would only interrupt guest code with no message to read.
 */
function vcpuFds(m: Machine): number[] {
  const threads = m.accel.vcpuThreads;
  return m.accel.vcpus
    .filter((v) => !threads?.owns(v.index))
    .map((v) => v.fd)
    .filter((fd): fd is number => fd !== undefined);
}

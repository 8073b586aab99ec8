/**
 * KVM SMP: vCPU 0 stays on the machine thread, exactly as with one vCPU;
 * vCPUs 1..N-1 each run on a native thread (vcpu-thread.ts). Their exits
 * are served here, on the machine thread, through the same KvmVcpu objects
 * (their own mappings of each kvm_run page), so devices keep one owner and
 * need no locks. A thread handing over an exit interrupts vCPU 0's KVM_RUN:
 * KvmVcpu.run() serves it on the spot when nothing else asked for the
 * machine thread (no event-loop turn), otherwise the machine loop's serve()
 * does, after run() returned.
 */
import { constants } from 'node:os';
import { VcpuStop, VcpuThreads } from '../accel';
import { KvmVcpu } from './vcpu';
import { NativeVcpuThread } from './vcpu-thread';

/** How long to wait for a thread to park before serving again and re-kicking it. */
const PARK_POLL_MS = 20;

function errnoName(errno: number): string {
  const entry = Object.entries(constants.errno).find(([, n]) => n === errno);
  return entry ? entry[0] : `errno ${errno}`;
}

export class KvmVcpuThreads implements VcpuThreads {
  private readonly threads = new Map<number, NativeVcpuThread>();
  private released = false;
  private readonly stops: { index: number; stop: VcpuStop }[] = [];
  /** Threads whose exit stopped the machine: out of the guest until it is reset or ends. */
  private readonly held = new Set<number>();

  /** Starts parked threads for vcpus[1..]; vcpus[0] is the machine thread's. */
  constructor(private readonly vcpus: readonly KvmVcpu[]) {
    try {
      for (const v of vcpus.slice(1)) this.threads.set(v.index, NativeVcpuThread.start(v.fd, vcpus[0].fd));
      vcpus[0].serveThreadExits = () => {
        for (const [index, t] of this.threads) this.serveOne(index, t);
        return this.stops.length > 0;
      };
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  owns(index: number): boolean {
    return this.threads.has(index);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const [index, t] of this.threads) if (!this.held.has(index)) t.release();
  }

  park(): void {
    if (!this.released) return;
    this.released = false;
    for (const t of this.threads.values()) t.park();
    for (const [index, t] of this.threads) this.waitParked(index, t);
  }

  serve(): { index: number; stop: VcpuStop } | undefined {
    for (const [index, t] of this.threads) this.serveOne(index, t);
    return this.stops.shift();
  }

  whileParked<T>(index: number, read: () => T): T {
    const t = this.threads.get(index);
    if (!t) return read();
    if (this.released) {
      t.park();
      this.waitParked(index, t);
    }
    try {
      return read();
    } finally {
      if (this.released && !this.held.has(index)) t.release();
    }
  }

  threadId(index: number): number {
    const t = this.threads.get(index);
    if (!t) throw new RangeError(`vCPU ${index} has no thread of its own`);
    return t.tid;
  }

  /** Joins every thread; before the vCPU fds close. */
  stop(): void {
    this.vcpus[0].serveThreadExits = undefined;
    for (const t of this.threads.values()) t.stop();
  }

  /** A thread waiting for its exit to be served cannot park: serve while waiting. */
  private waitParked(index: number, t: NativeVcpuThread): void {
    while (!t.waitParked(PARK_POLL_MS)) {
      this.serveOne(index, t);
      // Harmless if already out of the guest; covers a thread that re-entered after being served.
      t.park();
    }
  }

  private serveOne(index: number, t: NativeVcpuThread): void {
    const pending = t.pendingExit();
    if (pending.kind === 'none') return;
    let stop: VcpuStop | undefined;
    try {
      stop = pending.kind === 'exit'
        ? this.vcpus[index].serveExit(pending.reason)
        : { kind: 'error', message: `vCPU ${index}: KVM_RUN: ${errnoName(pending.errno)}` };
    } catch (e) {
      // A device bug must end the guest with a message, as on vCPU 0, and must not escape
      // from park() (which runs while the machine is being torn down) with the exit still
      // pending, to be served and thrown again.
      stop = { kind: 'error', message: `internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}` };
    }
    if (stop) {
      // The machine will reset or end; this vCPU stays out of the guest until then.
      this.stops.push({ index, stop });
      this.held.add(index);
      t.park();
    }
    t.complete();
  }
}

/**
 * One vCPU on a native thread of its own (native/vcpu-thread.cc): the thread
 * loops on KVM_RUN and hands every exit it cannot ignore to the machine
 * thread, which serves it with the vCPU's KvmVcpu (devices live there) and
 * calls complete(). This class is the typed face of that handle; the policy
 * (when to park, how exits are served) is in vcpu-threads.ts.
 */
import { kvmBinding } from './binding';

interface VcpuThreadBinding {
  vcpuThreadStart(vcpuFd: number, notifyFd: number): object;
  vcpuThreadTid(handle: object): number;
  vcpuThreadRelease(handle: object): void;
  vcpuThreadPark(handle: object): void;
  vcpuThreadWaitParked(handle: object, timeoutMs: number): boolean;
  vcpuThreadPendingExit(handle: object): number;
  vcpuThreadComplete(handle: object): void;
  vcpuThreadStop(handle: object): void;
  vcpuThreadRunFailed: number;
}

function isVcpuThreadBinding(b: object): b is VcpuThreadBinding {
  const w = b as Partial<Record<keyof VcpuThreadBinding, unknown>>;
  return typeof w.vcpuThreadStart === 'function' && typeof w.vcpuThreadPendingExit === 'function' && typeof w.vcpuThreadRunFailed === 'number';
}

/** What a vCPU thread has handed over, if anything. */
export type PendingExit =
  | { kind: 'none' }
  /** A kvm_run exit reason; the vCPU's kvm_run page holds the details. */
  | { kind: 'exit'; reason: number }
  /** KVM_RUN failed with this errno. */
  | { kind: 'failed'; errno: number };

const NONE: PendingExit = Object.freeze({ kind: 'none' });

export class NativeVcpuThread {
  private stopped = false;

  private constructor(private readonly b: VcpuThreadBinding, private readonly handle: object) {}

  /**
   * Starts a parked thread for the vCPU with fd `vcpuFd`; an exit it hands
   * over kicks `notifyFd` (the vCPU the machine thread runs) out of KVM_RUN
   * so the machine thread serves it at once. Both must be registered vCPUs.
   */
  static start(vcpuFd: number, notifyFd: number): NativeVcpuThread {
    const b: object = kvmBinding();
    if (!isVcpuThreadBinding(b)) throw new Error('the native addon lacks vcpuThreadStart; rebuild it (npm run build)');
    return new NativeVcpuThread(b, b.vcpuThreadStart(vcpuFd, notifyFd));
  }

  /** The thread's Linux TID (QMP thread-id; libvirt pins vCPUs with it). */
  get tid(): number {
    return this.b.vcpuThreadTid(this.handle);
  }

  release(): void {
    this.b.vcpuThreadRelease(this.handle);
  }

  /** Asks the thread to leave KVM_RUN and wait; see waitParked(). */
  park(): void {
    this.b.vcpuThreadPark(this.handle);
  }

  /** True once parked; false on timeout or while an exit waits to be served (serve it, then wait again). */
  waitParked(timeoutMs: number): boolean {
    return this.b.vcpuThreadWaitParked(this.handle, timeoutMs);
  }

  pendingExit(): PendingExit {
    const code = this.b.vcpuThreadPendingExit(this.handle);
    if (code === -1) return NONE;
    if (code >= 0) return { kind: 'exit', reason: code };
    return { kind: 'failed', errno: -code - this.b.vcpuThreadRunFailed };
  }

  /** The pending exit is served; the thread re-enters the guest (or parks, if asked to). */
  complete(): void {
    this.b.vcpuThreadComplete(this.handle);
  }

  /** Ends and joins the thread. Must happen before the vCPU's fd is closed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.b.vcpuThreadStop(this.handle);
  }
}

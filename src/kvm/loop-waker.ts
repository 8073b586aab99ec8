/**
 * Brings a vCPU back from KVM_RUN when this thread's event loop has work.
 *
 * The machine worker calls KVM_RUN itself and also owns the devices, whose
 * I/O completions (disk reads, TAP frames) are event-loop callbacks. While
 * the guest waits for such a completion it usually sits in HLT, which KVM's
 * in-kernel LAPIC handles without returning to us, so the callback would
 * never run. The addon's helper thread watches libuv's epoll fd during each
 * run and kicks the vCPU once it is readable (or a timer is due); the worker
 * then yields to its loop and the completion raises its interrupt.
 */
import { kvmBinding } from './binding';

interface LoopWakerBinding {
  loopWakerCreate(vcpuFd: number): object;
  loopWakerArm(handle: object, timeoutMs: number): void;
  loopWakerDisarm(handle: object): void;
}

function isLoopWakerBinding(b: object): b is LoopWakerBinding {
  const w = b as Partial<Record<keyof LoopWakerBinding, unknown>>;
  return typeof w.loopWakerCreate === 'function' && typeof w.loopWakerArm === 'function' && typeof w.loopWakerDisarm === 'function';
}

export class LoopWaker {
  private constructor(private readonly b: LoopWakerBinding, private readonly handle: object) {}

  /** Watches the calling thread's event loop on behalf of the vCPU with this fd. */
  static create(vcpuFd: number): LoopWaker {
    const b: object = kvmBinding();
    if (!isLoopWakerBinding(b)) throw new Error('the native addon lacks loopWakerCreate; rebuild it (npm run build)');
    return new LoopWaker(b, b.loopWakerCreate(vcpuFd));
  }

  /** Before KVM_RUN: kick once the loop has work, or after `timeoutMs` (undefined: no timeout). */
  arm(timeoutMs: number | undefined): void {
    this.b.loopWakerArm(this.handle, timeoutMs === undefined ? -1 : Math.max(0, Math.ceil(timeoutMs)));
  }

  /** After KVM_RUN returned. */
  disarm(): void {
    this.b.loopWakerDisarm(this.handle);
  }
}

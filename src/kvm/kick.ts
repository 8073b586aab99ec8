/**
 * Kicking a vCPU out of KVM_RUN from another thread. The machine runs each
 * vCPU in a worker_threads Worker that is stuck inside KvmVcpu.run(); the
 * main thread posts its request to the Worker, then kicks, and run() returns
 * { kind: 'kicked' } so the Worker can read its messages.
 *
 * Safe at any moment: before KVM_RUN (immediate_exit makes the next entry
 * return at once), during it (a signal interrupts it) or after the vCPU is
 * gone (returns false).
 */
import { kvmBinding } from './binding';

export function kickVcpu(vcpuFd: number): boolean {
  return kvmBinding().kick(vcpuFd);
}

/**
 * The /dev/kvm system handle: API version, capabilities and what the host can
 * offer a guest. One per accelerator; closing it does not affect VMs made
 * from it (they hold their own fds).
 */
import { AcceleratorUnavailable } from '../accel';
import { KvmBinding, kvmBinding, isKvmError, KvmCapabilityNumbers } from './binding';
import { CpuidEntry, decodeCpuidEntries } from './cpuid';

/** The only KVM API version there has ever been in mainline Linux. */
export const KVM_API_VERSION = 12;

export class Kvm {
  private cpuidCache: CpuidEntry[] | undefined;
  private constructor(readonly fd: number, private readonly b: KvmBinding) {}

  /**
   * Opens /dev/kvm. Throws AcceleratorUnavailable (one line for the user:
   * absent, not permitted, wrong API) so `--accel kvm:tcg` can fall back.
   */
  static open(): Kvm {
    const b = kvmBinding();
    let fd: number;
    try {
      fd = b.openKvm();
    } catch (e) {
      if (isKvmError(e)) throw new AcceleratorUnavailable(e.message);
      throw e;
    }
    const version = b.apiVersion(fd);
    if (version !== KVM_API_VERSION) {
      b.closeFd(fd);
      throw new AcceleratorUnavailable(`KVM API version ${version}, expected ${KVM_API_VERSION}`);
    }
    return new Kvm(fd, b);
  }

  get apiVersion(): number {
    return this.b.apiVersion(this.fd);
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, else a capability-specific number. */
  checkExtension(capability: keyof KvmCapabilityNumbers | number): number {
    const n = typeof capability === 'number' ? capability : this.b.capabilities[capability];
    return this.b.checkExtension(this.fd, n);
  }

  get vcpuMmapSize(): number {
    return this.b.vcpuMmapSize(this.fd);
  }

  /** KVM_GET_SUPPORTED_CPUID, decoded; cached (it does not change while we run). */
  supportedCpuid(): readonly CpuidEntry[] {
    this.cpuidCache ??= decodeCpuidEntries(this.b.supportedCpuid(this.fd));
    return this.cpuidCache;
  }

  /** MSR indices KVM can save and restore (for snapshots). */
  msrIndexList(): number[] {
    return [...this.b.msrIndexList(this.fd)];
  }

  close(): void {
    this.b.closeFd(this.fd);
  }
}

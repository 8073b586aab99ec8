/**
 * Which accelerator to use, with one line saying why, decided before the
 * machine starts so the user sees a clear error instead of an ioctl failure.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { AccelName } from './vm-config';

export interface KvmProbe {
  /** /dev/kvm opened read-write. */
  openable: boolean;
  /** Why not, in words a user can act on. */
  problem?: string;
  /** The host CPU advertises vmx or svm: KVM runs guests at native speed. */
  hardwareVirtualization: boolean;
}

export function probeKvm(devicePath = '/dev/kvm', cpuinfoPath = '/proc/cpuinfo'): KvmProbe {
  let hardwareVirtualization = false;
  try {
    hardwareVirtualization = /\b(vmx|svm)\b/.test(readFileSync(cpuinfoPath, 'latin1'));
  } catch {
    // No /proc: leave false; auto then prefers the software CPU.
  }
  try {
    closeSync(openSync(devicePath, 'r+'));
    return { openable: true, hardwareVirtualization };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let problem: string;
    if (code === 'ENOENT') {
      problem = `${devicePath} is absent: load the KVM module (modprobe kvm_intel or kvm_amd), or enable nested virtualization for this VM`;
    } else if (code === 'EACCES' || code === 'EPERM') {
      problem = `${devicePath} is not permitted for this user: add it to the kvm group (usermod -aG kvm $USER, then log in again) or run as root`;
    } else {
      problem = `${devicePath} cannot be opened: ${code ?? String(e)}`;
    }
    return { openable: false, problem, hardwareVirtualization };
  }
}

export interface AccelPlan {
  /** Accelerators to try, in order. */
  candidates: AccelName[];
  /** A line for stderr when auto picked the software CPU. */
  note?: string;
}

/**
 * auto: KVM where /dev/kvm opens and the host has hardware virtualization,
 * otherwise the software CPU (nested KVM without vmx/svm underneath, like
 * kvm_pvm, runs guest kernel code ~2000x slower and cannot boot stock Linux).
 * An explicit list is honoured as given; `kvm` alone fails clearly when
 * /dev/kvm cannot be opened.
 */
export function planAccelerators(request: AccelName[] | 'auto', probe: KvmProbe): AccelPlan | { error: string } {
  if (request === 'auto') {
    if (probe.openable && probe.hardwareVirtualization) return { candidates: ['kvm'] };
    const why = !probe.openable
      ? probe.problem
      : '/dev/kvm is present but the host CPU has no vmx/svm (nested KVM without hardware virtualization cannot run stock Linux)';
    return { candidates: ['tcg'], note: `using the software CPU (tcg): ${why}` };
  }
  const usable = request.filter((a) => a === 'tcg' || probe.openable);
  if (usable.length === 0) return { error: `cannot use KVM: ${probe.problem}` };
  return { candidates: usable };
}

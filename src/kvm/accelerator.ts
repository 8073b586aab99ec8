/**
 * createKvmAccelerator: the KVM backend of the Accelerator interface. Opens
 * /dev/kvm, builds a VM with the in-kernel irqchip and PIT, maps the
 * machine's RAM layout once, and creates the vCPUs with their CPUID.
 */
import { Accelerator, AcceleratorConfig, AcceleratorUnavailable } from '../accel';
import { InterruptRouter } from '../devices/irq';
import { GuestMemory } from '../memory/guest-memory';
import { cpuidForVcpu } from './cpuid';
import { Kvm } from './kvm';
import { KvmVcpu } from './vcpu';
import { KvmVm } from './vm';
import { KvmVcpuThreads } from './vcpu-threads';
import { KvmDoorbells } from './kvm-doorbells';
import { KvmMsiIrqfds } from './kvm-msi-irqfds';
import { KvmIntxIrqfds } from './kvm-intx-irqfds';
import { Logger } from '../log';

/**
 * Where KVM puts the real-mode TSS (3 pages) and the identity-map page table
 * (1 page) it needs on Intel: just below the BIOS area under 4 GiB, where a
 * PC has no RAM (same place QEMU and Firecracker use).
 */
export const KVM_IDENTITY_MAP_ADDRESS = 0xfffbc000;
export const KVM_TSS_ADDRESS = 0xfffbd000;
const KVM_RESERVED_END = KVM_TSS_ADDRESS + 3 * 4096;

export interface KvmAccelerator extends Accelerator {
  readonly name: 'kvm';
  readonly kvm: Kvm;
  readonly vm: KvmVm;
  readonly vcpus: readonly KvmVcpu[];
  readonly vcpuThreads?: KvmVcpuThreads;
  /** Absent without KVM_CAP_IOEVENTFD: notify writes are then MMIO exits. */
  readonly doorbells?: KvmDoorbells;
  /** Absent without KVM_CAP_IRQFD / IRQ_ROUTING: MSIs then go out by KVM_SIGNAL_MSI. */
  readonly msiIrqfds?: KvmMsiIrqfds;
  /** Absent without KVM_CAP_IRQFD_RESAMPLE: PCI INTx then goes out by KVM_IRQ_LINE. */
  readonly intxIrqfds?: KvmIntxIrqfds;
}

/** The eventfd paths this host's KVM offers; a missing one keeps the exit/ioctl path. */
function eventfdPaths(
  kvm: Kvm, vm: KvmVm, log: Logger | undefined,
): { doorbells?: KvmDoorbells; msiIrqfds?: KvmMsiIrqfds; intxIrqfds?: KvmIntxIrqfds } {
  const doorbells = kvm.checkExtension('IOEVENTFD') ? KvmDoorbells.create(vm) : undefined;
  if (!doorbells) log?.debug('kvm: no KVM_CAP_IOEVENTFD (or addon fd watch): virtqueue notifies are MMIO exits');
  const irqfd = kvm.checkExtension('IRQFD') !== 0 && kvm.checkExtension('IRQ_ROUTING') !== 0;
  if (!irqfd) log?.debug('kvm: no KVM_CAP_IRQFD/IRQ_ROUTING: MSIs are sent with KVM_SIGNAL_MSI');
  const intxIrqfds = irqfd && kvm.checkExtension('IRQFD_RESAMPLE') ? KvmIntxIrqfds.create(vm) : undefined;
  if (!intxIrqfds) log?.debug('kvm: no KVM_CAP_IRQFD_RESAMPLE (or addon fd watch): PCI INTx is raised with KVM_IRQ_LINE');
  return { doorbells, msiIrqfds: irqfd ? new KvmMsiIrqfds(vm) : undefined, intxIrqfds };
}

export function createKvmAccelerator(config: AcceleratorConfig): KvmAccelerator {
  for (const r of config.ram) {
    if (r.guestAddress < KVM_RESERVED_END && KVM_IDENTITY_MAP_ADDRESS < r.guestAddress + r.size) {
      throw new RangeError(
        `RAM at 0x${r.guestAddress.toString(16)}+0x${r.size.toString(16)} overlaps KVM's TSS/identity map at 0x${KVM_IDENTITY_MAP_ADDRESS.toString(16)}`,
      );
    }
  }
  if (!Number.isInteger(config.cpus) || config.cpus < 1) throw new RangeError(`bad vCPU count ${config.cpus}`);

  const kvm = Kvm.open();
  let vm: KvmVm | undefined;
  const vcpus: KvmVcpu[] = [];
  try {
    for (const cap of ['IRQCHIP', 'USER_MEMORY', 'SET_TSS_ADDR', 'PIT2', 'IMMEDIATE_EXIT', 'SIGNAL_MSI'] as const) {
      if (kvm.checkExtension(cap) === 0) throw new AcceleratorUnavailable(`KVM lacks the required capability KVM_CAP_${cap}`);
    }
    const maxVcpus = kvm.checkExtension('MAX_VCPUS') || kvm.checkExtension('NR_VCPUS');
    if (config.cpus > maxVcpus) throw new AcceleratorUnavailable(`KVM supports at most ${maxVcpus} vCPUs, ${config.cpus} asked`);

    vm = new KvmVm(kvm);
    vm.setTssAddr(KVM_TSS_ADDRESS);
    vm.setIdentityMapAddr(KVM_IDENTITY_MAP_ADDRESS);
    // The irqchip must exist before any vCPU so each gets an in-kernel LAPIC.
    vm.createIrqchip();
    vm.createPit2();
    for (const r of config.ram) vm.addRam(r.guestAddress, r.size);
    const memory = new GuestMemory(
      vm.ramSlots.map((s) => ({ guestAddress: s.guestAddress, bytes: new Uint8Array(s.buffer) })),
    );

    const supported = kvm.supportedCpuid();
    const mmapSize = kvm.vcpuMmapSize;
    for (let i = 0; i < config.cpus; i++) {
      const vcpu = KvmVcpu.create(vm.fd, i, mmapSize, { bus: config.bus, control: config.control });
      vcpus.push(vcpu);
      vcpu.setCpuid(cpuidForVcpu(supported, i));
    }

    // vCPUs 1..N-1 get threads of their own (started parked); vCPU 0 is run by the machine thread.
    const vcpuThreads = vcpus.length > 1 ? new KvmVcpuThreads(vcpus) : undefined;
    const liveVm = vm;
    const { doorbells, msiIrqfds, intxIrqfds } = eventfdPaths(kvm, liveVm, config.log);
    const interrupts: InterruptRouter = {
      // Edge-triggered lines (ISA, virtio-mmio) and level ones without resample irqfds.
      setIrq: (gsi, level) => liveVm.irqLine(gsi, level),
      levelTriggeredLine: intxIrqfds ? (gsi) => intxIrqfds.line(gsi) : undefined,
      signalMsi: msiIrqfds
        ? (address, data) => msiIrqfds.signal(address, data)
        : (address, data) => { liveVm.signalMsi(address, data); },
    };
    let destroyed = false;
    return {
      name: 'kvm',
      kvm,
      vm: liveVm,
      vcpus,
      vcpuThreads,
      doorbells,
      msiIrqfds,
      intxIrqfds,
      memory,
      interrupts,
      destroy() {
        if (destroyed) return;
        destroyed = true;
        // The threads are joined before the fds they run on close.
        vcpuThreads?.stop();
        for (const v of vcpus) v.destroy();
        doorbells?.destroy();
        msiIrqfds?.destroy();
        intxIrqfds?.destroy();
        liveVm.destroy();
        kvm.close();
      },
    };
  } catch (e) {
    for (const v of vcpus) v.destroy();
    vm?.destroy();
    kvm.close();
    throw e;
  }
}

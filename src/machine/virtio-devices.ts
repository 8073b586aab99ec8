/**
 * Puts the configured virtio devices into one Machine: on `pc` a PCI host
 * bridge (mechanism #1 at 0xcf8) with a virtio-pci function per device
 * (MSI-X, INTx fallback); on `microvm` a virtio-mmio window per device, which
 * the DSDT describes (acpiMachineFor). Device order, and so PCI slot or MMIO
 * slot, is: disks, nets, rng, console.
 *
 * Interrupts that devices raise from event-loop callbacks (a disk read that
 * completed, a TAP frame) must reach a guest that may be idle: under the
 * software CPU `wake` schedules a round of the machine loop; under KVM a
 * LoopWaker kicks the vCPU out of KVM_RUN whenever the worker's event loop
 * has work, so those callbacks run at all (see ARCHITECTURE.md).
 */
import { Accelerator } from '../accel';
import { IoBus } from '../devices/bus';
import { InterruptLine, InterruptRouter, levelTriggeredLineFor, lineFor } from '../devices/irq';
import { PciHost } from '../devices/legacy/pci-host';
import { attachVirtioMmio, attachVirtioPci } from '../devices/virtio/attach';
import { VirtioBlk } from '../devices/virtio/blk/virtio-blk';
import { VirtioConsole } from '../devices/virtio/console/virtio-console';
import { VirtioDevice } from '../devices/virtio/device';
import { VirtioNet, parseMac } from '../devices/virtio/net/virtio-net';
import { VirtioRng } from '../devices/virtio/rng/virtio-rng';
import { VirtioPciTransport } from '../devices/virtio/pci/virtio-pci';
import { BAR_INDEX as VIRTIO_PCI_BAR } from '../devices/virtio/pci/virtio-pci-layout';
import { LoopWaker } from '../kvm/loop-waker';
import { Logger } from '../log';
import { AcpiMachine } from './acpi/machine-description';
import { PCI_MMIO_SIZE, PCI_MMIO_START, virtioMmioSlot } from './memory-layout';
import { VirtioBackends } from './virtio-backends';
import { VirtioConfig } from './virtio-config';

/** The number of virtio devices a config asks for (one transport each). */
export function virtioDeviceCount(c: VirtioConfig): number {
  return c.disks.length + c.nets.length + (c.rng ? 1 : 0) + (c.console === 'virtio' ? 1 : 0);
}

/** What the firmware tables describe for this machine type: a function of the config only. */
export function acpiMachineFor(c: VirtioConfig, cpus: number): AcpiMachine {
  if (c.machine === 'pc') return { cpus, pci: true };
  const count = virtioDeviceCount(c);
  return { cpus, virtioMmio: Array.from({ length: count }, (_, i) => virtioMmioSlot(i)) };
}

/** 52:54:00 is QEMU's locally administered prefix; libvirt and users expect it. */
function defaultMac(index: number): string {
  return `52:54:00:12:34:${(0x56 + index).toString(16).padStart(2, '0')}`;
}

export interface VirtioMachineOptions {
  config: VirtioConfig;
  backends: VirtioBackends;
  bus: IoBus;
  accel: Accelerator;
  /** The platform's router (attached to the accelerator's). */
  router: InterruptRouter;
  /** Guest console bytes (virtio-console output goes where COM1's does). */
  writeConsole(bytes: Uint8Array): void;
  /** Run the machine loop soon: an interrupt arrived from outside a vCPU run. */
  wake(): void;
  log: Logger;
}

export class VirtioMachine {
  /**
   * Sees every fd the worker's loop watches (disk completions, and TAP fds,
   * which TapBackend watches for readiness), so a TAP frame brings the vCPU
   * back at once and an idle link never does.
   */
  private waker: LoopWaker | undefined;

  private constructor(
    readonly blks: readonly VirtioBlk[],
    readonly console: VirtioConsole | undefined,
    readonly pciHost: PciHost | undefined,
  ) {}

  static attach(o: VirtioMachineOptions): VirtioMachine {
    const c = o.config;
    const memory = o.accel.memory;
    // Interrupts raised by completions on the event loop must also wake an idle machine.
    const router: InterruptRouter = {
      setIrq: (gsi, level) => { o.router.setIrq(gsi, level); if (level) o.wake(); },
      signalMsi: (address, data) => { o.router.signalMsi(address, data); o.wake(); },
    };
    const blks = o.backends.disks.map((d) => new VirtioBlk({ backend: d.backend, serial: d.config.serial }));
    const nets = o.backends.nets.map((n, i) => new VirtioNet({ backend: n.backend, mac: parseMac(n.config.mac ?? defaultMac(i)) }));
    const console = c.console === 'virtio' ? new VirtioConsole({ output: (b) => o.writeConsole(b) }) : undefined;
    const devices: { device: VirtioDevice; name: string }[] = [
      ...blks.map((device, i) => ({ device, name: `virtio-blk${i}` })),
      ...nets.map((device, i) => ({ device, name: `virtio-net${i}` })),
      ...(c.rng ? [{ device: new VirtioRng(), name: 'virtio-rng' }] : []),
      ...(console ? [{ device: console, name: 'virtio-console' }] : []),
    ];
    let pciHost: PciHost | undefined;
    if (c.machine === 'pc') {
      const bySlot = new Map<number, VirtioPciTransport>();
      const doorbells = o.accel.doorbells;
      const onBarMoved = doorbells
        ? (slot: number, bar: number, address: number | undefined): void => { if (bar === VIRTIO_PCI_BAR) bySlot.get(slot)?.bindDoorbells(doorbells, address); }
        : undefined;
      const intx = (gsi: number): InterruptLine => {
        const line = levelTriggeredLineFor(o.router, gsi);
        return { set: (level) => { line.set(level); if (level) o.wake(); } };
      };
      pciHost = new PciHost({ bus: o.bus, intx, log: o.log, onBarMoved });
      pciHost.registerPorts();
      for (const d of devices) {
        const { transport, slot } = attachVirtioPci({ host: pciHost, device: d.device, memory, router, log: o.log });
        bySlot.set(slot, transport);
      }
      // No firmware runs before the kernel, so we place the BARs, as SeaBIOS would.
      pciHost.assignResources({ mmio32: { base: PCI_MMIO_START, size: PCI_MMIO_SIZE } });
    } else {
      devices.forEach((d, i) => {
        const slot = virtioMmioSlot(i);
        attachVirtioMmio({
          bus: o.bus, base: slot.address, gsi: slot.irq, irq: lineFor(router, slot.irq), device: d.device, memory, log: o.log, name: d.name,
          doorbells: o.accel.doorbells,
        });
      });
    }
    const vm = new VirtioMachine(blks, console, pciHost);
    const fd = o.accel.vcpus[0]?.fd;
    if (o.accel.name === 'kvm' && devices.length > 0 && fd !== undefined) vm.waker = LoopWaker.create(fd);
    return vm;
  }

  /** Before a vCPU enters KVM_RUN: come back when the event loop has work or the next timer is due. */
  beforeRun(msUntilNextTimer: number | undefined): void {
    this.waker?.arm(msUntilNextTimer);
  }

  afterRun(): void {
    this.waker?.disarm();
  }

  /** Host console input for hvc0. */
  enqueueConsoleInput(bytes: Uint8Array): void {
    this.console?.enqueueInput(bytes);
  }

  /** Waits for every disk request in flight (before the RAM they write into goes away). */
  async drain(): Promise<void> {
    await Promise.all(this.blks.map((b) => b.drain()));
  }
}

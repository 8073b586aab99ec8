/**
 * How the machine puts a virtio device on a transport and the transport on a
 * bus: one call each, so machine code does not repeat register sizes, kernel
 * command-line syntax or slot wiring.
 */
import { IoBus } from '../bus';
import { InterruptLine, InterruptRouter } from '../irq';
import { PciHost } from '../legacy/pci-host';
import { GuestMemory } from '../../memory/guest-memory';
import { Logger } from '../../log';
import { VirtioDevice } from './device';
import { Doorbells } from './doorbells';
import { VIRTIO_MMIO_SIZE, VirtioMmioTransport } from './mmio/virtio-mmio';
import { VirtioPciTransport } from './pci/virtio-pci';
import { VirtioBlk } from './blk/virtio-blk';
import { FileBlockBackend } from './blk/block-backend';

export interface AttachedMmio {
  transport: VirtioMmioTransport;
  /** For the Linux command line when there is no DT/ACPI description: virtio_mmio.device=<size>@<base>:<irq>. */
  cmdline: string;
  /** Guest address the driver writes a queue index to (an ioeventfd with datamatch = queue index). */
  notifyAddress: number;
}

export function attachVirtioMmio(opts: {
  bus: IoBus;
  base: number;
  gsi: number;
  irq: InterruptLine;
  device: VirtioDevice;
  memory: GuestMemory;
  log?: Logger;
  name?: string;
  /** KVM ioeventfds for QueueNotify (one per queue, matched on the index written). */
  doorbells?: Doorbells;
}): AttachedMmio {
  const name = opts.name ?? `virtio-mmio@0x${opts.base.toString(16)}`;
  const transport = new VirtioMmioTransport({ device: opts.device, memory: opts.memory, irq: opts.irq, log: opts.log, name });
  opts.bus.registerMmio(opts.base, VIRTIO_MMIO_SIZE, transport, name);
  const notifyAddress = opts.base + VirtioMmioTransport.notifyOffset;
  // Bound once for the machine's life: the window never moves, and a ring of a queue that is
  // not ready (or of a device being reset) is ignored by the core just as the bus write is.
  // The accelerator drops them when it is destroyed.
  transport.core.queues.forEach((_, i) => opts.doorbells?.bind(notifyAddress, 4, i, () => transport.core.notify(i)));
  return {
    transport,
    cmdline: `virtio_mmio.device=${VIRTIO_MMIO_SIZE}@0x${opts.base.toString(16)}:${opts.gsi}`,
    notifyAddress,
  };
}

export function attachVirtioPci(opts: {
  host: PciHost;
  device: VirtioDevice;
  memory: GuestMemory;
  router: Pick<InterruptRouter, 'signalMsi'>;
  slot?: number;
  log?: Logger;
}): { transport: VirtioPciTransport; slot: number } {
  const transport = new VirtioPciTransport({ device: opts.device, memory: opts.memory, router: opts.router, log: opts.log });
  const slot = opts.host.addDevice(transport, opts.slot);
  return { transport, slot };
}

/** A virtio-blk on a raw image file, locked as QEMU locks images (image-lock.ts). */
export async function openVirtioBlk(path: string, opts: { readOnly?: boolean; serial?: string; queues?: number } = {}): Promise<VirtioBlk> {
  const backend = await FileBlockBackend.open(path, { readOnly: opts.readOnly });
  return new VirtioBlk({ backend, serial: opts.serial, queues: opts.queues });
}

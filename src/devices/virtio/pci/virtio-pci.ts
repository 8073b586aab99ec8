/**
 * virtio-pci, modern only (virtio 1.2, 4.1): a PCI function with vendor
 * capabilities pointing into BAR 4 (common config, notify doorbells, ISR,
 * device config), the PCI configuration access capability, and MSI-X with a
 * vector per queue plus one for configuration changes. When the driver leaves
 * MSI-X disabled, interrupts fall back to level-triggered INTx with the ISR
 * register read-to-clear.
 */
import { MmioDevice } from '../../bus';
import { InterruptRouter } from '../../irq';
import { PCI_CAP_ID_MSIX, PCI_CAP_ID_VENDOR, PciConfigSpace } from '../../legacy/pci-config-space';
import { PciDevice } from '../../legacy/pci-device';
import { GuestMemory } from '../../../memory/guest-memory';
import { Logger, defaultLogger } from '../../../log';
import { INTERRUPT_CONFIG_CHANGE, INTERRUPT_USED_RING, STATUS_DRIVER_OK } from '../constants';
import { VirtioDevice, leValue, putLeValue } from '../device';
import { Doorbells } from '../doorbells';
import { TransportCoreState, VirtioTransportCore } from '../transport-core';
import { MsixState, MsixTable } from './msix';
import {
  BAR_INDEX, BAR_SIZE, COMMON, COMMON_OFFSET, COMMON_SIZE, DEVICE_OFFSET, DEVICE_SIZE, ISR_OFFSET, MSIX_PBA_OFFSET,
  MSIX_TABLE_OFFSET, NOTIFY_OFFSET, NOTIFY_OFF_MULTIPLIER, REGION_SIZE, VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_LEN, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_CAP_PCI_CFG,
  VIRTIO_PCI_DEVICE_BASE, VIRTIO_PCI_SUBSYSTEM, VIRTIO_PCI_VENDOR, pciClassFor,
} from './virtio-pci-layout';

export interface VirtioPciOptions {
  device: VirtioDevice;
  memory: GuestMemory;
  /** Where MSI-X messages go. */
  router: Pick<InterruptRouter, 'signalMsi'>;
  log?: Logger;
  name?: string;
}

export interface VirtioPciState {
  core: TransportCoreState;
  config: { bytes: number[]; intxLevel: boolean };
  msix: MsixState;
  isr: number;
  configVector: number;
  queueVectors: number[];
}

export class VirtioPciTransport implements PciDevice {
  readonly config: PciConfigSpace;
  readonly core: VirtioTransportCore;
  readonly msix: MsixTable;
  private isr = 0;
  private configVector = VIRTIO_MSI_NO_VECTOR;
  private readonly queueVectors: number[];
  private readonly msixCap: number;
  private readonly pciCfgCap: number;
  private readonly bar: MmioDevice;
  private readonly unbindDoorbells: (() => void)[] = [];

  constructor(opts: VirtioPciOptions) {
    const device = opts.device;
    const log = opts.log ?? defaultLogger;
    this.config = new PciConfigSpace({
      vendorId: VIRTIO_PCI_VENDOR,
      deviceId: VIRTIO_PCI_DEVICE_BASE + device.deviceType,
      revision: 1,
      classCode: pciClassFor(device.deviceType),
      subsystemVendorId: VIRTIO_PCI_VENDOR,
      subsystemId: VIRTIO_PCI_SUBSYSTEM,
      interruptPin: 1,
    });
    this.config.defineBar(BAR_INDEX, { kind: 'mem64', size: BAR_SIZE, prefetchable: true });
    this.core = new VirtioTransportCore(
      device,
      opts.memory,
      { queue: (i) => this.interruptQueue(i), config: () => this.interruptConfig() },
      log,
      opts.name ?? `virtio-pci(${device.deviceType})`,
    );
    const numQueues = device.queueMaxSizes.length;
    this.queueVectors = new Array<number>(numQueues).fill(VIRTIO_MSI_NO_VECTOR);
    this.msix = new MsixTable(numQueues + 1, opts.router);

    this.addVirtioCap(VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFFSET, COMMON_SIZE);
    const notify = this.addVirtioCap(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFFSET, Math.max(NOTIFY_OFF_MULTIPLIER * numQueues, 4), 4);
    this.config.set32(notify + 16, NOTIFY_OFF_MULTIPLIER);
    this.addVirtioCap(VIRTIO_PCI_CAP_ISR_CFG, ISR_OFFSET, 1);
    this.addVirtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFFSET, DEVICE_SIZE);
    this.pciCfgCap = this.addVirtioCap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 4);
    this.config.writable(this.pciCfgCap + 4, [0xff]); // bar
    this.config.writable(this.pciCfgCap + 8, new Array<number>(12).fill(0xff)); // offset, length, data

    this.msixCap = this.config.addCapability(PCI_CAP_ID_MSIX, 12);
    this.config.set16(this.msixCap + 2, this.msix.size - 1);
    this.config.set32(this.msixCap + 4, MSIX_TABLE_OFFSET | BAR_INDEX);
    this.config.set32(this.msixCap + 8, MSIX_PBA_OFFSET | BAR_INDEX);
    this.config.writable(this.msixCap + 3, [0xc0]); // enable, function mask

    this.bar = { mmioRead: (o, d) => this.barRead(o, d), mmioWrite: (o, d) => this.barWrite(o, d) };
  }

  /** Guest address of queue `index`'s doorbell once BAR 4 is placed at `barBase` (for ioeventfd). */
  static notifyAddress(barBase: number, index: number): number {
    return barBase + NOTIFY_OFFSET + index * NOTIFY_OFF_MULTIPLIER;
  }

  /**
   * BAR 4 is now at `barBase` (undefined: unmapped): point one doorbell per
   * queue at its notify address, dropping those at the old place. Bound for
   * every queue, enabled or not: a ring of a queue that is not ready is
   * ignored by the core, exactly as the same write through the bus is.
   * Linux writes the queue index as 16 bits (vp_notify), so the binding is
   * 2 bytes wide; any other width still arrives here as a bus write.
   */
  bindDoorbells(doorbells: Doorbells, barBase: number | undefined): void {
    for (const unbind of this.unbindDoorbells.splice(0)) unbind();
    if (barBase === undefined) return;
    this.core.queues.forEach((_, i) => {
      this.unbindDoorbells.push(doorbells.bind(VirtioPciTransport.notifyAddress(barBase, i), 2, undefined, () => this.core.notify(i)));
    });
  }

  configRead(offset: number, size: number): number {
    const data = this.pciCfgDataRange(offset, size);
    if (data) {
      const bytes = new Uint8Array(data.length);
      this.barRead(data.barOffset, bytes);
      return leValue(bytes);
    }
    return this.config.read(offset, size);
  }

  configWrite(offset: number, size: number, value: number): void {
    const data = this.pciCfgDataRange(offset, size);
    if (data) {
      const bytes = new Uint8Array(data.length);
      putLeValue(bytes, value);
      this.barWrite(data.barOffset, bytes);
      return;
    }
    this.config.write(offset, size, value);
    if (offset < this.msixCap + 4 && offset + size > this.msixCap + 2) {
      const wasEnabled = this.msix.enabled;
      this.msix.setControl(this.config.get16(this.msixCap + 2));
      if (this.msix.enabled !== wasEnabled) this.config.setIntx(!this.msix.enabled && this.isr !== 0);
    }
  }

  barMmio(index: number): MmioDevice | undefined {
    return index === BAR_INDEX ? this.bar : undefined;
  }

  save(): VirtioPciState {
    return {
      core: this.core.save(),
      config: this.config.save(),
      msix: this.msix.save(),
      isr: this.isr,
      configVector: this.configVector,
      queueVectors: [...this.queueVectors],
    };
  }

  /** Restores the function; the host must then re-map BARs (PciHost.syncAllBars). */
  restore(s: VirtioPciState): void {
    this.config.restore(s.config);
    this.msix.restore(s.msix);
    this.core.restore(s.core);
    this.isr = s.isr;
    this.configVector = s.configVector;
    s.queueVectors.forEach((v, i) => { if (i < this.queueVectors.length) this.queueVectors[i] = v; });
  }

  private addVirtioCap(type: number, offset: number, length: number, extra = 0): number {
    const at = this.config.addCapability(PCI_CAP_ID_VENDOR, VIRTIO_PCI_CAP_LEN + extra);
    this.config.set8(at + 2, VIRTIO_PCI_CAP_LEN + extra);
    this.config.set8(at + 3, type);
    this.config.set8(at + 4, BAR_INDEX);
    this.config.set32(at + 8, offset);
    this.config.set32(at + 12, length);
    return at;
  }

  /** An access to pci_cfg_data becomes a BAR access at the window the driver chose (4.1.4.9). */
  private pciCfgDataRange(offset: number, size: number): { barOffset: number; length: number } | undefined {
    const dataAt = this.pciCfgCap + 16;
    if (offset !== dataAt || size > 4) return undefined;
    const bar = this.config.bytes[this.pciCfgCap + 4];
    const length = this.config.get32(this.pciCfgCap + 12);
    const barOffset = this.config.get32(this.pciCfgCap + 8);
    if (bar !== BAR_INDEX || (length !== 1 && length !== 2 && length !== 4) || barOffset % length !== 0 || length > size) return undefined;
    return { barOffset, length };
  }

  private barRead(offset: number, data: Uint8Array): void {
    if (offset < COMMON_OFFSET + REGION_SIZE) this.commonRead(offset, data);
    else if (offset < ISR_OFFSET + REGION_SIZE) {
      data.fill(0);
      if (offset === ISR_OFFSET) data[0] = this.readAndClearIsr();
    } else if (offset < DEVICE_OFFSET + REGION_SIZE) this.core.device.readConfig(offset - DEVICE_OFFSET, data);
    else if (offset < MSIX_TABLE_OFFSET) data.fill(0);
    else if (offset < MSIX_TABLE_OFFSET + REGION_SIZE) this.msix.readTable(offset - MSIX_TABLE_OFFSET, data);
    else if (offset < MSIX_PBA_OFFSET + REGION_SIZE) this.msix.readPba(offset - MSIX_PBA_OFFSET, data);
    else data.fill(0);
  }

  private barWrite(offset: number, data: Uint8Array): void {
    if (offset < COMMON_OFFSET + REGION_SIZE) this.commonWrite(offset, data);
    else if (offset < ISR_OFFSET + REGION_SIZE) return;
    else if (offset < DEVICE_OFFSET + REGION_SIZE) this.core.device.writeConfig(offset - DEVICE_OFFSET, data);
    else if (offset < NOTIFY_OFFSET + REGION_SIZE) {
      const rel = offset - NOTIFY_OFFSET;
      if (rel % NOTIFY_OFF_MULTIPLIER === 0) this.core.notify(rel / NOTIFY_OFF_MULTIPLIER);
    } else if (offset < MSIX_TABLE_OFFSET + REGION_SIZE) this.msix.writeTable(offset - MSIX_TABLE_OFFSET, data);
  }

  /** Reads assemble from a snapshot of the whole structure, so any width at any offset works. */
  private commonRead(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset + data.length > COMMON_SIZE) return;
    const core = this.core;
    const q = core.selectedQueue();
    const v = new DataView(new ArrayBuffer(COMMON_SIZE));
    v.setUint32(COMMON.deviceFeatureSelect, core.deviceFeaturesSel, true);
    v.setUint32(COMMON.deviceFeature, core.deviceFeatureWord(), true);
    v.setUint32(COMMON.driverFeatureSelect, core.driverFeaturesSel, true);
    v.setUint32(COMMON.driverFeature, core.driverFeatureWord(), true);
    v.setUint16(COMMON.configMsixVector, this.configVector, true);
    v.setUint16(COMMON.numQueues, core.queues.length, true);
    v.setUint8(COMMON.deviceStatus, core.status);
    v.setUint8(COMMON.configGeneration, core.configGeneration);
    v.setUint16(COMMON.queueSelect, core.queueSel, true);
    if (q) {
      v.setUint16(COMMON.queueSize, q.size, true);
      v.setUint16(COMMON.queueMsixVector, this.queueVectors[core.queueSel], true);
      v.setUint16(COMMON.queueEnable, q.ready ? 1 : 0, true);
      v.setUint16(COMMON.queueNotifyOff, core.queueSel, true);
      v.setBigUint64(COMMON.queueDesc, BigInt(q.descAddr), true);
      v.setBigUint64(COMMON.queueDriver, BigInt(q.driverAddr), true);
      v.setBigUint64(COMMON.queueDevice, BigInt(q.deviceAddr), true);
    }
    data.set(new Uint8Array(v.buffer, offset, data.length));
  }

  private commonWrite(offset: number, data: Uint8Array): void {
    const core = this.core;
    const value = leValue(data);
    switch (offset) {
      case COMMON.deviceFeatureSelect: core.deviceFeaturesSel = value; return;
      case COMMON.driverFeatureSelect: core.driverFeaturesSel = value; return;
      case COMMON.driverFeature: core.writeDriverFeatureWord(value); return;
      case COMMON.configMsixVector: this.configVector = this.acceptVector(value); return;
      case COMMON.deviceStatus: this.writeStatus(value); return;
      case COMMON.queueSelect: core.queueSel = value; return;
      case COMMON.queueSize: { const q = core.selectedQueueWritable(); if (q) q.size = value; return; }
      case COMMON.queueMsixVector:
        if (core.queueSel < this.queueVectors.length) this.queueVectors[core.queueSel] = this.acceptVector(value);
        return;
      case COMMON.queueEnable: if (value === 1) core.enableSelectedQueue(); return;
      default: break;
    }
    for (const [field, key] of [[COMMON.queueDesc, 'descAddr'], [COMMON.queueDriver, 'driverAddr'], [COMMON.queueDevice, 'deviceAddr']] as const) {
      if (offset < field || offset >= field + 8) continue;
      const q = core.selectedQueueWritable();
      if (!q) return;
      if (data.length === 8 && offset === field) q[key] = value; // 8-byte write; above 2^53 it is no RAM anyway
      else if (data.length === 4 && offset === field) q[key] = Math.floor(q[key] / 0x100000000) * 0x100000000 + value;
      else if (data.length === 4 && offset === field + 4) q[key] = value * 0x100000000 + (q[key] % 0x100000000);
      return;
    }
  }

  /** A vector beyond the table reads back as NO_VECTOR, which is how the driver learns it failed. */
  private acceptVector(value: number): number {
    return value < this.msix.size ? value : VIRTIO_MSI_NO_VECTOR;
  }

  private writeStatus(value: number): void {
    this.core.writeStatus(value);
    if ((value & 0xff) === 0) {
      this.isr = 0;
      this.config.setIntx(false);
      this.configVector = VIRTIO_MSI_NO_VECTOR;
      this.queueVectors.fill(VIRTIO_MSI_NO_VECTOR);
    }
  }

  private readAndClearIsr(): number {
    const v = this.isr;
    this.isr = 0;
    this.config.setIntx(false);
    return v;
  }

  private interruptQueue(index: number): void {
    if (this.msix.enabled) {
      const vector = this.queueVectors[index];
      if (vector !== VIRTIO_MSI_NO_VECTOR) this.msix.signal(vector);
      return;
    }
    this.raiseIntx(INTERRUPT_USED_RING);
  }

  private interruptConfig(): void {
    if (this.msix.enabled) {
      if (this.configVector !== VIRTIO_MSI_NO_VECTOR) this.msix.signal(this.configVector);
      return;
    }
    if (this.core.status & STATUS_DRIVER_OK) this.raiseIntx(INTERRUPT_CONFIG_CHANGE);
  }

  private raiseIntx(bit: number): void {
    this.isr |= bit;
    this.config.setIntx(true);
  }
}

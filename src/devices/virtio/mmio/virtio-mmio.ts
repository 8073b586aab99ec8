/**
 * virtio-mmio, version 2 (virtio 1.2, 4.2.2): one device behind a 0x200-byte
 * register window, a level-triggered interrupt line, modern drivers only.
 *
 * Registers are 32 bits wide; other access sizes to them are ignored (reads
 * return zero) and logged once. The configuration space at 0x100 takes any size.
 */
import { MmioDevice } from '../../bus';
import { InterruptLine } from '../../irq';
import { GuestMemory } from '../../../memory/guest-memory';
import { Logger, defaultLogger } from '../../../log';
import { INTERRUPT_CONFIG_CHANGE, INTERRUPT_USED_RING } from '../constants';
import { VirtioDevice, leValue, putLeValue } from '../device';
import { TransportCoreState, VirtioTransportCore } from '../transport-core';

export const VIRTIO_MMIO_SIZE = 0x200;
export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
/** Our vendor ID: "TSVM" little-endian. Drivers do not look at it. */
export const VIRTIO_MMIO_VENDOR = 0x4d565354;

export const REG = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

export interface VirtioMmioOptions {
  device: VirtioDevice;
  memory: GuestMemory;
  irq: InterruptLine;
  log?: Logger;
  name?: string;
}

export interface VirtioMmioState {
  core: TransportCoreState;
  interruptStatus: number;
}

const LOW32 = 0xffffffff;

function setLow(old: number, low: number): number {
  return Math.floor(old / 0x100000000) * 0x100000000 + (low >>> 0);
}

function setHigh(old: number, high: number): number {
  // Addresses above 2^53 cannot be RAM; keep them unrepresentable-but-invalid rather than wrong.
  return (high >>> 0) * 0x100000000 + (old % 0x100000000);
}

export class VirtioMmioTransport implements MmioDevice {
  readonly core: VirtioTransportCore;
  private interruptStatus = 0;
  private readonly irq: InterruptLine;
  private readonly log: Logger;
  private warnedWidth = false;

  constructor(opts: VirtioMmioOptions) {
    this.irq = opts.irq;
    this.log = opts.log ?? defaultLogger;
    this.core = new VirtioTransportCore(
      opts.device,
      opts.memory,
      { queue: () => this.raise(INTERRUPT_USED_RING), config: () => this.raise(INTERRUPT_CONFIG_CHANGE) },
      this.log,
      opts.name ?? `virtio-mmio(${opts.device.deviceType})`,
    );
  }

  /** The guest-physical notify address for a queue is base + REG.QueueNotify, value = queue index (for ioeventfd). */
  static readonly notifyOffset = REG.QueueNotify;

  mmioRead(offset: number, data: Uint8Array): void {
    if (offset >= REG.Config) {
      this.core.device.readConfig(offset - REG.Config, data);
      return;
    }
    if (data.length !== 4 || offset % 4 !== 0) {
      this.noteWidth(offset, data.length);
      data.fill(0);
      return;
    }
    putLeValue(data, this.readRegister(offset));
  }

  mmioWrite(offset: number, data: Uint8Array): void {
    if (offset >= REG.Config) {
      this.core.device.writeConfig(offset - REG.Config, data);
      return;
    }
    if (data.length !== 4 || offset % 4 !== 0) {
      this.noteWidth(offset, data.length);
      return;
    }
    this.writeRegister(offset, leValue(data));
  }

  save(): VirtioMmioState {
    return { core: this.core.save(), interruptStatus: this.interruptStatus };
  }

  restore(state: VirtioMmioState): void {
    this.core.restore(state.core);
    this.interruptStatus = state.interruptStatus & 3;
    this.irq.set(this.interruptStatus !== 0);
  }

  private readRegister(offset: number): number {
    const core = this.core;
    const q = core.selectedQueue();
    switch (offset) {
      case REG.MagicValue: return VIRTIO_MMIO_MAGIC;
      case REG.Version: return 2;
      case REG.DeviceID: return core.device.deviceType;
      case REG.VendorID: return VIRTIO_MMIO_VENDOR;
      case REG.DeviceFeatures: return core.deviceFeatureWord();
      case REG.QueueNumMax: return q ? q.maxSize : 0;
      case REG.QueueReady: return q?.ready ? 1 : 0;
      case REG.InterruptStatus: return this.interruptStatus;
      case REG.Status: return core.status;
      case REG.ConfigGeneration: return core.configGeneration;
      case REG.SHMLenLow:
      case REG.SHMLenHigh: return LOW32; // no shared memory regions: length -1
      default: return 0;
    }
  }

  private writeRegister(offset: number, value: number): void {
    const core = this.core;
    switch (offset) {
      case REG.DeviceFeaturesSel: core.deviceFeaturesSel = value; return;
      case REG.DriverFeatures: core.writeDriverFeatureWord(value); return;
      case REG.DriverFeaturesSel: core.driverFeaturesSel = value; return;
      case REG.QueueSel: core.queueSel = value; return;
      case REG.QueueNum: { const q = core.selectedQueueWritable(); if (q) q.size = value; return; }
      case REG.QueueReady:
        // Linux writes 0 when tearing a queue down and checks that it reads back 0.
        if (value & 1) core.enableSelectedQueue();
        else core.selectedQueue()?.reset();
        return;
      case REG.QueueNotify: core.notify(value & 0xffff); return;
      case REG.InterruptACK:
        this.interruptStatus &= ~value;
        this.irq.set(this.interruptStatus !== 0);
        return;
      case REG.Status:
        core.writeStatus(value);
        if (value === 0) {
          this.interruptStatus = 0;
          this.irq.set(false);
        }
        return;
      case REG.QueueDescLow: this.setAddr('descAddr', value, false); return;
      case REG.QueueDescHigh: this.setAddr('descAddr', value, true); return;
      case REG.QueueDriverLow: this.setAddr('driverAddr', value, false); return;
      case REG.QueueDriverHigh: this.setAddr('driverAddr', value, true); return;
      case REG.QueueDeviceLow: this.setAddr('deviceAddr', value, false); return;
      case REG.QueueDeviceHigh: this.setAddr('deviceAddr', value, true); return;
      default: return;
    }
  }

  private setAddr(which: 'descAddr' | 'driverAddr' | 'deviceAddr', value: number, high: boolean): void {
    const q = this.core.selectedQueueWritable();
    if (!q) return;
    q[which] = high ? setHigh(q[which], value) : setLow(q[which], value);
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.irq.set(true);
  }

  private noteWidth(offset: number, size: number): void {
    if (this.warnedWidth) return;
    this.warnedWidth = true;
    this.log.warn(`${this.core.name}: ${size}-byte access to register 0x${offset.toString(16)} ignored (registers are 32-bit)`);
  }
}

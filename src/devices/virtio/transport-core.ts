/**
 * The parts of a virtio transport that MMIO and PCI share: feature
 * negotiation, the device status machine, per-queue configuration, and the
 * DEVICE_NEEDS_RESET path that guest errors end in. The transports only map
 * their registers onto this and deliver interrupts their own way.
 */
import { GuestMemory } from '../../memory/guest-memory';
import { Logger } from '../../log';
import {
  STATUS_DEVICE_NEEDS_RESET, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FAILED, STATUS_FEATURES_OK,
  TRANSPORT_FEATURES, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1, featureWord,
} from './constants';
import { JsonValue, VirtioContext, VirtioDevice } from './device';
import { SplitQueue, SplitQueueState } from './queue/split-queue';

/** How a transport raises its interrupts. */
export interface VirtioInterrupts {
  queue(index: number): void;
  config(): void;
}

export interface TransportCoreState {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: string;
  queueSel: number;
  configGeneration: number;
  queues: SplitQueueState[];
  device: JsonValue;
}

export class VirtioTransportCore {
  status = 0;
  deviceFeaturesSel = 0;
  driverFeaturesSel = 0;
  driverFeatures = 0n;
  queueSel = 0;
  configGeneration = 0;
  readonly queues: SplitQueue[];
  readonly offeredFeatures: bigint;
  private activated = false;
  private errorLogged = false;

  constructor(
    readonly device: VirtioDevice,
    readonly memory: GuestMemory,
    private readonly interrupts: VirtioInterrupts,
    readonly log: Logger,
    readonly name: string,
  ) {
    this.offeredFeatures = device.features | TRANSPORT_FEATURES;
    this.queues = device.queueMaxSizes.map((max, i) => new SplitQueue(max, memory, (reason) => this.deviceError(`queue ${i}: ${reason}`)));
  }

  get isActivated(): boolean {
    return this.activated;
  }

  deviceFeatureWord(): number {
    return featureWord(this.offeredFeatures, this.deviceFeaturesSel);
  }

  driverFeatureWord(): number {
    return featureWord(this.driverFeatures, this.driverFeaturesSel);
  }

  /** Feature writes count only between DRIVER and FEATURES_OK (3.1.1). */
  writeDriverFeatureWord(value: number): void {
    if (this.driverFeaturesSel > 1 || (this.status & STATUS_FEATURES_OK) || !(this.status & STATUS_DRIVER)) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value >>> 0) << shift);
  }

  selectedQueue(): SplitQueue | undefined {
    return this.queues[this.queueSel];
  }

  /** Queue configuration may change only while the queue is disabled and the device not yet live. */
  selectedQueueWritable(): SplitQueue | undefined {
    const q = this.selectedQueue();
    if (!q || q.ready || (this.status & STATUS_DRIVER_OK)) return undefined;
    return q;
  }

  /** The driver enabled the selected queue: check its rings now so a bad ring fails early. */
  enableSelectedQueue(): void {
    const q = this.selectedQueueWritable();
    if (!q) return;
    const err = q.enable((this.driverFeatures & VIRTIO_F_EVENT_IDX) !== 0n);
    if (err) this.deviceError(`queue ${this.queueSel}: ${err}`);
  }

  writeStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) {
      this.reset();
      return;
    }
    let next = v | (this.status & STATUS_DEVICE_NEEDS_RESET);
    if ((next & STATUS_FEATURES_OK) && !(this.status & STATUS_FEATURES_OK) && !this.featuresAcceptable()) {
      next &= ~STATUS_FEATURES_OK;
    }
    this.status = next;
    if ((next & STATUS_DRIVER_OK) && (next & STATUS_FEATURES_OK) && !(next & STATUS_FAILED) && !this.activated) {
      this.activate();
    }
  }

  notify(queueIndex: number): void {
    if (!this.activated || !this.queues[queueIndex]?.ready) return;
    this.guard('notify', () => this.device.notify(queueIndex));
  }

  reset(): void {
    if (this.activated) this.guard('reset', () => this.device.reset());
    this.activated = false;
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.errorLogged = false;
    for (const q of this.queues) q.reset();
  }

  /** The guest broke the rules: mark the device for reset and tell the driver (2.1.2). */
  deviceError(reason: string): void {
    if (!this.errorLogged) {
      this.errorLogged = true;
      this.log.warn(`${this.name}: ${reason}; device needs reset (further errors not logged)`);
    }
    if (this.status & STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    if (this.status & STATUS_DRIVER_OK) this.interrupts.config();
  }

  signalConfigChange(): void {
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    if (this.status & STATUS_DRIVER_OK) this.interrupts.config();
  }

  save(): TransportCoreState {
    return {
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(16),
      queueSel: this.queueSel,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.save()),
      device: this.device.save(),
    };
  }

  restore(s: TransportCoreState): void {
    this.reset();
    this.status = s.status;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = BigInt(`0x${s.driverFeatures || '0'}`);
    this.queueSel = s.queueSel;
    this.configGeneration = s.configGeneration;
    s.queues.forEach((qs, i) => {
      const err = this.queues[i]?.restore(qs);
      if (err) this.deviceError(`queue ${i} after restore: ${err}`);
    });
    this.device.restore(s.device);
    if ((this.status & STATUS_DRIVER_OK) && (this.status & STATUS_FEATURES_OK)) this.activate();
  }

  private featuresAcceptable(): boolean {
    const unknown = this.driverFeatures & ~this.offeredFeatures;
    if (unknown !== 0n) {
      this.log.warn(`${this.name}: driver accepted features it was not offered (0x${unknown.toString(16)})`);
      return false;
    }
    if ((this.driverFeatures & VIRTIO_F_VERSION_1) === 0n) {
      this.log.warn(`${this.name}: driver did not accept VIRTIO_F_VERSION_1; legacy drivers are not supported`);
      return false;
    }
    return true;
  }

  private activate(): void {
    this.activated = true;
    const context: VirtioContext = {
      memory: this.memory,
      queues: this.queues,
      features: this.driverFeatures,
      log: this.log,
      signalUsed: (index) => {
        const q = this.queues[index];
        if (q && q.needsNotification()) this.interrupts.queue(index);
      },
      signalConfigChange: () => this.signalConfigChange(),
      deviceError: (reason) => this.deviceError(reason),
    };
    this.guard('activate', () => this.device.activate(context));
  }

  /** A device bug must not take the VMM down: contain it as a device error. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.deviceError(`internal error in ${what}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
  }
}

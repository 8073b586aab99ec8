/**
 * What a virtio device is, independent of its transport (MMIO or PCI).
 *
 * A device says what requests on its queues mean and what its configuration
 * space holds; the transport owns feature negotiation, the status machine,
 * queue setup and interrupts. Devices see only the VirtioContext handed to
 * activate(): the negotiated features, the ready queues and a way to tell the
 * driver about used buffers.
 */
import { GuestMemory } from '../../memory/guest-memory';
import { Logger } from '../../log';
import { SplitQueue } from './queue/split-queue';

/** Plain JSON, what save() produces and restore() takes. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface VirtioContext {
  readonly memory: GuestMemory;
  /** One per queue the device declared; a queue the driver did not enable is not ready(). */
  readonly queues: readonly SplitQueue[];
  /** Features both sides agreed on. */
  readonly features: bigint;
  readonly log: Logger;
  /** Used buffers were pushed on this queue: interrupt the driver if it asked for that. */
  signalUsed(queueIndex: number): void;
  /** The configuration space changed. */
  signalConfigChange(): void;
  /** Something went wrong that the driver must reset to recover from: sets DEVICE_NEEDS_RESET. */
  deviceError(reason: string): void;
}

export interface VirtioDevice {
  /** Device ID (virtio 1.2, 5): 1 net, 2 block, 3 console, 4 entropy. */
  readonly deviceType: number;
  /** Maximum size of each queue; the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Device-specific feature bits offered; the transport adds VERSION_1 and the ring features. */
  readonly features: bigint;
  /** Fills `data` from configuration space at `offset`; bytes past the end read as zero. */
  readConfig(offset: number, data: Uint8Array): void;
  writeConfig(offset: number, data: Uint8Array): void;
  /** The driver set DRIVER_OK: start serving the queues. */
  activate(context: VirtioContext): void;
  /** The driver notified a queue. */
  notify(queueIndex: number): void;
  /** The driver reset the device: forget the context, drop in-flight work. */
  reset(): void;
  save(): JsonValue;
  restore(state: JsonValue): void;
}

/** Copies configuration bytes out, zero-filling past the end (drivers may read a wider field than we have). */
export function readConfigBytes(config: Uint8Array, offset: number, data: Uint8Array): void {
  data.fill(0);
  if (offset < 0 || offset >= config.length) return;
  data.set(config.subarray(offset, Math.min(config.length, offset + data.length)));
}

/** Reads a little-endian unsigned number of 1, 2, 4 or 8 (low 53 bits) bytes. */
export function leValue(data: Uint8Array): number {
  let v = 0;
  for (let i = Math.min(data.length, 7) - 1; i >= 0; i--) v = v * 256 + data[i];
  return v;
}

/** Fills `data` with `value` little-endian; values up to 2^53. */
export function putLeValue(data: Uint8Array, value: number): void {
  let v = value;
  for (let i = 0; i < data.length; i++) {
    data[i] = v % 256;
    v = Math.floor(v / 256);
  }
}

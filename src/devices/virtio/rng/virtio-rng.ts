/**
 * virtio-rng (entropy device, virtio 1.2, 5.4): every writable buffer the
 * driver offers comes back full of host randomness (getrandom via
 * crypto.randomFillSync). No configuration, no features, one queue.
 */
import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG } from '../constants';
import { JsonValue, VirtioContext, VirtioDevice, readConfigBytes } from '../device';

export const RNG_QUEUE_SIZE = 256;
/** Upper bound per request, so a guest offering a huge buffer cannot make us block for long. */
const MAX_BYTES_PER_REQUEST = 64 * 1024;

export class VirtioRng implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_RNG;
  readonly queueMaxSizes = [RNG_QUEUE_SIZE];
  readonly features = 0n;
  private context: VirtioContext | undefined;

  constructor(private readonly fill: (buf: Uint8Array) => void = (b) => { randomFillSync(b); }) {}

  readConfig(offset: number, data: Uint8Array): void {
    readConfigBytes(new Uint8Array(0), offset, data);
  }

  writeConfig(): void {}

  activate(context: VirtioContext): void {
    this.context = context;
  }

  notify(queueIndex: number): void {
    const ctx = this.context;
    if (!ctx || queueIndex !== 0) return;
    const queue = ctx.queues[0];
    let pushed = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      let written = 0;
      for (const seg of chain.writableSlices(0, MAX_BYTES_PER_REQUEST)) {
        this.fill(seg);
        written += seg.length;
      }
      queue.pushUsed(chain.head, written);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(0);
  }

  reset(): void {
    this.context = undefined;
  }

  save(): JsonValue {
    return {};
  }

  restore(): void {}
}

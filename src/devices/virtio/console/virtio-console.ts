/**
 * virtio-console (virtio 1.2, 5.3), port 0 only: hvc0 in the guest. What the
 * guest transmits goes to an injected writer; what the host enqueues waits in
 * a bounded buffer until the guest offers receive buffers. Like the 8250
 * model: enqueueInput() in, output() out.
 */
import { VIRTIO_ID_CONSOLE, featureBit } from '../constants';
import { JsonValue, VirtioContext, VirtioDevice, readConfigBytes } from '../device';

export const VIRTIO_CONSOLE_F_SIZE = featureBit(0);
export const VIRTIO_CONSOLE_F_EMERG_WRITE = featureBit(2);
const RX_QUEUE = 0;
const TX_QUEUE = 1;
const QUEUE_SIZE = 128;
/** Host input held while the guest has no receive buffers; beyond this, input is dropped. */
export const CONSOLE_INPUT_LIMIT = 64 * 1024;
const CFG_COLS = 0;
const CFG_ROWS = 2;
const CFG_EMERG_WR = 8;
const CFG_SIZE = 12;

export interface VirtioConsoleOptions {
  output: (bytes: Uint8Array) => void;
  cols?: number;
  rows?: number;
}

export interface VirtioConsoleState {
  pendingInput: number[];
  cols: number;
  rows: number;
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_CONSOLE;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly features = VIRTIO_CONSOLE_F_SIZE | VIRTIO_CONSOLE_F_EMERG_WRITE;
  private readonly config = new Uint8Array(CFG_SIZE);
  private context: VirtioContext | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(private readonly opts: VirtioConsoleOptions) {
    this.setSize(opts.cols ?? 80, opts.rows ?? 25);
  }

  /** Queues host input for the guest; returns how many bytes were accepted. */
  enqueueInput(bytes: Uint8Array): number {
    const take = Math.min(bytes.length, CONSOLE_INPUT_LIMIT - this.pendingBytes);
    if (take <= 0) return 0;
    this.pending.push(Uint8Array.from(bytes.subarray(0, take)));
    this.pendingBytes += take;
    try {
      this.deliverInput();
    } catch (e) {
      this.context?.deviceError(`input delivery failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    return take;
  }

  /** The terminal changed size: update config and tell the driver. */
  resize(cols: number, rows: number): void {
    this.setSize(cols, rows);
    this.context?.signalConfigChange();
  }

  readConfig(offset: number, data: Uint8Array): void {
    readConfigBytes(this.config, offset, data);
  }

  writeConfig(offset: number, data: Uint8Array): void {
    // emerg_wr: the guest can print before the queues exist (early boot, panics).
    if (offset === CFG_EMERG_WR && data.length >= 1) this.opts.output(Uint8Array.of(data[0]));
  }

  activate(context: VirtioContext): void {
    this.context = context;
    this.deliverInput();
  }

  notify(queueIndex: number): void {
    if (queueIndex === TX_QUEUE) this.transmit();
    else if (queueIndex === RX_QUEUE) this.deliverInput();
  }

  reset(): void {
    this.context = undefined;
  }

  save(): JsonValue {
    const s: VirtioConsoleState = {
      pendingInput: this.pending.flatMap((b) => [...b]),
      cols: this.config[CFG_COLS] | (this.config[CFG_COLS + 1] << 8),
      rows: this.config[CFG_ROWS] | (this.config[CFG_ROWS + 1] << 8),
    };
    return { ...s };
  }

  restore(state: JsonValue): void {
    const s = asConsoleState(state);
    this.setSize(s.cols, s.rows);
    this.pending = s.pendingInput.length ? [Uint8Array.from(s.pendingInput.slice(0, CONSOLE_INPUT_LIMIT))] : [];
    this.pendingBytes = Math.min(s.pendingInput.length, CONSOLE_INPUT_LIMIT);
  }

  private setSize(cols: number, rows: number): void {
    const v = new DataView(this.config.buffer);
    v.setUint16(CFG_COLS, cols, true);
    v.setUint16(CFG_ROWS, rows, true);
  }

  private transmit(): void {
    const ctx = this.context;
    const queue = ctx?.queues[TX_QUEUE];
    if (!ctx || !queue) return;
    let pushed = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      for (const seg of chain.readable) this.opts.output(Uint8Array.from(seg));
      queue.pushUsed(chain.head, 0);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(TX_QUEUE);
  }

  private deliverInput(): void {
    const ctx = this.context;
    const queue = ctx?.queues[RX_QUEUE];
    if (!ctx || !queue || this.pendingBytes === 0) return;
    let pushed = false;
    while (this.pendingBytes > 0) {
      const chain = queue.pop();
      if (!chain) break;
      let written = 0;
      while (this.pending.length > 0 && written < chain.writableLength) {
        const head = this.pending[0];
        const n = chain.writeFrom(head, written);
        written += n;
        this.pendingBytes -= n;
        if (n === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(n);
      }
      queue.pushUsed(chain.head, written);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(RX_QUEUE);
  }
}

function asConsoleState(state: JsonValue): VirtioConsoleState {
  const o = state !== null && typeof state === 'object' && !Array.isArray(state) ? state : {};
  const num = (v: JsonValue | undefined, d: number): number => (typeof v === 'number' ? v & 0xffff : d);
  const input = Array.isArray(o.pendingInput) ? o.pendingInput.filter((b): b is number => typeof b === 'number') : [];
  return { cols: num(o.cols, 80), rows: num(o.rows, 25), pendingInput: input };
}

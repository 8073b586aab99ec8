/**
 * virtio-blk (virtio 1.2, 5.2): what a block request means. Requests run
 * asynchronously against a BlockBackend and complete out of order; a FLUSH
 * completes only after every write submitted before it has finished and the
 * backend has synced. Malformed requests complete with IOERR/UNSUPP, or with
 * nothing written when there is no room for even the status byte.
 */
import { VIRTIO_ID_BLOCK } from '../constants';
import { JsonValue, VirtioContext, VirtioDevice, readConfigBytes } from '../device';
import { DescriptorChain } from '../queue/descriptor-chain';
import { BlockBackend } from './block-backend';
import {
  CFG, DISCARD_SEGMENT_SIZE, REQUEST_HEADER_SIZE, SECTOR_SIZE, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} from './blk-constants';

export interface VirtioBlkOptions {
  backend: BlockBackend;
  /** Returned by GET_ID; at most 20 bytes are used. */
  serial?: string;
  /** Number of request queues (VIRTIO_BLK_F_MQ when more than one). */
  queues?: number;
  queueSize?: number;
}

/** Largest discard / write-zeroes request, in sectors (8 MiB): bounds how long one request takes. */
const MAX_ZERO_SECTORS = 16384;
/**
 * Largest read or write we accept (64 MiB; Linux sends at most max_sectors_kb,
 * 1280 KiB by default). A bigger chain is a guest trying to make us allocate.
 */
const MAX_TRANSFER_BYTES = 64 * 1024 * 1024;

type Status = typeof VIRTIO_BLK_S_OK | typeof VIRTIO_BLK_S_IOERR | typeof VIRTIO_BLK_S_UNSUPP;

interface Outcome {
  status: Status;
  /** Bytes written into the driver's data buffers, not counting the status byte. */
  written: number;
}

const fail = (status: Status): Outcome => ({ status, written: 0 });

export class VirtioBlk implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_BLOCK;
  readonly queueMaxSizes: readonly number[];
  readonly features: bigint;
  readonly capacitySectors: number;
  private readonly config: Uint8Array;
  private readonly serial: Uint8Array;
  private context: VirtioContext | undefined;
  /** Bumped on reset so completions of requests from before it are dropped. */
  private epoch = 0;
  private readonly writesInFlight = new Set<Promise<unknown>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly signalPending = new Set<number>();

  constructor(private readonly opts: VirtioBlkOptions) {
    const queues = Math.max(1, Math.min(opts.queues ?? 1, 64));
    const queueSize = opts.queueSize ?? 256;
    this.queueMaxSizes = new Array<number>(queues).fill(queueSize);
    this.capacitySectors = Math.floor(opts.backend.size / SECTOR_SIZE);
    this.serial = new TextEncoder().encode(opts.serial ?? '').subarray(0, VIRTIO_BLK_ID_BYTES);
    this.features = VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_SEG_MAX
      | (opts.backend.readOnly ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES)
      | (queues > 1 ? VIRTIO_BLK_F_MQ : 0n);
    const cfg = new DataView(new ArrayBuffer(CFG.size));
    cfg.setBigUint64(CFG.capacity, BigInt(this.capacitySectors), true);
    cfg.setUint32(CFG.segMax, queueSize - 2, true); // room for the header and status descriptors
    cfg.setUint32(CFG.blkSize, SECTOR_SIZE, true);
    cfg.setUint16(CFG.numQueues, queues, true);
    cfg.setUint32(CFG.maxDiscardSectors, MAX_ZERO_SECTORS, true);
    cfg.setUint32(CFG.maxDiscardSeg, 1, true);
    cfg.setUint32(CFG.discardSectorAlignment, 1, true);
    cfg.setUint32(CFG.maxWriteZeroesSectors, MAX_ZERO_SECTORS, true);
    cfg.setUint32(CFG.maxWriteZeroesSeg, 1, true);
    this.config = new Uint8Array(cfg.buffer);
  }

  readConfig(offset: number, data: Uint8Array): void {
    readConfigBytes(this.config, offset, data);
  }

  writeConfig(): void {}

  activate(context: VirtioContext): void {
    this.context = context;
  }

  notify(queueIndex: number): void {
    const ctx = this.context;
    const queue = ctx?.queues[queueIndex];
    if (!ctx || !queue) return;
    for (let chain = queue.pop(); chain; chain = queue.pop()) this.start(ctx, queueIndex, chain);
  }

  reset(): void {
    this.context = undefined;
    this.epoch++;
  }

  /** Resolves once every request started so far has completed (before save() or close). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Finishes outstanding requests, then closes the backend (releasing the image lock). */
  async close(): Promise<void> {
    await this.drain();
    await this.opts.backend.close();
  }

  save(): JsonValue {
    return { capacitySectors: this.capacitySectors, readOnly: this.opts.backend.readOnly };
  }

  restore(state: JsonValue): void {
    const s = state as { capacitySectors?: number };
    if (s && typeof s === 'object' && s.capacitySectors !== undefined && s.capacitySectors !== this.capacitySectors) {
      throw new Error(`virtio-blk: image has ${this.capacitySectors} sectors, snapshot expects ${s.capacitySectors}`);
    }
  }

  private start(ctx: VirtioContext, queueIndex: number, chain: DescriptorChain): void {
    const epoch = this.epoch;
    const done = this.execute(chain, epoch)
      .catch((e: unknown): Outcome => {
        ctx.log.warn(`virtio-blk: I/O error: ${e instanceof Error ? e.message : String(e)}`);
        return fail(VIRTIO_BLK_S_IOERR);
      })
      .then((outcome) => {
        this.inFlight.delete(done);
        if (epoch !== this.epoch) return;
        const queue = ctx.queues[queueIndex];
        if (chain.writableLength === 0) {
          queue.pushUsed(chain.head, 0); // no room for a status byte: the request just fails
        } else {
          chain.writeFrom(Uint8Array.of(outcome.status), chain.writableLength - 1);
          queue.pushUsed(chain.head, outcome.written + 1);
        }
        this.signalSoon(ctx, queueIndex);
      });
    this.inFlight.add(done);
  }

  /** Completions that land in the same tick share one interrupt. */
  private signalSoon(ctx: VirtioContext, queueIndex: number): void {
    if (this.signalPending.has(queueIndex)) return;
    this.signalPending.add(queueIndex);
    queueMicrotask(() => {
      this.signalPending.delete(queueIndex);
      if (this.context === ctx) ctx.signalUsed(queueIndex);
    });
  }

  private async execute(chain: DescriptorChain, epoch: number): Promise<Outcome> {
    if (chain.readableLength < REQUEST_HEADER_SIZE || chain.writableLength < 1) return fail(VIRTIO_BLK_S_IOERR);
    const header = new Uint8Array(REQUEST_HEADER_SIZE);
    chain.readInto(header);
    const hv = new DataView(header.buffer);
    const type = hv.getUint32(0, true);
    const sector = Number(hv.getBigUint64(8, true));
    const dataIn = chain.writableLength - 1;
    const dataOut = chain.readableLength - REQUEST_HEADER_SIZE;
    switch (type) {
      case VIRTIO_BLK_T_IN: return this.read(chain, sector, dataIn, epoch);
      case VIRTIO_BLK_T_OUT: return this.write(chain, sector, dataOut);
      case VIRTIO_BLK_T_FLUSH: return this.flush();
      case VIRTIO_BLK_T_GET_ID: {
        const id = padId(this.serial).subarray(0, Math.min(VIRTIO_BLK_ID_BYTES, dataIn));
        return { status: VIRTIO_BLK_S_OK, written: chain.writeFrom(id) };
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES: return this.zero(chain, type, dataOut);
      default: return fail(VIRTIO_BLK_S_UNSUPP);
    }
  }

  private inRange(sector: number, bytes: number): boolean {
    return bytes % SECTOR_SIZE === 0 && bytes <= MAX_TRANSFER_BYTES && Number.isSafeInteger(sector) && sector + bytes / SECTOR_SIZE <= this.capacitySectors;
  }

  /** Reads into a bounce buffer so a request outliving a device reset never writes guest memory. */
  private async read(chain: DescriptorChain, sector: number, length: number, epoch: number): Promise<Outcome> {
    if (!this.inRange(sector, length)) return fail(VIRTIO_BLK_S_IOERR);
    const bounce = new Uint8Array(length);
    await this.opts.backend.read([bounce], sector * SECTOR_SIZE);
    if (epoch !== this.epoch) return fail(VIRTIO_BLK_S_IOERR);
    chain.writeFrom(bounce);
    return { status: VIRTIO_BLK_S_OK, written: length };
  }

  private write(chain: DescriptorChain, sector: number, length: number): Promise<Outcome> {
    if (this.opts.backend.readOnly || !this.inRange(sector, length)) return Promise.resolve(fail(VIRTIO_BLK_S_IOERR));
    return this.trackWrite(this.opts.backend.write(chain.readableSlices(REQUEST_HEADER_SIZE, length), sector * SECTOR_SIZE));
  }

  private async flush(): Promise<Outcome> {
    // Writes already submitted must reach the file before the sync that makes them durable.
    await Promise.allSettled([...this.writesInFlight]);
    if (!this.opts.backend.readOnly) await this.opts.backend.flush();
    return { status: VIRTIO_BLK_S_OK, written: 0 };
  }

  private zero(chain: DescriptorChain, type: number, length: number): Promise<Outcome> {
    if (length !== DISCARD_SEGMENT_SIZE) return Promise.resolve(fail(length % DISCARD_SEGMENT_SIZE ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP));
    const seg = new Uint8Array(DISCARD_SEGMENT_SIZE);
    chain.readInto(seg, REQUEST_HEADER_SIZE);
    const sv = new DataView(seg.buffer);
    const sector = Number(sv.getBigUint64(0, true));
    const sectors = sv.getUint32(8, true);
    const flags = sv.getUint32(12, true);
    const allowedFlags = type === VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
    if (flags & ~allowedFlags) return Promise.resolve(fail(VIRTIO_BLK_S_UNSUPP));
    if (this.opts.backend.readOnly || sectors > MAX_ZERO_SECTORS || !this.inRange(sector, sectors * SECTOR_SIZE)) {
      return Promise.resolve(fail(VIRTIO_BLK_S_IOERR));
    }
    const backend = this.opts.backend;
    const op = type === VIRTIO_BLK_T_DISCARD ? backend.discard(sector * SECTOR_SIZE, sectors * SECTOR_SIZE) : backend.writeZeroes(sector * SECTOR_SIZE, sectors * SECTOR_SIZE);
    return this.trackWrite(op);
  }

  private trackWrite(op: Promise<void>): Promise<Outcome> {
    this.writesInFlight.add(op);
    const forget = (): void => { this.writesInFlight.delete(op); };
    op.then(forget, forget);
    return op.then(() => ({ status: VIRTIO_BLK_S_OK, written: 0 }));
  }
}

function padId(serial: Uint8Array): Uint8Array {
  const out = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  out.set(serial);
  return out;
}

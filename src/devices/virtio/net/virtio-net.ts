/**
 * virtio-net (virtio 1.2, 5.1), one queue pair: queue 0 receives, queue 1
 * transmits. Frames travel with the 12-byte virtio_net_hdr when the backend
 * takes it (TAP with IFF_VNET_HDR), so checksum and segmentation offloads
 * pass straight through; a plain backend gets bare frames.
 *
 * Receive with VIRTIO_NET_F_MRG_RXBUF spreads a packet over as many buffers as
 * it needs and says how many in num_buffers. Packets wait (up to a bound) when
 * the guest has no buffers; past the bound the backend is paused rather than
 * packets dropped, which is the backpressure a TAP reader needs.
 */
import { VIRTIO_ID_NET } from '../constants';
import { JsonValue, VirtioContext, VirtioDevice, readConfigBytes } from '../device';
import { DescriptorChain } from '../queue/descriptor-chain';
import { NetBackend } from './net-backend';
import {
  MAX_FRAME_SIZE, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, VIRTIO_NET_HDR_NUM_BUFFERS,
  VIRTIO_NET_HDR_SIZE, VIRTIO_NET_OFFLOADS, VIRTIO_NET_S_LINK_UP,
} from './net-constants';

const RX_QUEUE = 0;
const TX_QUEUE = 1;
const QUEUE_SIZE = 256;
/** Packets held while the guest has no receive buffers. */
export const RX_BACKLOG_LIMIT = 256;

export interface VirtioNetOptions {
  backend: NetBackend;
  /** Six bytes. */
  mac: Uint8Array;
}

export interface NetStats {
  txPackets: number;
  rxPackets: number;
  rxDropped: number;
  txDropped: number;
}

export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC address ${text}`);
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

export class VirtioNet implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_NET;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly features: bigint;
  readonly stats: NetStats = { txPackets: 0, rxPackets: 0, rxDropped: 0, txDropped: 0 };
  private readonly config = new Uint8Array(12);
  private context: VirtioContext | undefined;
  private mergeable = false;
  private backlog: Uint8Array[] = [];
  private paused = false;

  constructor(private readonly opts: VirtioNetOptions) {
    if (opts.mac.length !== 6) throw new Error('virtio-net: MAC must be 6 bytes');
    const backend = opts.backend;
    this.features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF
      | (backend.vnetHeader ? backend.offloads & VIRTIO_NET_OFFLOADS : 0n);
    this.config.set(opts.mac, 0);
    new DataView(this.config.buffer).setUint16(6, VIRTIO_NET_S_LINK_UP, true);
    backend.onReceive((packet) => this.receive(packet));
  }

  readConfig(offset: number, data: Uint8Array): void {
    readConfigBytes(this.config, offset, data);
  }

  writeConfig(): void {}

  activate(context: VirtioContext): void {
    this.context = context;
    this.mergeable = (context.features & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
    this.opts.backend.setGuestFeatures?.(context.features);
    this.deliver();
  }

  notify(queueIndex: number): void {
    if (queueIndex === TX_QUEUE) this.transmit();
    else if (queueIndex === RX_QUEUE) this.deliver();
  }

  reset(): void {
    this.context = undefined;
    this.backlog = [];
    this.resume();
  }

  /** A packet from the backend (header in front when the backend uses one). Never throws into the backend. */
  receive(packet: Uint8Array): void {
    try {
      this.enqueue(packet);
    } catch (e) {
      this.context?.deviceError(`receive failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private enqueue(packet: Uint8Array): void {
    if (this.backlog.length >= RX_BACKLOG_LIMIT || packet.length > MAX_FRAME_SIZE + VIRTIO_NET_HDR_SIZE) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push(this.withHeader(packet));
    this.deliver();
    if (this.backlog.length >= RX_BACKLOG_LIMIT && !this.paused) {
      this.paused = true;
      this.opts.backend.pauseReceive();
    }
  }

  save(): JsonValue {
    return { mac: [...this.opts.mac] };
  }

  restore(): void {
    // Packets in flight are not part of a snapshot; the network tolerates loss.
  }

  private withHeader(packet: Uint8Array): Uint8Array {
    if (this.opts.backend.vnetHeader) return Uint8Array.from(packet);
    const out = new Uint8Array(VIRTIO_NET_HDR_SIZE + packet.length); // a zero header: no offloads
    out.set(packet, VIRTIO_NET_HDR_SIZE);
    return out;
  }

  private transmit(): void {
    const ctx = this.context;
    const queue = ctx?.queues[TX_QUEUE];
    if (!ctx || !queue) return;
    const packets: Uint8Array[] = [];
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const length = chain.readableLength;
      if (length < VIRTIO_NET_HDR_SIZE || length > MAX_FRAME_SIZE + VIRTIO_NET_HDR_SIZE) {
        this.stats.txDropped++;
      } else {
        const packet = new Uint8Array(length);
        chain.readInto(packet);
        packets.push(this.opts.backend.vnetHeader ? packet : packet.subarray(VIRTIO_NET_HDR_SIZE));
      }
      queue.pushUsed(chain.head, 0);
    }
    if (packets.length === 0) return;
    this.stats.txPackets += packets.length;
    this.opts.backend.send(packets);
    ctx.signalUsed(TX_QUEUE);
  }

  private deliver(): void {
    const ctx = this.context;
    const queue = ctx?.queues[RX_QUEUE];
    if (!ctx || !queue?.ready) return;
    let pushed = false;
    while (this.backlog.length > 0) {
      const packet = this.backlog[0];
      const chains = this.takeBuffers(packet.length);
      if (chains === 'wait') break;
      this.backlog.shift();
      if (chains === 'drop') {
        this.stats.rxDropped++;
        continue;
      }
      this.fill(packet, chains);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(RX_QUEUE);
    if (this.backlog.length < RX_BACKLOG_LIMIT / 2) this.resume();
  }

  /**
   * Buffers for one packet: a single chain, or with MRG_RXBUF as many as it
   * takes. 'wait' when the guest has not offered enough yet (nothing taken);
   * 'drop' when a single chain without MRG_RXBUF is too small (the chain goes back).
   */
  private takeBuffers(length: number): DescriptorChain[] | 'wait' | 'drop' {
    const queue = this.context!.queues[RX_QUEUE];
    const chains: DescriptorChain[] = [];
    let room = 0;
    while (room < length) {
      const chain = queue.pop();
      if (!chain) {
        if (chains.length) queue.undoPop(chains.length);
        return 'wait';
      }
      chains.push(chain);
      room += chain.writableLength;
      if (!this.mergeable) break;
    }
    if (room < length) {
      queue.undoPop(chains.length);
      return 'drop';
    }
    return chains;
  }

  private fill(packet: Uint8Array, chains: DescriptorChain[]): void {
    const queue = this.context!.queues[RX_QUEUE];
    // With VERSION_1 the field is always there; without MRG_RXBUF it must say 1.
    new DataView(packet.buffer, packet.byteOffset).setUint16(VIRTIO_NET_HDR_NUM_BUFFERS, chains.length, true);
    let offset = 0;
    for (const chain of chains) {
      const n = chain.writeFrom(packet.subarray(offset));
      offset += n;
      queue.pushUsed(chain.head, n);
    }
    this.stats.rxPackets++;
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.opts.backend.resumeReceive();
  }
}

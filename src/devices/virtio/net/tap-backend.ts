/**
 * A NetBackend on a Linux TAP device. Node cannot issue ioctls, so opening
 * /dev/net/tun (TUNSETIFF), sizing the vnet header (TUNSETVNETHDRSZ) and
 * enabling offloads (TUNSETOFFLOAD) go through the native addon, injected here
 * as a TapAddon. Reads and writes are plain fs calls on the fd: one read per
 * frame, one write per frame (a TAP fd keeps frame boundaries).
 *
 * The fd is non-blocking and receiving is driven by readiness: the addon puts
 * the fd in the event loop's epoll set (a TAP is a character device, which
 * Node can only treat as a file, so no Node stream can wait on it), and each
 * wake-up reads until EAGAIN. An idle link costs no CPU and a frame is picked
 * up as soon as it arrives; under KVM the LoopWaker sees the same wake-up and
 * brings the vCPU out of KVM_RUN for it.
 *
 * An fd handed over by libvirt (already TUNSETIFF'd, usually with
 * IFF_VNET_HDR) is accepted as is.
 */
import * as fs from 'node:fs';
import { Logger, defaultLogger } from '../../../log';
import { NetBackend } from './net-backend';
import {
  MAX_FRAME_SIZE, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_HDR_SIZE,
} from './net-constants';

/** <linux/if_tun.h> */
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_UFO = 0x10;

/**
 * The native functions the TAP backend needs. Each throws an Error with
 * `code`/`errno` on failure, like the rest of the addon.
 */
export interface TapAddon {
  /** open("/dev/net/tun", O_RDWR|O_CLOEXEC) + TUNSETIFF(name, flags); returns the fd and the kernel's name. */
  tapOpen(name: string, flags: number): { fd: number; name: string };
  /** TUNSETVNETHDRSZ. */
  tapSetVnetHdrSz(fd: number, size: number): void;
  /** TUNSETOFFLOAD with TUN_F_* bits. */
  tapSetOffload(fd: number, flags: number): void;
  /** TUNGETIFF: the interface's flags, to learn whether a passed-in fd has IFF_VNET_HDR. */
  tapGetFlags(fd: number): number;
  /** Calls `onReadable` from the event loop while `fd` is readable and the watch is started. */
  watchReadable(fd: number, onReadable: (error: Error | undefined) => void): FdWatch;
}

/** A readiness watch on one fd (a libuv poll handle in the addon). Level-triggered. */
export interface FdWatch {
  start(): void;
  stop(): void;
  /** For good; before the fd is closed. */
  close(): void;
}

/** Frames read per wake-up before yielding to the loop, so a flood cannot starve the guest's other devices. */
const READS_PER_WAKEUP = 64;

/** TUN_F_* for what the guest accepted: the TAP may then hand us such packets. */
export function tunOffloadFlags(guestFeatures: bigint): number {
  let flags = 0;
  if (guestFeatures & VIRTIO_NET_F_GUEST_CSUM) {
    flags |= TUN_F_CSUM;
    if (guestFeatures & VIRTIO_NET_F_GUEST_TSO4) flags |= TUN_F_TSO4;
    if (guestFeatures & VIRTIO_NET_F_GUEST_TSO6) flags |= TUN_F_TSO6;
    if (guestFeatures & VIRTIO_NET_F_GUEST_ECN) flags |= TUN_F_TSO_ECN;
    if (guestFeatures & VIRTIO_NET_F_GUEST_UFO) flags |= TUN_F_UFO;
  }
  return flags;
}

/** Offloads a TAP with a vnet header carries (UFO left out: Linux dropped it for TAP). */
const TAP_OFFLOADS = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6
  | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN;

export class TapBackend implements NetBackend {
  readonly offloads: bigint;
  private handler: ((packet: Uint8Array) => void) | undefined;
  private watch: FdWatch | undefined;
  private readonly scratch = new Uint8Array(MAX_FRAME_SIZE + VIRTIO_NET_HDR_SIZE);
  private paused = false;
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly name: string,
    readonly vnetHeader: boolean,
    private readonly addon: TapAddon | undefined,
    private readonly log: Logger,
  ) {
    this.offloads = vnetHeader ? TAP_OFFLOADS : 0n;
  }

  /** Creates (or attaches to) TAP interface `name` with a vnet header. */
  static open(addon: TapAddon, name: string, log: Logger = defaultLogger): TapBackend {
    const { fd, name: actual } = addon.tapOpen(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    addon.tapSetVnetHdrSz(fd, VIRTIO_NET_HDR_SIZE);
    addon.tapSetOffload(fd, 0);
    return new TapBackend(fd, actual, true, addon, log);
  }

  /**
   * Uses an fd someone else opened (libvirt's tap fd). Without the addon we
   * cannot learn or set its vnet header, so `vnetHeader` must be stated.
   */
  static fromFd(fd: number, opts: { addon?: TapAddon; vnetHeader?: boolean; log?: Logger } = {}): TapBackend {
    let vnet = opts.vnetHeader ?? false;
    if (opts.addon) {
      vnet = (opts.addon.tapGetFlags(fd) & IFF_VNET_HDR) !== 0;
      if (vnet) {
        opts.addon.tapSetVnetHdrSz(fd, VIRTIO_NET_HDR_SIZE);
        opts.addon.tapSetOffload(fd, 0);
      }
    }
    return new TapBackend(fd, `fd:${fd}`, vnet, opts.addon, opts.log ?? defaultLogger);
  }

  send(packets: Uint8Array[]): void {
    for (const p of packets) {
      // A full TAP queue drops the frame in the kernel, like a congested wire; errors are logged.
      fs.write(this.fd, p, 0, p.length, null, (err) => {
        if (err && !this.closed) this.log.debug(`tap ${this.name}: write failed: ${err.message}`);
      });
    }
  }

  onReceive(handler: (packet: Uint8Array) => void): void {
    this.handler = handler;
    this.startWatch();
  }

  pauseReceive(): void {
    this.paused = true;
    this.watch?.stop();
  }

  resumeReceive(): void {
    this.paused = false;
    this.startWatch();
  }

  setGuestFeatures(features: bigint): void {
    if (this.vnetHeader && this.addon) this.addon.tapSetOffload(this.fd, tunOffloadFlags(features));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.close();
    fs.close(this.fd, () => {});
  }

  /** Frames that arrived while paused are still queued in the TAP, so the level-triggered watch reports them at once. */
  private startWatch(): void {
    if (this.paused || this.closed || !this.handler) return;
    if (!this.watch) {
      if (!this.addon) throw new Error(`tap ${this.name}: receiving needs the native addon (fd readiness watch)`);
      this.watch = this.addon.watchReadable(this.fd, (err) => {
        if (err) this.stopOnError(err.message);
        else this.drain();
      });
    }
    this.watch.start();
  }

  /** Reads until the TAP is empty, receive is paused, or this wake-up's share is used up. */
  private drain(): void {
    for (let i = 0; i < READS_PER_WAKEUP && !this.paused && !this.closed && this.handler; i++) {
      let n: number;
      try {
        n = fs.readSync(this.fd, this.scratch, 0, this.scratch.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        if (code === 'EINTR') continue;
        this.stopOnError((e as Error).message);
        return;
      }
      // A copy: the device may keep a frame in its backlog while the scratch buffer is reused.
      if (n > 0) this.handler(this.scratch.slice(0, n));
    }
  }

  private stopOnError(message: string): void {
    this.watch?.stop();
    if (!this.closed) this.log.warn(`tap ${this.name}: read failed: ${message}; receive stopped`);
  }
}

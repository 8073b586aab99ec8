/**
 * The host side of the virtio devices: disk images and TAP interfaces. They
 * are opened once, before the first Machine is built (opening a disk is
 * asynchronous and takes its image lock), and outlive guest resets, which
 * rebuild the Machine but must not re-lock or re-open images.
 */
import { FileBlockBackend } from '../devices/virtio/blk/block-backend';
import { NetBackend } from '../devices/virtio/net/net-backend';
import { TapBackend } from '../devices/virtio/net/tap-backend';
import { Logger } from '../log';
import { setTapNonBlocking, tapAddon } from '../kvm/tap';
import { DiskConfig, NetConfig, VirtioConfig } from './virtio-config';

export interface OpenDisk {
  readonly config: DiskConfig;
  readonly backend: FileBlockBackend;
}

export interface OpenNet {
  readonly config: NetConfig;
  readonly backend: NetBackend;
}

export interface VirtioBackends {
  readonly disks: readonly OpenDisk[];
  readonly nets: readonly OpenNet[];
}

export const NO_BACKENDS: VirtioBackends = { disks: [], nets: [] };

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'ENOENT') return 'no such file';
  if (err && err.code === 'EACCES') return 'permission denied';
  if (err && err.code === 'EISDIR') return 'is a directory';
  return e instanceof Error ? e.message : String(e);
}

async function openDisk(disk: DiskConfig): Promise<OpenDisk> {
  try {
    return { config: disk, backend: await FileBlockBackend.open(disk.path, { readOnly: disk.readOnly }) };
  } catch (e) {
    const msg = reason(e);
    // The lock error already names the image; the others get it here.
    throw new Error(msg.includes(disk.path) ? msg : `disk ${disk.path}: ${msg}`);
  }
}

function openNet(net: NetConfig, log: Logger): OpenNet {
  try {
    let backend: TapBackend;
    if (net.kind === 'tap') {
      backend = TapBackend.open(tapAddon(), net.name, log);
    } else {
      setTapNonBlocking(net.fd);
      backend = TapBackend.fromFd(net.fd, { addon: tapAddon(), log });
    }
    return { config: net, backend };
  } catch (e) {
    const what = net.kind === 'tap' ? `tap ${net.name}` : `tap fd ${net.fd}`;
    throw new Error(`--net ${what}: ${reason(e)}`);
  }
}

/** Opens every disk and TAP, or none: on a failure those already open are closed again. Errors are one line. */
export async function openVirtioBackends(config: VirtioConfig, log: Logger): Promise<VirtioBackends> {
  const disks: OpenDisk[] = [];
  const nets: OpenNet[] = [];
  try {
    for (const d of config.disks) disks.push(await openDisk(d));
    for (const n of config.nets) nets.push(openNet(n, log));
    return { disks, nets };
  } catch (e) {
    await closeVirtioBackends({ disks, nets });
    throw e;
  }
}

/** Closes images (releasing their locks) and TAPs. Call after the devices have drained. */
export async function closeVirtioBackends(b: VirtioBackends): Promise<void> {
  for (const n of b.nets) n.backend.close();
  await Promise.allSettled(b.disks.map((d) => d.backend.close()));
}

/**
 * query-block / `info block` for the configured disks: virtio0, virtio1, ...
 * in command-line order, as QEMU names -drive if=virtio devices.
 */
import { statSync } from 'node:fs';
import { BlockDeviceInfo } from '../qmp/vm-control';
import { VirtioConfig } from './virtio-config';

export function virtioBlockDevices(config: Pick<VirtioConfig, 'disks' | 'machine'>): BlockDeviceInfo[] {
  return config.disks.map((disk, i) => {
    let size = 0;
    try {
      size = statSync(disk.path).size;
    } catch {
      // The image vanished under us; report it with size 0 rather than fail the whole query.
    }
    return {
      device: `virtio${i}`,
      qdev: config.machine === 'pc' ? `/machine/peripheral-anon/virtio-blk-pci${i}/virtio-backend` : `/machine/peripheral-anon/virtio-blk-device${i}`,
      removable: false,
      locked: false,
      inserted: {
        file: disk.path,
        nodeName: `#block${i}`,
        drv: 'raw',
        readOnly: disk.readOnly,
        virtualSize: size,
        // Writes go through the page cache and are made durable on the guest's flush, as QEMU's cache=writeback.
        cache: { writeback: true, direct: false, noFlush: false },
      },
    };
  });
}

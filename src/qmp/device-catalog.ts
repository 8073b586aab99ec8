/**
 * Device types tsvisor implements, for device-list-properties. Only the
 * properties tsvisor honours are listed, so a client probing for a feature
 * (as libvirt does) learns the truth. Unknown types get QEMU's
 * DeviceNotFound.
 */
export interface DeviceProperty {
  name: string;
  type: string;
  description?: string;
}

export const DEVICE_TYPES: Record<string, DeviceProperty[]> = {
  'isa-serial': [
    { name: 'chardev', type: 'str', description: 'ID of a chardev to use as a backend' },
    { name: 'index', type: 'uint32' },
    { name: 'iobase', type: 'uint32' },
    { name: 'irq', type: 'uint32' },
  ],
  'virtio-blk-pci': [
    { name: 'drive', type: 'str', description: 'Node name or ID of a block device to use as a backend' },
    { name: 'serial', type: 'str' },
    { name: 'num-queues', type: 'uint16' },
    { name: 'addr', type: 'int32', description: 'Slot and optional function number, example: 06.0 or 06' },
  ],
  'virtio-blk-device': [
    { name: 'drive', type: 'str', description: 'Node name or ID of a block device to use as a backend' },
    { name: 'serial', type: 'str' },
  ],
  'virtio-net-pci': [
    { name: 'netdev', type: 'str', description: 'ID of a netdev to use as a backend' },
    { name: 'mac', type: 'str', description: 'Ethernet 6-byte MAC Address, example: 52:54:00:12:34:56' },
    { name: 'addr', type: 'int32', description: 'Slot and optional function number, example: 06.0 or 06' },
  ],
  'virtio-rng-pci': [
    { name: 'addr', type: 'int32', description: 'Slot and optional function number, example: 06.0 or 06' },
  ],
};

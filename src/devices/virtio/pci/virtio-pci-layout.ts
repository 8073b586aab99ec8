/**
 * Where things sit in a modern virtio-pci function (virtio 1.2, 4.1): the
 * vendor capability types, the common configuration layout, and our BAR 4
 * layout (one 64-bit prefetchable memory BAR holding every structure and the
 * MSI-X table, as QEMU does for its modern BAR).
 */
export const VIRTIO_PCI_VENDOR = 0x1af4;
export const VIRTIO_PCI_DEVICE_BASE = 0x1040;
export const VIRTIO_PCI_SUBSYSTEM = 0x1100;

export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;
export const VIRTIO_PCI_CAP_LEN = 16;

export const VIRTIO_MSI_NO_VECTOR = 0xffff;

export const BAR_INDEX = 4;
export const BAR_SIZE = 0x8000;
export const COMMON_OFFSET = 0x0000;
/** struct virtio_pci_modern_common_cfg, through queue_notify_data and queue_reset (read as zero). */
export const COMMON_SIZE = 0x3c;
export const ISR_OFFSET = 0x1000;
export const DEVICE_OFFSET = 0x2000;
export const DEVICE_SIZE = 0x1000;
export const NOTIFY_OFFSET = 0x3000;
/** Bytes between queue doorbells: queue N's is at NOTIFY_OFFSET + N * 4. */
export const NOTIFY_OFF_MULTIPLIER = 4;
export const MSIX_TABLE_OFFSET = 0x4000;
export const MSIX_PBA_OFFSET = 0x5000;
export const REGION_SIZE = 0x1000;

/** struct virtio_pci_common_cfg field offsets. */
export const COMMON = {
  deviceFeatureSelect: 0x00,
  deviceFeature: 0x04,
  driverFeatureSelect: 0x08,
  driverFeature: 0x0c,
  configMsixVector: 0x10,
  numQueues: 0x12,
  deviceStatus: 0x14,
  configGeneration: 0x15,
  queueSelect: 0x16,
  queueSize: 0x18,
  queueMsixVector: 0x1a,
  queueEnable: 0x1c,
  queueNotifyOff: 0x1e,
  queueDesc: 0x20,
  queueDriver: 0x28,
  queueDevice: 0x30,
} as const;

/** PCI class codes by virtio device type, as QEMU reports them. */
export function pciClassFor(deviceType: number): number {
  switch (deviceType) {
    case 1: return 0x020000; // network controller, Ethernet
    case 2: return 0x010000; // mass storage, SCSI (QEMU's choice for virtio-blk)
    case 3: return 0x078000; // communication controller, other
    default: return 0x00ff00; // unclassified
  }
}

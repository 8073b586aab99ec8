/**
 * Numbers from the virtio 1.2 specification shared by every transport and
 * device. Feature bits are bigints because the feature space is 64 bits wide
 * and transports present it as two 32-bit halves.
 */

/** Device status bits (virtio 1.2, 2.1). */
export const STATUS_ACKNOWLEDGE = 0x01;
export const STATUS_DRIVER = 0x02;
export const STATUS_DRIVER_OK = 0x04;
export const STATUS_FEATURES_OK = 0x08;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

/** Reserved (device-independent) feature bits. */
export const VIRTIO_F_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

/** Ring features every transport offers on top of the device's own. */
export const TRANSPORT_FEATURES = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;

/** Device IDs (virtio 1.2, 5). */
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;

/** Interrupt status bits, as read from the MMIO InterruptStatus and the PCI ISR. */
export const INTERRUPT_USED_RING = 0x1;
export const INTERRUPT_CONFIG_CHANGE = 0x2;

export function featureBit(n: number): bigint {
  return 1n << BigInt(n);
}

/** One 32-bit half of a 64-bit feature set; selectors past 1 read as zero. */
export function featureWord(features: bigint, select: number): number {
  if (select > 1) return 0;
  return Number((features >> BigInt(32 * select)) & 0xffffffffn);
}

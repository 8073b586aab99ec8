/** virtio-net numbers (virtio 1.2, 5.1). */
import { featureBit } from '../constants';

export const VIRTIO_NET_F_CSUM = featureBit(0);
export const VIRTIO_NET_F_GUEST_CSUM = featureBit(1);
export const VIRTIO_NET_F_MAC = featureBit(5);
export const VIRTIO_NET_F_GUEST_TSO4 = featureBit(7);
export const VIRTIO_NET_F_GUEST_TSO6 = featureBit(8);
export const VIRTIO_NET_F_GUEST_ECN = featureBit(9);
export const VIRTIO_NET_F_GUEST_UFO = featureBit(10);
export const VIRTIO_NET_F_HOST_TSO4 = featureBit(11);
export const VIRTIO_NET_F_HOST_TSO6 = featureBit(12);
export const VIRTIO_NET_F_HOST_ECN = featureBit(13);
export const VIRTIO_NET_F_HOST_UFO = featureBit(14);
export const VIRTIO_NET_F_MRG_RXBUF = featureBit(15);
export const VIRTIO_NET_F_STATUS = featureBit(16);

/** Every offload bit: what a backend may pass through. */
export const VIRTIO_NET_OFFLOADS = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4
  | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_UFO | VIRTIO_NET_F_HOST_TSO4
  | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_HOST_UFO;

export const VIRTIO_NET_S_LINK_UP = 1;

/** struct virtio_net_hdr with num_buffers, always present with VERSION_1. */
export const VIRTIO_NET_HDR_SIZE = 12;
export const VIRTIO_NET_HDR_NUM_BUFFERS = 10;

/** Largest frame we move: a 64 KiB GSO packet plus an Ethernet/VLAN header. */
export const MAX_FRAME_SIZE = 65536 + 18;

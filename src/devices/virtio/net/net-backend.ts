/**
 * Where virtio-net's frames go and come from. The device never knows whether
 * this is a TAP device, a socket or a test double.
 */
export interface NetBackend {
  /**
   * True when every packet in both directions starts with a 12-byte
   * virtio_net_hdr (a TAP with IFF_VNET_HDR): offloads then pass through.
   * False: packets are bare Ethernet frames and no offloads are offered.
   */
  readonly vnetHeader: boolean;
  /** virtio-net offload feature bits this backend can carry (only with vnetHeader). */
  readonly offloads: bigint;
  /** Transmits packets (with the header when vnetHeader). */
  send(packets: Uint8Array[]): void;
  /** Installs the receive handler; packets are in the same format as send(). */
  onReceive(handler: (packet: Uint8Array) => void): void;
  /** Stop delivering packets until resumeReceive(): the guest has no buffers and our queue is full. */
  pauseReceive(): void;
  resumeReceive(): void;
  /** The guest accepted these features: the backend may now produce the matching offloaded packets. */
  setGuestFeatures?(features: bigint): void;
  close(): void;
}

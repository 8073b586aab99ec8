/**
 * Doorbells that bypass the bus: under KVM a guest write to a virtqueue's
 * notify address can signal an ioeventfd in the kernel instead of exiting to
 * us, and the machine thread's event loop rings the queue when the eventfd
 * becomes readable. Transports ask for that through this interface so they
 * stay accelerator-agnostic; under the software CPU there is none and the
 * notify write reaches the transport as a plain bus access.
 */
export interface Doorbells {
  /**
   * From now on, guest writes of `length` bytes at `address` (only of the
   * value `datamatch`, when given) call `ring` from the event loop instead of
   * reaching the bus. Returns the function that undoes the binding.
   */
  bind(address: number, length: number, datamatch: number | undefined, ring: () => void): () => void;
}

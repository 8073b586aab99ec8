/**
 * Guest RAM seen from another thread. An external ArrayBuffer cannot be
 * posted to a Worker, so the owner describes its RAM by host address and the
 * Worker attaches its own ArrayBuffers to the same live mappings (the addon
 * checks each address against its registry and reference-counts the pages,
 * so they stay mapped until every thread has released its view).
 */
import { GuestMemory } from '../memory/guest-memory';
import { kvmBinding } from './binding';
import { KvmVm } from './vm';

/** Plain data, safe to postMessage. */
export interface SharedRamDescriptor {
  guestAddress: number;
  hostAddress: bigint;
}

export function describeSharedRam(vm: KvmVm): SharedRamDescriptor[] {
  const b = kvmBinding();
  return vm.ramSlots.map((s) => ({ guestAddress: s.guestAddress, hostAddress: b.mappingAddress(s.buffer) }));
}

export interface AttachedGuestMemory {
  memory: GuestMemory;
  /** Drops this thread's views (they become empty). */
  release(): void;
}

export function attachSharedRam(descriptors: readonly SharedRamDescriptor[]): AttachedGuestMemory {
  const b = kvmBinding();
  const buffers = descriptors.map((d) => b.attachRam(d.hostAddress));
  const memory = new GuestMemory(descriptors.map((d, i) => ({ guestAddress: d.guestAddress, bytes: new Uint8Array(buffers[i]) })));
  return { memory, release: () => buffers.forEach((buf) => b.releaseMapping(buf)) };
}

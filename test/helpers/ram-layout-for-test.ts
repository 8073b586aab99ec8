/** Builds GuestMemory the way the software CPU does (plain typed arrays) for a RAM size. */
import { GuestMemory } from '../../src/memory/guest-memory';
import { MemoryLayout, layoutOfMemory, memoryLayout } from '../../src/machine/memory-layout';

export function ramLayoutForTest(bytes: number): { layout: MemoryLayout; readBack: MemoryLayout } {
  const layout = memoryLayout(bytes);
  // Typed arrays are zero-filled lazily by the OS, so 8 GiB of them costs no real memory until touched.
  const memory = new GuestMemory(layout.ram.map((r) => ({ guestAddress: r.guestAddress, bytes: new Uint8Array(r.size) })));
  return { layout, readBack: layoutOfMemory(memory) };
}

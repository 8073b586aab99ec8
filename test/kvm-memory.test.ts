import t from 'tap';
import { kvmSkipReason, startRawGuest, GUEST_DONE } from './helpers/kvm-guest';

const skip = kvmSkipReason();
const ABOVE_4G = 0x1_0000_0000;

t.test('guest RAM is one mapping: JS writes reach the guest and guest writes reach JS, in two slots', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({
    mode: 64,
    ram: [
      { guestAddress: 0, size: 0x200000 },
      { guestAddress: ABOVE_4G, size: 0x200000 },
    ],
    source: `
      mov 0x9000, %eax
      out %eax, $0x10
      mov $${ABOVE_4G + 0x1000}, %rbx
      mov (%rbx), %eax
      out %eax, $0x10
      movl $0xdeadbeef, 0x9100
      movl $0xfeedface, 8(%rbx)
      ${GUEST_DONE}`,
  });
  t.teardown(() => acc.destroy());
  t.equal(acc.memory.regions.length, 2);
  acc.memory.writeU32(0x9000, 0x12345678);
  acc.memory.writeU32(ABOVE_4G + 0x1000, 0x9abcdef0);
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.same(probe.accesses.map((a) => Number(a.value)), [0x12345678, 0x9abcdef0], 'guest read what JS wrote');
  t.equal(acc.memory.readU32(0x9100), 0xdeadbeef, 'JS reads what the guest wrote below 4 GiB');
  t.equal(acc.memory.readU32(ABOVE_4G + 0x1008), 0xfeedface, 'and above 4 GiB');
  // The views are over the same bytes KVM maps, not copies.
  const view = acc.memory.view(0x9100, 4)!;
  t.equal(view.buffer, acc.vm.ramSlots[0].buffer, 'the GuestMemory view is the mmapped ArrayBuffer itself');
});

t.test('destroy unmaps RAM and detaches every view of it', { skip }, async (t) => {
  const { acc } = startRawGuest({ mode: 64, source: GUEST_DONE });
  const bytes = acc.memory.regions[0].bytes;
  t.equal(bytes.length, 0x200000);
  acc.destroy();
  t.equal(bytes.length, 0, 'the view is empty, so JS cannot touch unmapped pages');
  t.doesNotThrow(() => acc.destroy(), 'destroy is idempotent');
});

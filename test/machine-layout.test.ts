import t from 'tap';
import { GiB, MiB, memoryLayout, virtioMmioSlot, PCI_HOLE_START, HIGH_RAM_START } from '../src/machine/memory-layout';
import { E820_ACPI, E820_RAM, E820_RESERVED, buildE820 } from '../src/machine/e820';

t.test('64 MiB: one low region, no high RAM', async (t) => {
  const l = memoryLayout(64 * MiB);
  t.same(l.ram, [{ guestAddress: 0, size: 64 * MiB }]);
  t.equal(l.lowRamEnd, 64 * MiB);
  t.equal(l.highRamEnd, 0);
  t.same(buildE820(l), [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x9fc00, size: 0x100000 - 0x9fc00, type: E820_RESERVED },
    { addr: 0x100000, size: 63 * MiB, type: E820_RAM },
  ]);
});

t.test('3 GiB fills low RAM exactly up to the PCI hole', async (t) => {
  const l = memoryLayout(3 * GiB);
  t.same(l.ram, [{ guestAddress: 0, size: 3 * GiB }]);
  const e820 = buildE820(l);
  t.equal(e820[e820.length - 1].addr + e820[e820.length - 1].size, PCI_HOLE_START);
});

t.test('8 GiB: 3 GiB low, 5 GiB from 4 GiB, the hole left out of e820', async (t) => {
  const l = memoryLayout(8 * GiB);
  t.same(l.ram, [
    { guestAddress: 0, size: 3 * GiB },
    { guestAddress: HIGH_RAM_START, size: 2 * GiB },
    { guestAddress: HIGH_RAM_START + 2 * GiB, size: 2 * GiB },
    { guestAddress: HIGH_RAM_START + 4 * GiB, size: 1 * GiB },
  ], 'high RAM in 2 GiB regions (typed arrays stop below 4 GiB)');
  t.equal(l.highRamEnd, 9 * GiB);
  const e820 = buildE820(l);
  t.same(e820[e820.length - 1], { addr: 4 * GiB, size: 5 * GiB, type: E820_RAM });
  for (const e of e820) {
    t.ok(e.addr + e.size <= PCI_HOLE_START || e.addr >= HIGH_RAM_START, `entry at 0x${e.addr.toString(16)} avoids the hole`);
  }
});

t.test('a carved ACPI range splits low RAM and keeps its type', async (t) => {
  const l = memoryLayout(128 * MiB);
  const e820 = buildE820(l, [{ addr: 128 * MiB - 0x10000, size: 0x10000, type: E820_ACPI }]);
  t.same(e820.slice(2), [
    { addr: 0x100000, size: 127 * MiB - 0x10000, type: E820_RAM },
    { addr: 128 * MiB - 0x10000, size: 0x10000, type: E820_ACPI },
  ]);
  t.throws(() => buildE820(l, [{ addr: 128 * MiB - 0x1000, size: 0x2000, type: E820_ACPI }]), /not inside free low RAM/);
});

t.test('too little or odd-sized memory is refused', async (t) => {
  t.throws(() => memoryLayout(8 * MiB), /too little memory: 8388608 bytes, at least 16 MiB needed/);
  t.throws(() => memoryLayout(64 * MiB + 1), /not a multiple of 4 KiB/);
});

t.test('virtio-mmio slots: 4 KiB apart from 0xd0000000, IRQs from 5 skipping 8, 9 and the PCI INTx GSIs', async (t) => {
  t.same(virtioMmioSlot(0), { address: 0xd0000000, size: 0x1000, irq: 5 });
  t.same(virtioMmioSlot(3), { address: 0xd0003000, size: 0x1000, irq: 10 });
  const irqs = Array.from({ length: 13 }, (_, i) => virtioMmioSlot(i).irq);
  t.notOk(irqs.some((irq) => [8, 9, 16, 17, 18, 19].includes(irq)));
  t.throws(() => virtioMmioSlot(13), /out of range/);
});

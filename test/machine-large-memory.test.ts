import t from 'tap';
import { HIGH_RAM_START, MAX_REGION_SIZE, memoryLayout } from '../src/machine/memory-layout';
import { ramLayoutForTest } from './helpers/ram-layout-for-test';

const GiB = 2 ** 30;

t.test('8 GiB: 3 GiB below the PCI hole, 5 GiB above 4 GiB in chunks a typed array can hold', async (t) => {
  const layout = memoryLayout(8 * GiB);
  t.same(layout.ram[0], { guestAddress: 0, size: 3 * GiB });
  const high = layout.ram.slice(1);
  t.ok(high.every((r) => r.size <= MAX_REGION_SIZE), 'no region reaches V8\'s 4 GiB typed-array limit');
  t.equal(high[0].guestAddress, HIGH_RAM_START);
  for (let i = 1; i < high.length; i++) t.equal(high[i].guestAddress, high[i - 1].guestAddress + high[i - 1].size, 'contiguous');
  t.equal(high.reduce((n, r) => n + r.size, 0), 5 * GiB);
  t.equal(layout.highRamEnd, HIGH_RAM_START + 5 * GiB);
});

t.test('the software CPU can allocate an 8 GiB guest and the layout reads back the same', async (t) => {
  const { layout, readBack } = ramLayoutForTest(8 * GiB);
  t.equal(readBack.highRamEnd, layout.highRamEnd);
  t.equal(readBack.ramSize, 8 * GiB);
});

import t from 'tap';
import { IoBus, PioDevice, MmioDevice, AccessSize } from '../src/devices/bus';
import { memoryLogger } from '../src/log';

class Latch implements PioDevice, MmioDevice {
  writes: [number, number, number][] = [];
  pioRead(offset: number, size: AccessSize): number { return 0x100 * offset + size; }
  pioWrite(offset: number, size: AccessSize, value: number): void { this.writes.push([offset, size, value]); }
  mmioRead(offset: number, data: Uint8Array): void { data.fill(offset & 0xff); }
  mmioWrite(offset: number, data: Uint8Array): void { this.writes.push([offset, data.length, data[0]]); }
}

t.test('PIO accesses reach the device with the offset inside its range', async (t) => {
  const bus = new IoBus(memoryLogger());
  const dev = new Latch();
  bus.registerPio(0x3f8, 8, dev, 'com1');
  t.equal(bus.pioRead(0x3fa, 1), 0x201);
  bus.pioWrite(0x3f9, 2, 0xbeef);
  t.same(dev.writes, [[1, 2, 0xbeef]]);
});

t.test('overlapping registration is an error that names both devices', async (t) => {
  const bus = new IoBus(memoryLogger());
  bus.registerPio(0x60, 1, new Latch(), 'kbd-data');
  t.throws(() => bus.registerPio(0x5f, 2, new Latch(), 'other'), { name: 'BusError' });
  t.throws(() => bus.registerPio(0x5f, 2, new Latch(), 'other'), /other.*overlaps kbd-data/);
  bus.registerMmio(0xd0000000, 0x1000, new Latch(), 'virtio0');
  t.throws(() => bus.registerMmio(0xd0000fff, 0x10, new Latch(), 'virtio1'), /overlaps virtio0/);
  t.doesNotThrow(() => bus.registerMmio(0xd0001000, 0x1000, new Latch(), 'virtio1'));
});

t.test('unclaimed reads are all-ones and logged once per address', async (t) => {
  const log = memoryLogger();
  const bus = new IoBus(log);
  t.equal(bus.pioRead(0x80, 1), 0xff);
  t.equal(bus.pioRead(0x80, 2), 0xffff);
  t.equal(bus.pioRead(0x80, 4), 0xffffffff);
  bus.pioWrite(0x80, 1, 0);
  const data = new Uint8Array(8);
  bus.mmioRead(0xfee00000, data);
  bus.mmioRead(0xfee00000, data);
  t.same([...data], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  t.equal(log.lines.filter((l) => l.includes('0x80')).length, 1);
  t.equal(log.lines.filter((l) => l.includes('0xfee00000')).length, 1);
});

t.test('MMIO accesses carry their size and find the right device among many', async (t) => {
  const bus = new IoBus(memoryLogger());
  const devs = Array.from({ length: 16 }, () => new Latch());
  devs.forEach((d, i) => bus.registerMmio(0x1000 * (i + 1), 0x200, d, `d${i}`));
  const data = new Uint8Array(4);
  bus.mmioRead(0x5010, data);
  t.same([...data], [0x10, 0x10, 0x10, 0x10]);
  bus.mmioWrite(0x9004, Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0));
  t.same(devs[8].writes, [[4, 8, 7]]);
  const gap = new Uint8Array(2);
  bus.mmioRead(0x9200, gap);
  t.same([...gap], [0xff, 0xff], 'just past a range is unclaimed');
});

t.test('a PIO range past port 0xffff is refused', async (t) => {
  const bus = new IoBus(memoryLogger());
  t.throws(() => bus.registerPio(0xfffe, 4, new Latch(), 'wide'), /past port 0xffff/);
});

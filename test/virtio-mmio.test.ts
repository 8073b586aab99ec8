import t from 'tap';
import { VirtioMmioTransport, REG, VIRTIO_MMIO_MAGIC } from '../src/devices/virtio/mmio/virtio-mmio';
import { VirtioRng } from '../src/devices/virtio/rng/virtio-rng';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { IoBus } from '../src/devices/bus';
import { GuestAllocator, makeMemory, mmioDeviceFeatures, mmioHandshake, mmioRead32, mmioWrite32 } from './virtio-driver';

function setup() {
  const mem = makeMemory();
  const alloc = new GuestAllocator(0x10000, mem.size);
  const irq = new RecordingLine();
  const log = memoryLogger();
  const rng = new VirtioRng();
  const dev = new VirtioMmioTransport({ device: rng, memory: mem, irq, log });
  return { mem, alloc, irq, log, dev };
}

t.test('probe registers identify a version 2 entropy device', async (t) => {
  const { dev } = setup();
  t.equal(mmioRead32(dev, REG.MagicValue), VIRTIO_MMIO_MAGIC);
  t.equal(mmioRead32(dev, REG.Version), 2);
  t.equal(mmioRead32(dev, REG.DeviceID), 4);
  t.equal(mmioRead32(dev, REG.QueueNumMax), 256);
  mmioWrite32(dev, REG.QueueSel, 1);
  t.equal(mmioRead32(dev, REG.QueueNumMax), 0, 'no second queue');
  const f = mmioDeviceFeatures(dev);
  t.ok(f & (1n << 32n), 'offers VERSION_1');
  t.ok(f & (1n << 29n), 'offers EVENT_IDX');
});

t.test('handshake ACKNOWLEDGE -> DRIVER -> FEATURES_OK -> DRIVER_OK and a request', async (t) => {
  const { mem, alloc, irq, dev } = setup();
  const [q] = mmioHandshake(dev, mem, alloc, { queueSizes: [16], features: (f) => f & ~(1n << 29n) });
  t.equal(mmioRead32(dev, REG.Status), 15);
  t.equal(mmioRead32(dev, REG.QueueReady), 1);
  const buf = alloc.alloc(64);
  const head = q.add([{ addr: buf, len: 64, write: true }]);
  mmioWrite32(dev, REG.QueueNotify, 0);
  t.same(q.takeUsed(), [[head, 64]]);
  t.ok(irq.level, 'interrupt raised');
  t.equal(mmioRead32(dev, REG.InterruptStatus), 1);
  mmioWrite32(dev, REG.InterruptACK, 1);
  t.notOk(irq.level, 'ack lowers the line');
  t.notSame([...mem.read(buf, 64)], new Array(64).fill(0), 'random bytes arrived');
});

t.test('a driver that does not accept VERSION_1 cannot set FEATURES_OK', async (t) => {
  const { dev, log } = setup();
  mmioWrite32(dev, REG.Status, 1);
  mmioWrite32(dev, REG.Status, 3);
  mmioWrite32(dev, REG.DriverFeaturesSel, 1);
  mmioWrite32(dev, REG.DriverFeatures, 0);
  mmioWrite32(dev, REG.Status, 11);
  t.equal(mmioRead32(dev, REG.Status) & 8, 0);
  t.match(log.lines.join('\n'), /VERSION_1/);
});

t.test('accepting a feature that was not offered fails FEATURES_OK', async (t) => {
  const { dev } = setup();
  mmioWrite32(dev, REG.Status, 3);
  mmioWrite32(dev, REG.DriverFeaturesSel, 0);
  mmioWrite32(dev, REG.DriverFeatures, 1 << 5);
  mmioWrite32(dev, REG.DriverFeaturesSel, 1);
  mmioWrite32(dev, REG.DriverFeatures, 1);
  mmioWrite32(dev, REG.Status, 11);
  t.equal(mmioRead32(dev, REG.Status) & 8, 0);
});

t.test('writing 0 to Status resets queues and interrupt state', async (t) => {
  const { mem, alloc, irq, dev } = setup();
  const [q] = mmioHandshake(dev, mem, alloc, { queueSizes: [8] });
  q.add([{ addr: alloc.alloc(8), len: 8, write: true }]);
  mmioWrite32(dev, REG.QueueNotify, 0);
  t.ok(irq.level);
  mmioWrite32(dev, REG.Status, 0);
  t.equal(mmioRead32(dev, REG.Status), 0);
  t.equal(mmioRead32(dev, REG.QueueReady), 0);
  t.equal(mmioRead32(dev, REG.InterruptStatus), 0);
  t.notOk(irq.level);
  mmioHandshake(dev, mem, alloc, { queueSizes: [8] });
  t.equal(mmioRead32(dev, REG.Status), 15, 'works again after reset');
});

t.test('queue sizes that are not a power of two or too large are refused', async (t) => {
  for (const size of [3, 100, 512, 0]) {
    const { mem, alloc, dev } = setup();
    t.throws(() => mmioHandshake(dev, mem, alloc, { queueSizes: [size] }) && assertNeedsReset(dev));
  }
  function assertNeedsReset(dev: VirtioMmioTransport): void {
    if (mmioRead32(dev, REG.Status) & 0x40) throw new Error('needs reset');
  }
});

t.test('a ring outside RAM sets DEVICE_NEEDS_RESET', async (t) => {
  const { mem, dev, log } = setup();
  mmioWrite32(dev, REG.Status, 3);
  mmioWrite32(dev, REG.DriverFeaturesSel, 1);
  mmioWrite32(dev, REG.DriverFeatures, 1);
  mmioWrite32(dev, REG.Status, 11);
  mmioWrite32(dev, REG.QueueNum, 16);
  mmioWrite32(dev, REG.QueueDescLow, mem.size);
  mmioWrite32(dev, REG.QueueReady, 1);
  t.equal(mmioRead32(dev, REG.QueueReady), 0);
  t.ok(mmioRead32(dev, REG.Status) & 0x40);
  t.match(log.lines.join('\n'), /outside guest RAM/);
});

t.test('narrow register accesses are ignored; config space takes any width', async (t) => {
  const { dev } = setup();
  const d = new Uint8Array(2);
  dev.mmioRead(REG.MagicValue, d);
  t.same([...d], [0, 0]);
  dev.mmioWrite(REG.Status, Uint8Array.of(1));
  t.equal(mmioRead32(dev, REG.Status), 0);
});

t.test('registers on an IoBus', async (t) => {
  const { dev } = setup();
  const bus = new IoBus(memoryLogger());
  bus.registerMmio(0xd0000000, 0x200, dev, 'virtio-rng');
  const d = new Uint8Array(4);
  bus.mmioRead(0xd0000000, d);
  t.equal(new DataView(d.buffer).getUint32(0, true), VIRTIO_MMIO_MAGIC);
});

t.test('save/restore keeps a live queue going', async (t) => {
  const a = setup();
  const [q] = mmioHandshake(a.dev, a.mem, a.alloc, { queueSizes: [8] });
  q.add([{ addr: a.alloc.alloc(8), len: 8, write: true }]);
  mmioWrite32(a.dev, REG.QueueNotify, 0);
  const state = JSON.parse(JSON.stringify(a.dev.save()));
  const irq = new RecordingLine();
  const b = new VirtioMmioTransport({ device: new VirtioRng(), memory: a.mem, irq, log: memoryLogger() });
  b.restore(state);
  t.equal(mmioRead32(b, REG.Status), 15);
  t.ok(irq.level, 'pending interrupt restored');
  q.add([{ addr: a.alloc.alloc(8), len: 8, write: true }]);
  mmioWrite32(b, REG.QueueNotify, 0);
  t.equal(q.takeUsed().length, 2);
});

t.test('attachVirtioMmio registers the window and gives the kernel parameter', async (t) => {
  const { attachVirtioMmio } = await import('../src/devices/virtio/attach');
  const bus = new IoBus(memoryLogger());
  const a = attachVirtioMmio({ bus, base: 0xd0000000, gsi: 5, irq: new RecordingLine(), device: new VirtioRng(), memory: makeMemory(), log: memoryLogger() });
  t.equal(a.cmdline, 'virtio_mmio.device=512@0xd0000000:5');
  t.equal(a.notifyAddress, 0xd0000050);
  t.same(bus.mmioMappings().map((m) => [m.base, m.length]), [[0xd0000000, 0x200]]);
});

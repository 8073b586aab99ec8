import t from 'tap';
import { VirtioMmioTransport, REG } from '../src/devices/virtio/mmio/virtio-mmio';
import { VirtioConsole, CONSOLE_INPUT_LIMIT } from '../src/devices/virtio/console/virtio-console';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { GuestAllocator, makeMemory, mmioHandshake, mmioRead32, mmioReadConfig, mmioWrite32 } from './virtio-driver';

function setup() {
  const mem = makeMemory();
  const alloc = new GuestAllocator(0x10000, mem.size);
  const irq = new RecordingLine();
  const out: number[] = [];
  const con = new VirtioConsole({ output: (b) => out.push(...b), cols: 132, rows: 43 });
  const dev = new VirtioMmioTransport({ device: con, memory: mem, irq, log: memoryLogger() });
  return { mem, alloc, irq, out, con, dev };
}

t.test('config reports cols and rows; emergency write reaches the output', async (t) => {
  const s = setup();
  t.equal(mmioReadConfig(s.dev, 0, 2), 132);
  t.equal(mmioReadConfig(s.dev, 2, 2), 43);
  s.dev.mmioWrite(REG.Config + 8, Uint8Array.of(0x21, 0, 0, 0));
  t.same(s.out, [0x21]);
});

t.test('guest output goes to the writer', async (t) => {
  const s = setup();
  const [, tx] = mmioHandshake(s.dev, s.mem, s.alloc, { queueSizes: [16, 16] });
  const a = s.alloc.alloc(5), b = s.alloc.alloc(3);
  s.mem.write(a, Buffer.from('hello'));
  s.mem.write(b, Buffer.from(' hv'));
  const head = tx.add([{ addr: a, len: 5 }, { addr: b, len: 3 }]);
  mmioWrite32(s.dev, REG.QueueNotify, 1);
  t.equal(Buffer.from(s.out).toString(), 'hello hv');
  t.same(tx.takeUsed(), [[head, 0]]);
  t.ok(s.irq.level);
});

t.test('host input waits for receive buffers, then fills them in order', async (t) => {
  const s = setup();
  const [rx] = mmioHandshake(s.dev, s.mem, s.alloc, { queueSizes: [16, 16] });
  t.equal(s.con.enqueueInput(Buffer.from('abcdef')), 6);
  t.equal(rx.usedIdx(), 0);
  const b1 = s.alloc.alloc(4), b2 = s.alloc.alloc(4);
  rx.add([{ addr: b1, len: 4, write: true }]);
  rx.add([{ addr: b2, len: 4, write: true }]);
  mmioWrite32(s.dev, REG.QueueNotify, 0);
  const used = rx.takeUsed();
  t.same(used.map((u) => u[1]), [4, 2]);
  t.equal(Buffer.from(s.mem.read(b1, 4)).toString() + Buffer.from(s.mem.read(b2, 2)).toString(), 'abcdef');
  s.con.enqueueInput(Buffer.from('x'));
  t.equal(rx.usedIdx(), 2, 'no buffer, input waits');
});

t.test('input beyond the limit is dropped, not buffered forever', async (t) => {
  const s = setup();
  t.equal(s.con.enqueueInput(new Uint8Array(CONSOLE_INPUT_LIMIT + 10)), CONSOLE_INPUT_LIMIT);
  t.equal(s.con.enqueueInput(new Uint8Array(1)), 0);
});

t.test('resize raises a config-change interrupt', async (t) => {
  const s = setup();
  mmioHandshake(s.dev, s.mem, s.alloc, { queueSizes: [16, 16] });
  const gen = mmioRead32(s.dev, REG.ConfigGeneration);
  s.con.resize(100, 30);
  t.equal(mmioReadConfig(s.dev, 0, 2), 100);
  t.equal(mmioRead32(s.dev, REG.InterruptStatus) & 2, 2);
  t.not(mmioRead32(s.dev, REG.ConfigGeneration), gen);
});

t.test('save/restore keeps pending input', async (t) => {
  const s = setup();
  s.con.enqueueInput(Buffer.from('zz'));
  const c2 = new VirtioConsole({ output: () => {} });
  c2.restore(JSON.parse(JSON.stringify(s.con.save())));
  t.same(c2.save(), s.con.save());
});

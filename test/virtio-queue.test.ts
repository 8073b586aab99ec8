import t from 'tap';
import { SplitQueue, vringNeedEvent } from '../src/devices/virtio/queue/split-queue';
import { DriverQueue, F_INDIRECT, F_NEXT, F_WRITE, GuestAllocator, makeMemory } from './virtio-driver';

function setup(size = 8, eventIdx = false) {
  const mem = makeMemory();
  const alloc = new GuestAllocator(0x10000, mem.size);
  const errors: string[] = [];
  const dq = new DriverQueue(mem, alloc, size);
  const q = new SplitQueue(256, mem, (e) => errors.push(e));
  q.size = size;
  q.descAddr = dq.descAddr;
  q.driverAddr = dq.availAddr;
  q.deviceAddr = dq.usedAddr;
  const err = q.enable(eventIdx);
  if (err) throw new Error(err);
  return { mem, alloc, errors, dq, q };
}

t.test('a chain yields readable then writable views over guest memory', async (t) => {
  const { mem, alloc, dq, q } = setup();
  const a = alloc.alloc(10), b = alloc.alloc(20), c = alloc.alloc(30);
  mem.write(a, new Uint8Array(10).fill(1));
  const head = dq.add([{ addr: a, len: 10 }, { addr: b, len: 20 }, { addr: c, len: 30, write: true }]);
  const chain = q.pop();
  t.ok(chain);
  t.equal(chain!.head, head);
  t.equal(chain!.readableLength, 30);
  t.equal(chain!.writableLength, 30);
  chain!.writeFrom(Uint8Array.of(9, 8, 7), 28);
  t.same([...mem.read(c + 28, 2)], [9, 8]);
  t.equal(q.pop(), undefined);
  q.pushUsed(chain!.head, 30);
  t.same(dq.takeUsed(), [[head, 30]]);
});

t.test('indirect tables are followed; nested indirect is an error', async (t) => {
  const { mem, alloc, dq, q, errors } = setup();
  const table = alloc.alloc(64);
  const buf = alloc.alloc(8);
  const head = dq.buildIndirect(table, [{ addr: buf, len: 4 }, { addr: buf + 4, len: 4, write: true }]);
  dq.publish(head);
  const c = q.pop();
  t.equal(c?.readableLength, 4);
  t.equal(c?.writableLength, 4);
  const t2 = alloc.alloc(32);
  dq.writeDesc(table, 0, t2, 16, F_INDIRECT, 0);
  dq.publish(head);
  t.equal(q.pop(), undefined);
  t.match(errors[0], /indirect descriptor inside an indirect table/);
  t.ok(q.isBroken);
  void mem;
});

t.test('hostile chains break the queue once and never throw', async (t) => {
  const cases: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    ['loop', (s) => { s.dq.writeDesc(s.dq.descAddr, 0, s.alloc.alloc(8), 8, F_NEXT, 1); s.dq.writeDesc(s.dq.descAddr, 1, s.alloc.alloc(8), 8, F_NEXT, 0); s.dq.publish(0); }, /longer than its table/],
    ['out of range buffer', (s) => s.dq.add([{ addr: s.mem.size - 4, len: 8 }]), /not RAM/],
    ['zero length', (s) => s.dq.add([{ addr: 0x20000, len: 0 }]), /length 0/],
    ['4 GiB length', (s) => s.dq.add([{ addr: 0x20000, len: 0xffffffff }]), /not RAM/],
    ['address above 2^53', (s) => { s.dq.add([{ addr: 0x20000, len: 8 }]); s.mem.writeU64(s.dq.descAddr, 0xffffffffffff0000n); }, /not RAM/],
    ['readable after writable', (s) => s.dq.add([{ addr: 0x20000, len: 8, write: true }, { addr: 0x20010, len: 8 }]), /readable descriptor after/],
    ['avail idx too far ahead', (s) => s.mem.writeU16(s.dq.availAddr + 2, 9), /ahead/],
    ['head past the queue', (s) => s.dq.publish(200), /head 200/],
    ['next past the queue', (s) => { s.dq.writeDesc(s.dq.descAddr, 0, 0x20000, 8, F_NEXT, 77); s.dq.publish(0); }, /index 77/],
    ['indirect with NEXT', (s) => { s.dq.writeDesc(s.dq.descAddr, 0, 0x20000, 16, F_INDIRECT | F_NEXT, 1); s.dq.publish(0); }, /NEXT/],
    ['indirect length not a multiple of 16', (s) => { s.dq.writeDesc(s.dq.descAddr, 0, 0x20000, 20, F_INDIRECT, 0); s.dq.publish(0); }, /multiple of 16/],
    ['indirect table longer than the queue', (s) => { s.dq.writeDesc(s.dq.descAddr, 0, 0x20000, 16 * 9, F_INDIRECT, 0); s.dq.publish(0); }, /multiple of 16/],
    ['indirect table outside RAM', (s) => { s.dq.writeDesc(s.dq.descAddr, 0, s.mem.size - 16, 32, F_INDIRECT, 0); s.dq.publish(0); }, /not RAM/],
    ['loop inside an indirect table', (s) => {
      const tb = s.alloc.alloc(32);
      s.dq.writeDesc(tb, 0, 0x20000, 8, F_NEXT | F_WRITE, 1);
      s.dq.writeDesc(tb, 1, 0x20000, 8, F_NEXT | F_WRITE, 0);
      s.dq.writeDesc(s.dq.descAddr, 0, tb, 32, F_INDIRECT, 0);
      s.dq.publish(0);
    }, /longer than its table/],
  ];
  for (const [name, poison, expected] of cases) {
    const s = setup();
    poison(s);
    t.doesNotThrow(() => { t.equal(s.q.pop(), undefined, name); t.equal(s.q.pop(), undefined); }, name);
    t.equal(s.errors.length, 1, `${name}: reported once`);
    t.match(s.errors[0], expected, name);
  }
});

t.test('an indirect table as long as the queue is accepted (blk with seg_max = size - 2)', async (t) => {
  const { alloc, dq, q, errors } = setup(8);
  const table = alloc.alloc(16 * 8);
  const buf = alloc.alloc(8 * 8);
  const head = dq.buildIndirect(table, Array.from({ length: 8 }, (_, i) => ({ addr: buf + 8 * i, len: 8, write: i > 0 })));
  dq.publish(head);
  const c = q.pop();
  t.same(errors, []);
  t.equal(c?.writableLength, 56);
});

t.test('16-bit indices wrap around', async (t) => {
  const { alloc, dq, q } = setup(4);
  const buf = alloc.alloc(8);
  for (let i = 0; i < 70000; i++) {
    const head = dq.add([{ addr: buf, len: 8, write: true }]);
    const c = q.pop();
    if (!c || c.head !== head) { t.fail(`lost request ${i}`); return; }
    q.pushUsed(c.head, 1);
    dq.takeUsed();
  }
  t.equal(dq.usedIdx(), 70000 & 0xffff);
});

t.test('notification suppression without EVENT_IDX honours NO_INTERRUPT', async (t) => {
  const { alloc, dq, q } = setup();
  dq.add([{ addr: alloc.alloc(8), len: 8, write: true }]);
  q.pushUsed(q.pop()!.head, 0);
  t.ok(q.needsNotification());
  t.notOk(q.needsNotification(), 'nothing new since');
  dq.setAvailFlags(1);
  dq.add([{ addr: alloc.alloc(8), len: 8, write: true }]);
  q.pushUsed(q.pop()!.head, 0);
  t.notOk(q.needsNotification());
});

t.test('EVENT_IDX: used_event decides interrupts; avail_event follows what we took', async (t) => {
  const { alloc, dq, q } = setup(8, true);
  const buf = alloc.alloc(8);
  dq.setUsedEvent(1); // interrupt when the used idx passes 1
  for (let i = 0; i < 3; i++) dq.add([{ addr: buf, len: 8, write: true }]);
  q.pushUsed(q.pop()!.head, 0);
  t.notOk(q.needsNotification(), 'used idx 1 does not pass used_event 1');
  q.pushUsed(q.pop()!.head, 0);
  t.ok(q.needsNotification(), 'used idx 2 passes used_event 1');
  t.equal(dq.availEvent(), 2);
  q.pushUsed(q.pop()!.head, 0);
  t.notOk(q.needsNotification());
  t.equal(dq.availEvent(), 3);
  t.ok(vringNeedEvent(0xffff, 0, 0xfffe), 'wraps');
  t.notOk(vringNeedEvent(5, 3, 2));
});

t.test('enable refuses bad sizes and rings outside RAM', async (t) => {
  const mem = makeMemory();
  const q = new SplitQueue(256, mem, () => {});
  for (const size of [0, 3, 512, 65536]) {
    q.size = size;
    t.match(q.enable(false), /power of two/);
  }
  q.size = 16;
  q.descAddr = mem.size - 16;
  t.match(q.enable(false), /outside guest RAM/);
  q.descAddr = 8;
  t.match(q.enable(false), /misaligned/);
  const big = new SplitQueue(32768, makeMemory(8 * 1024 * 1024), () => {});
  big.size = 32768;
  t.equal(big.enable(false), undefined, '32768 is allowed');
  t.notOk(q.ready);
});

t.test('save and restore carry the indices', async (t) => {
  const { mem, alloc, dq, q } = setup();
  dq.add([{ addr: alloc.alloc(8), len: 8, write: true }]);
  q.pushUsed(q.pop()!.head, 0);
  const s = JSON.parse(JSON.stringify(q.save()));
  const q2 = new SplitQueue(256, mem, () => {});
  t.equal(q2.restore(s), undefined);
  const head = dq.add([{ addr: alloc.alloc(8), len: 8, write: true }]);
  t.equal(q2.pop()?.head, head);
});

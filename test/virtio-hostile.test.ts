/**
 * Every hostile-queue case against every device: the device sets
 * DEVICE_NEEDS_RESET, raises a config-change interrupt, logs once, throws
 * nothing, and its other queues and other devices keep working.
 */
import t from 'tap';
import { VirtioMmioTransport, REG } from '../src/devices/virtio/mmio/virtio-mmio';
import { VirtioDevice } from '../src/devices/virtio/device';
import { VirtioRng } from '../src/devices/virtio/rng/virtio-rng';
import { VirtioBlk } from '../src/devices/virtio/blk/virtio-blk';
import { MemoryBlockBackend } from '../src/devices/virtio/blk/memory-backend';
import { VirtioConsole } from '../src/devices/virtio/console/virtio-console';
import { VirtioNet } from '../src/devices/virtio/net/virtio-net';
import { NetBackend } from '../src/devices/virtio/net/net-backend';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { GuestMemory } from '../src/memory/guest-memory';
import { DriverQueue, F_INDIRECT, F_NEXT, F_WRITE, GuestAllocator, makeMemory, mmioHandshake, mmioRead32, mmioWrite32 } from './virtio-driver';

interface Ctx {
  mem: GuestMemory;
  alloc: GuestAllocator;
  q: DriverQueue;
}

/** A request chain that is well-formed for every device: a 16-byte header, 64 writable bytes. */
function goodChain(c: Ctx): { addr: number; len: number; write?: boolean }[] {
  return [{ addr: c.alloc.alloc(16), len: 16 }, { addr: c.alloc.alloc(64), len: 64, write: true }];
}

const CASES: [string, (c: Ctx) => void][] = [
  ['descriptor loop', (c) => { const b = c.alloc.alloc(16); c.q.writeDesc(c.q.descAddr, 0, b, 16, F_NEXT, 1); c.q.writeDesc(c.q.descAddr, 1, b, 16, F_NEXT | F_WRITE, 0); c.q.publish(0); }],
  ['buffer outside RAM', (c) => c.q.add([{ addr: c.mem.size - 8, len: 16 }])],
  ['zero length', (c) => c.q.add([{ addr: c.alloc.alloc(16), len: 0 }])],
  ['4 GiB length', (c) => c.q.add([{ addr: c.alloc.alloc(16), len: 0xffffffff, write: true }])],
  ['readable after writable', (c) => c.q.add([{ addr: c.alloc.alloc(16), len: 16, write: true }, { addr: c.alloc.alloc(16), len: 16 }])],
  ['avail idx ahead by more than the queue size', (c) => c.mem.writeU16(c.q.availAddr + 2, c.q.size + 1)],
  ['indirect inside indirect', (c) => {
    const inner = c.alloc.alloc(16);
    const outer = c.alloc.alloc(16);
    c.q.writeDesc(outer, 0, inner, 16, F_INDIRECT, 0);
    c.q.writeDesc(c.q.descAddr, 0, outer, 16, F_INDIRECT, 0);
    c.q.publish(0);
  }],
  ['indirect table outside RAM', (c) => { c.q.writeDesc(c.q.descAddr, 0, c.mem.size, 64, F_INDIRECT, 0); c.q.publish(0); }],
];

class NullNet implements NetBackend {
  readonly vnetHeader = false;
  readonly offloads = 0n;
  sent = 0;
  handler: ((p: Uint8Array) => void) | undefined;
  send(p: Uint8Array[]): void { this.sent += p.length; }
  onReceive(h: (p: Uint8Array) => void): void { this.handler = h; }
  pauseReceive(): void {}
  resumeReceive(): void {}
  close(): void {}
}

interface DeviceUnderTest {
  name: string;
  make(): { device: VirtioDevice; otherQueueWorks?: (rx: DriverQueue, c: Ctx, dev: VirtioMmioTransport) => boolean; settle?: () => Promise<void> };
  queues: number;
  poisoned: number;
}

const DEVICES: DeviceUnderTest[] = [
  { name: 'rng', queues: 1, poisoned: 0, make: () => ({ device: new VirtioRng() }) },
  {
    name: 'blk', queues: 1, poisoned: 0, make: () => {
      const blk = new VirtioBlk({ backend: new MemoryBlockBackend(64 * 1024) });
      return { device: blk, settle: () => blk.drain() };
    },
  },
  {
    name: 'console', queues: 2, poisoned: 1, make: () => {
      const con = new VirtioConsole({ output: () => {} });
      return {
        device: con,
        otherQueueWorks: (rx, c, dev) => {
          rx.add([{ addr: c.alloc.alloc(8), len: 8, write: true }]);
          mmioWrite32(dev, REG.QueueNotify, 0);
          con.enqueueInput(Uint8Array.of(1, 2));
          return rx.takeUsed().length === 1;
        },
      };
    },
  },
  {
    name: 'net', queues: 2, poisoned: 1, make: () => {
      const backend = new NullNet();
      return {
        device: new VirtioNet({ backend, mac: Uint8Array.of(2, 0, 0, 0, 0, 1) }),
        otherQueueWorks: (rx, c, dev) => {
          rx.add([{ addr: c.alloc.alloc(2048), len: 2048, write: true }]);
          mmioWrite32(dev, REG.QueueNotify, 0);
          backend.handler!(new Uint8Array(60));
          return rx.takeUsed().length === 1;
        },
      };
    },
  },
];

for (const d of DEVICES) {
  t.test(`virtio-${d.name} under hostile queues`, async (t) => {
    for (const [caseName, poison] of CASES) {
      const mem = makeMemory(1024 * 1024);
      const alloc = new GuestAllocator(0x10000, mem.size);
      const irq = new RecordingLine();
      const log = memoryLogger();
      const made = d.make();
      const dev = new VirtioMmioTransport({ device: made.device, memory: mem, irq, log });
      const queues = mmioHandshake(dev, mem, alloc, { queueSizes: new Array<number>(d.queues).fill(16) });
      const q = queues[d.poisoned];
      const c: Ctx = { mem, alloc, q };
      poison(c);
      t.doesNotThrow(() => mmioWrite32(dev, REG.QueueNotify, d.poisoned), `${caseName}: no throw`);
      // A good request after the bad one is not served: the queue is broken until reset.
      q.add(goodChain(c));
      t.doesNotThrow(() => mmioWrite32(dev, REG.QueueNotify, d.poisoned));
      await made.settle?.();
      t.ok(mmioRead32(dev, REG.Status) & 0x40, `${caseName}: DEVICE_NEEDS_RESET`);
      t.ok(mmioRead32(dev, REG.InterruptStatus) & 2, `${caseName}: config-change interrupt`);
      t.equal(log.lines.filter((l) => l.startsWith('warn')).length, 1, `${caseName}: logged once`);
      if (made.otherQueueWorks) {
        t.ok(made.otherQueueWorks(queues[1 - d.poisoned], c, dev), `${caseName}: the other queue still works`);
      }
      // Reset brings the device back.
      const fresh = mmioHandshake(dev, mem, alloc, { queueSizes: new Array<number>(d.queues).fill(16) });
      fresh[d.poisoned].add(goodChain(c));
      mmioWrite32(dev, REG.QueueNotify, d.poisoned);
      await made.settle?.();
      t.equal(mmioRead32(dev, REG.Status) & 0x40, 0, `${caseName}: reset clears NEEDS_RESET`);
      t.equal(fresh[d.poisoned].takeUsed().length, 1, `${caseName}: serves requests after reset`);
    }
  });
}

t.test('a broken device does not disturb its neighbour', async (t) => {
  const mem = makeMemory(1024 * 1024);
  const alloc = new GuestAllocator(0x10000, mem.size);
  const bad = new VirtioMmioTransport({ device: new VirtioRng(), memory: mem, irq: new RecordingLine(), log: memoryLogger() });
  const good = new VirtioMmioTransport({ device: new VirtioRng(), memory: mem, irq: new RecordingLine(), log: memoryLogger() });
  const [bq] = mmioHandshake(bad, mem, alloc, { queueSizes: [16] });
  const [gq] = mmioHandshake(good, mem, alloc, { queueSizes: [16] });
  bq.add([{ addr: mem.size, len: 8, write: true }]);
  mmioWrite32(bad, REG.QueueNotify, 0);
  gq.add([{ addr: alloc.alloc(8), len: 8, write: true }]);
  mmioWrite32(good, REG.QueueNotify, 0);
  t.equal(gq.takeUsed().length, 1);
  t.equal(mmioRead32(good, REG.Status), 15);
});

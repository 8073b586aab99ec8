import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { VirtioMmioTransport, REG } from '../src/devices/virtio/mmio/virtio-mmio';
import { VirtioBlk } from '../src/devices/virtio/blk/virtio-blk';
import { BlockBackend, FileBlockBackend } from '../src/devices/virtio/blk/block-backend';
import { ImageLockError } from '../src/devices/virtio/blk/image-lock';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { DriverQueue, GuestAllocator, makeMemory, mmioDeviceFeatures, mmioHandshake, mmioReadConfig, mmioWrite32 } from './virtio-driver';
import { GuestMemory } from '../src/memory/guest-memory';

const SECTORS = 64;

function tempImage(t: { teardown(fn: () => void): void }, fill?: (b: Uint8Array) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-blk-'));
  const file = path.join(dir, 'disk.img');
  const bytes = new Uint8Array(SECTORS * 512);
  fill?.(bytes);
  fs.writeFileSync(file, bytes);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return file;
}

/** Records the order of backend operations, to check that FLUSH syncs after earlier writes. */
class RecordingBackend implements BlockBackend {
  events: string[] = [];
  constructor(private readonly inner: BlockBackend) {}
  get size(): number { return this.inner.size; }
  get readOnly(): boolean { return this.inner.readOnly; }
  read(b: Uint8Array[], p: number): Promise<void> { return this.inner.read(b, p); }
  async write(b: Uint8Array[], p: number): Promise<void> {
    await new Promise((r) => setTimeout(r, 20)); // a slow disk
    await this.inner.write(b, p);
    this.events.push(`write@${p}`);
  }
  async flush(): Promise<void> { this.events.push('fdatasync'); await this.inner.flush(); }
  writeZeroes(p: number, l: number): Promise<void> { return this.inner.writeZeroes(p, l); }
  discard(p: number, l: number): Promise<void> { return this.inner.discard(p, l); }
  close(): Promise<void> { return this.inner.close(); }
}

interface Rig {
  mem: GuestMemory;
  alloc: GuestAllocator;
  dev: VirtioMmioTransport;
  blk: VirtioBlk;
  q: DriverQueue;
  irq: RecordingLine;
}

function rig(backend: BlockBackend, serial = 'tsvisor-disk-0001'): Rig {
  const mem = makeMemory();
  const alloc = new GuestAllocator(0x10000, mem.size);
  const irq = new RecordingLine();
  const blk = new VirtioBlk({ backend, serial, queueSize: 64 });
  const dev = new VirtioMmioTransport({ device: blk, memory: mem, irq, log: memoryLogger() });
  const [q] = mmioHandshake(dev, mem, alloc, { queueSizes: [64] });
  return { mem, alloc, dev, blk, q, irq };
}

/** Submits one request and returns [status, usedLen, dataAddr]. */
async function request(r: Rig, type: number, sector: number, opts: { out?: Uint8Array; inLen?: number } = {}): Promise<{ status: number; len: number; data: number }> {
  const hdr = r.alloc.alloc(16);
  r.mem.writeU32(hdr, type);
  r.mem.writeU64(hdr + 8, BigInt(sector));
  const segs = [{ addr: hdr, len: 16 }];
  let data = 0;
  if (opts.out) {
    data = r.alloc.alloc(opts.out.length);
    r.mem.write(data, opts.out);
    segs.push({ addr: data, len: opts.out.length });
  }
  if (opts.inLen) {
    data = r.alloc.alloc(opts.inLen);
    segs.push({ addr: data, len: opts.inLen, write: true } as { addr: number; len: number });
  }
  const st = r.alloc.alloc(1);
  r.mem.writeU8(st, 0xff);
  segs.push({ addr: st, len: 1, write: true } as { addr: number; len: number });
  const head = r.q.add(segs);
  mmioWrite32(r.dev, REG.QueueNotify, 0);
  await r.blk.drain();
  const used = r.q.takeUsed();
  if (used.length !== 1 || used[0][0] !== head) throw new Error(`unexpected used ring ${JSON.stringify(used)}`);
  return { status: r.mem.readU8(st), len: used[0][1], data };
}

t.test('config space: capacity, blk_size, seg_max, features', async (t) => {
  const backend = await FileBlockBackend.open(tempImage(t));
  t.teardown(() => backend.close());
  const r = rig(backend);
  t.equal(mmioReadConfig(r.dev, 0, 8), SECTORS);
  t.equal(mmioReadConfig(r.dev, 0x14, 4), 512);
  t.equal(mmioReadConfig(r.dev, 0x0c, 4), 62);
  const f = mmioDeviceFeatures(r.dev);
  for (const bit of [9n, 6n, 2n, 13n, 14n, 32n]) t.ok(f & (1n << bit), `feature ${bit}`);
  t.notOk(f & (1n << 5n), 'not read-only');
});

t.test('write then read sectors; the file holds the written bytes', async (t) => {
  const file = tempImage(t);
  const backend = await FileBlockBackend.open(file);
  t.teardown(() => backend.close());
  const r = rig(backend);
  const payload = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
  const w = await request(r, 1, 3, { out: payload });
  t.equal(w.status, 0);
  t.equal(w.len, 1);
  t.same([...fs.readFileSync(file).subarray(3 * 512, 5 * 512)], [...payload]);
  const rd = await request(r, 0, 3, { inLen: 1024 });
  t.equal(rd.status, 0);
  t.equal(rd.len, 1025);
  t.same([...r.mem.read(rd.data, 1024)], [...payload]);
  t.ok(r.irq.level, 'completion interrupt');
});

t.test('out-of-range sectors and partial sectors are IOERR', async (t) => {
  const backend = await FileBlockBackend.open(tempImage(t));
  t.teardown(() => backend.close());
  const r = rig(backend);
  t.equal((await request(r, 0, SECTORS, { inLen: 512 })).status, 1);
  t.equal((await request(r, 0, SECTORS - 1, { inLen: 1024 })).status, 1);
  t.equal((await request(r, 1, 2 ** 60, { out: new Uint8Array(512) })).status, 1);
  t.equal((await request(r, 0, 0, { inLen: 100 })).status, 1);
  t.equal((await request(r, 0, SECTORS - 1, { inLen: 512 })).status, 0);
});

t.test('unknown request types are UNSUPP; GET_ID returns the serial', async (t) => {
  const backend = await FileBlockBackend.open(tempImage(t));
  t.teardown(() => backend.close());
  const r = rig(backend);
  t.equal((await request(r, 99, 0, { inLen: 512 })).status, 2);
  const id = await request(r, 8, 0, { inLen: 20 });
  t.equal(id.status, 0);
  t.equal(id.len, 21);
  t.equal(Buffer.from(r.mem.read(id.data, 20)).toString('latin1').replace(/\0+$/, ''), 'tsvisor-disk-0001');
});

t.test('FLUSH syncs after the writes submitted before it', async (t) => {
  const file = tempImage(t);
  const backend = new RecordingBackend(await FileBlockBackend.open(file));
  t.teardown(() => backend.close());
  const r = rig(backend);
  // Two writes and a flush in one notify; the writes are slow.
  const mk = (type: number, sector: number, out?: Uint8Array) => {
    const hdr = r.alloc.alloc(16);
    r.mem.writeU32(hdr, type);
    r.mem.writeU64(hdr + 8, BigInt(sector));
    const st = r.alloc.alloc(1);
    const segs = [{ addr: hdr, len: 16 }];
    if (out) { const d = r.alloc.alloc(out.length); r.mem.write(d, out); segs.push({ addr: d, len: out.length }); }
    segs.push({ addr: st, len: 1, write: true } as { addr: number; len: number });
    r.q.add(segs);
    return st;
  };
  mk(1, 0, new Uint8Array(512).fill(1));
  mk(1, 1, new Uint8Array(512).fill(2));
  const flushStatus = mk(4, 0);
  mmioWrite32(r.dev, REG.QueueNotify, 0);
  await r.blk.drain();
  // The two writes run concurrently and may finish in either order (virtio allows that);
  // what a flush promises is that it syncs only after both.
  t.same(backend.events.slice(0, 2).sort(), ['write@0', 'write@512'], 'both writes finished');
  t.equal(backend.events[2], 'fdatasync', 'then the sync');
  t.equal(backend.events.length, 3);
  t.equal(r.mem.readU8(flushStatus), 0);
  t.equal(r.q.takeUsed().length, 3);
});

t.test('DISCARD and WRITE_ZEROES zero the range; bad flags are UNSUPP', async (t) => {
  const file = tempImage(t, (b) => b.fill(0xaa));
  const backend = await FileBlockBackend.open(file);
  t.teardown(() => backend.close());
  const r = rig(backend);
  const seg = (sector: number, n: number, flags: number) => {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(sector), true);
    v.setUint32(8, n, true);
    v.setUint32(12, flags, true);
    return b;
  };
  t.equal((await request(r, 13, 0, { out: seg(2, 2, 0) })).status, 0);
  t.equal((await request(r, 11, 0, { out: seg(10, 1, 0) })).status, 0);
  const img = fs.readFileSync(file);
  t.ok(img.subarray(1024, 2048).every((b) => b === 0), 'write-zeroes range is zero');
  t.ok(img.subarray(10 * 512, 11 * 512).every((b) => b === 0), 'discarded range reads zero');
  t.equal(img[512], 0xaa, 'neighbours untouched');
  t.equal(img[2048], 0xaa);
  t.equal((await request(r, 11, 0, { out: seg(0, 1, 1) })).status, 2, 'unmap flag on discard');
  t.equal((await request(r, 13, 0, { out: seg(0, 1, 4) })).status, 2, 'unknown write-zeroes flag');
  t.equal((await request(r, 13, 0, { out: seg(SECTORS, 1, 0) })).status, 1, 'out of range');
});

t.test('a read-only disk offers RO and refuses writes with IOERR', async (t) => {
  const file = tempImage(t, (b) => b.fill(0x55));
  const backend = await FileBlockBackend.open(file, { readOnly: true });
  t.teardown(() => backend.close());
  const r = rig(backend);
  t.ok(mmioDeviceFeatures(r.dev) & (1n << 5n));
  t.equal((await request(r, 1, 0, { out: new Uint8Array(512) })).status, 1);
  t.equal(fs.readFileSync(file)[0], 0x55);
  t.equal((await request(r, 0, 0, { inLen: 512 })).status, 0);
  t.equal((await request(r, 4, 0)).status, 0, 'flush is harmless');
});

t.test('a request without room for a status byte completes with length 0', async (t) => {
  const backend = await FileBlockBackend.open(tempImage(t));
  t.teardown(() => backend.close());
  const r = rig(backend);
  const hdr = r.alloc.alloc(16);
  const head = r.q.add([{ addr: hdr, len: 16 }]);
  mmioWrite32(r.dev, REG.QueueNotify, 0);
  await r.blk.drain();
  t.same(r.q.takeUsed(), [[head, 0]]);
});

t.test('a second writer in this process is refused; the lock goes with close()', async (t) => {
  const file = tempImage(t);
  const a = await FileBlockBackend.open(file);
  await t.rejects(FileBlockBackend.open(file), ImageLockError);
  await a.close();
  const b = await FileBlockBackend.open(file);
  await b.close();
});

t.test('a second tsvisor process opening the image read-write fails with a clear error', async (t) => {
  const file = tempImage(t);
  const a = await FileBlockBackend.open(file);
  t.teardown(() => a.close());
  const modulePath = require.resolve('../src/devices/virtio/blk/block-backend');
  const script = `require(${JSON.stringify(modulePath)}).FileBlockBackend.open(process.argv[1]).then(() => console.log('opened'), (e) => console.log(e.name + ': ' + e.message));`;
  const msg = await new Promise<string>((resolve) => execFile(process.execPath, ['-e', script, file], (_e, out) => resolve(out)));
  t.match(msg, new RegExp(`ImageLockError: disk image .* is in use by process ${process.pid} \\(.*\\): failed to get "write" lock; refusing to open it read-write`));
});

t.test('requests in flight across a reset do not touch the new rings', async (t) => {
  const backend = new RecordingBackend(await FileBlockBackend.open(tempImage(t)));
  t.teardown(() => backend.close());
  const r = rig(backend);
  const hdr = r.alloc.alloc(16);
  r.mem.writeU32(hdr, 1);
  const d = r.alloc.alloc(512);
  const st = r.alloc.alloc(1);
  r.q.add([{ addr: hdr, len: 16 }, { addr: d, len: 512 }, { addr: st, len: 1, write: true }]);
  mmioWrite32(r.dev, REG.QueueNotify, 0);
  mmioWrite32(r.dev, REG.Status, 0);
  await r.blk.drain();
  t.equal(r.q.usedIdx(), 0, 'nothing completed after the reset');
});

t.test('openVirtioBlk opens and locks an image; close releases it', async (t) => {
  const { openVirtioBlk } = await import('../src/devices/virtio/attach');
  const file = tempImage(t);
  const blk = await openVirtioBlk(file, { serial: 'x' });
  t.equal(blk.capacitySectors, SECTORS);
  await t.rejects(openVirtioBlk(file), /in use by process \d+ .*failed to get "write" lock/, 'a second open in this process conflicts like another process');
  await blk.close();
  const again = await openVirtioBlk(file);
  await again.close();
});

t.test('multi-queue: MQ feature, num_queues, requests on the second queue', async (t) => {
  const { MemoryBlockBackend } = await import('../src/devices/virtio/blk/memory-backend');
  const mem = makeMemory();
  const alloc = new GuestAllocator(0x10000, mem.size);
  const blk = new VirtioBlk({ backend: new MemoryBlockBackend(SECTORS * 512), queues: 2, queueSize: 64 });
  const dev = new VirtioMmioTransport({ device: blk, memory: mem, irq: new RecordingLine(), log: memoryLogger() });
  t.ok(mmioDeviceFeatures(dev) & (1n << 12n));
  t.equal(mmioReadConfig(dev, 0x22, 2), 2);
  const [, q1] = mmioHandshake(dev, mem, alloc, { queueSizes: [64, 64] });
  const hdr = alloc.alloc(16);
  mem.writeU32(hdr, 8);
  const id = alloc.alloc(20), st = alloc.alloc(1);
  const head = q1.add([{ addr: hdr, len: 16 }, { addr: id, len: 20, write: true }, { addr: st, len: 1, write: true }]);
  mmioWrite32(dev, REG.QueueNotify, 1);
  await blk.drain();
  t.same(q1.takeUsed(), [[head, 21]]);
});

t.test('a read larger than 64 MiB (the same guest buffer repeated) is IOERR without allocating it', async (t) => {
  const { MemoryBlockBackend } = await import('../src/devices/virtio/blk/memory-backend');
  const r = rig(new MemoryBlockBackend(1024 * 1024 * 1024 / 8));
  const hdr = r.alloc.alloc(16);
  r.mem.writeU32(hdr, 0);
  const big = r.alloc.alloc(0x180000);
  const st = r.alloc.alloc(1);
  const segs = [{ addr: hdr, len: 16 }, ...Array.from({ length: 60 }, () => ({ addr: big, len: 0x180000, write: true })), { addr: st, len: 1, write: true }];
  r.q.add(segs);
  mmioWrite32(r.dev, REG.QueueNotify, 0);
  await r.blk.drain();
  t.equal(r.mem.readU8(st), 1);
});

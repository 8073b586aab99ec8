/**
 * Random descriptor tables, rings and register writes against every virtio
 * device behind the MMIO transport, plus random configuration and BAR
 * accesses against virtio-pci. Counts crashes: exceptions that escape a
 * transport call, and uncaught exceptions or rejections from asynchronous
 * completions. A correct device model has none, whatever the guest writes.
 *
 * Usage: scripts/fuzz-virtqueue [iterations] [seed]
 */
import { GuestMemory } from '../src/memory/guest-memory';
import { memoryLogger } from '../src/log';
import { MmioDevice } from '../src/devices/bus';
import { VirtioDevice } from '../src/devices/virtio/device';
import { VirtioMmioTransport, REG } from '../src/devices/virtio/mmio/virtio-mmio';
import { VirtioPciTransport } from '../src/devices/virtio/pci/virtio-pci';
import { VirtioRng } from '../src/devices/virtio/rng/virtio-rng';
import { VirtioBlk } from '../src/devices/virtio/blk/virtio-blk';
import { MemoryBlockBackend } from '../src/devices/virtio/blk/memory-backend';
import { VirtioConsole } from '../src/devices/virtio/console/virtio-console';
import { VirtioNet } from '../src/devices/virtio/net/virtio-net';
import { NetBackend } from '../src/devices/virtio/net/net-backend';

const RAM = 256 * 1024;

/** mulberry32: small, seedable, good enough to spread inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class Fuzzer {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** Mostly addresses inside RAM, sometimes at its edges or far outside. */
  address(): number {
    if (this.chance(0.85)) return this.int(RAM);
    return this.pick([RAM - 1, RAM, RAM + 4096, 0xffffffff, 2 ** 40, 0]);
  }
  length(): number {
    if (this.chance(0.8)) return 1 + this.int(2048);
    return this.pick([0, 1, 16, 0xffffffff, 0x80000000, RAM]);
  }
}

class NullNet implements NetBackend {
  readonly vnetHeader: boolean;
  readonly offloads = 0n;
  handler: ((p: Uint8Array) => void) | undefined;
  constructor(vnet: boolean) { this.vnetHeader = vnet; }
  send(): void {}
  onReceive(h: (p: Uint8Array) => void): void { this.handler = h; }
  pauseReceive(): void {}
  resumeReceive(): void {}
  close(): void {}
}

interface Subject {
  device: VirtioDevice;
  input?: (f: Fuzzer) => void;
  settle?: () => Promise<void>;
}

function makeSubject(f: Fuzzer): Subject {
  switch (f.int(4)) {
    case 0: return { device: new VirtioRng() };
    case 1: {
      const blk = new VirtioBlk({ backend: new MemoryBlockBackend(64 * 1024, f.chance(0.2)), serial: 'fuzz' });
      return { device: blk, settle: () => blk.drain() };
    }
    case 2: {
      const con = new VirtioConsole({ output: () => {} });
      return { device: con, input: (g) => { con.enqueueInput(new Uint8Array(g.int(300))); } };
    }
    default: {
      const backend = new NullNet(f.chance(0.5));
      const net = new VirtioNet({ backend, mac: Uint8Array.of(2, 0, 0, 0, 0, 1) });
      return { device: net, input: (g) => backend.handler?.(new Uint8Array(g.int(3000))) };
    }
  }
}

function w32(dev: MmioDevice, offset: number, value: number): void {
  const d = new Uint8Array(4);
  new DataView(d.buffer).setUint32(0, value >>> 0, true);
  dev.mmioWrite(offset, d);
}

interface Ring { size: number; desc: number; avail: number; used: number }

/** The driver handshake with rings that are usually, not always, sensible. */
function setUp(f: Fuzzer, dev: VirtioMmioTransport, queues: number): Ring[] {
  w32(dev, REG.Status, 0);
  w32(dev, REG.Status, 3);
  w32(dev, REG.DriverFeaturesSel, 0);
  w32(dev, REG.DriverFeatures, f.chance(0.9) ? 0xffffffff : f.int(2 ** 32));
  w32(dev, REG.DriverFeaturesSel, 1);
  w32(dev, REG.DriverFeatures, f.chance(0.95) ? 1 : 0);
  w32(dev, REG.Status, 11);
  const rings: Ring[] = [];
  for (let i = 0; i < queues; i++) {
    const size = f.chance(0.95) ? 1 << f.int(7) : f.int(300);
    const base = 0x1000 + i * 0x3000;
    const ring = f.chance(0.9)
      ? { size, desc: base, avail: base + 0x1000, used: base + 0x2000 }
      : { size, desc: f.address(), avail: f.address(), used: f.address() };
    w32(dev, REG.QueueSel, i);
    w32(dev, REG.QueueNum, size);
    w32(dev, REG.QueueDescLow, ring.desc);
    w32(dev, REG.QueueDriverLow, ring.avail);
    w32(dev, REG.QueueDeviceLow, ring.used);
    w32(dev, REG.QueueReady, 1);
    rings.push(ring);
  }
  w32(dev, REG.Status, 15);
  return rings;
}

function write16(mem: GuestMemory, addr: number, v: number): void {
  const view = mem.view(addr, 2);
  if (view) { view[0] = v & 0xff; view[1] = (v >> 8) & 0xff; }
}

function scribbleDescriptor(f: Fuzzer, mem: GuestMemory, table: number, size: number): void {
  const at = mem.view(table + 16 * f.int(Math.max(size, 1)), 16);
  if (!at) return;
  const v = new DataView(at.buffer, at.byteOffset, 16);
  const addr = f.address();
  v.setUint32(0, addr % 2 ** 32, true);
  v.setUint32(4, Math.floor(addr / 2 ** 32), true);
  v.setUint32(8, f.length() >>> 0, true);
  v.setUint16(12, f.chance(0.7) ? f.int(4) : f.int(8), true);
  v.setUint16(14, f.chance(0.9) ? f.int(size + 2) : f.int(65536), true);
}

interface Coverage { usedEntries: number; needsReset: number; runs: number }

async function oneRun(f: Fuzzer, steps: number, crash: (e: unknown) => void, cov: Coverage): Promise<void> {
  const mem = new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(RAM) }]);
  const subject = makeSubject(f);
  const dev = new VirtioMmioTransport({ device: subject.device, memory: mem, irq: { set: () => {} }, log: memoryLogger() });
  const nq = subject.device.queueMaxSizes.length;
  const guard = (fn: () => void): void => { try { fn(); } catch (e) { crash(e); } };
  let rings: Ring[] = [];
  guard(() => { rings = setUp(f, dev, nq); });
  const availIdx = rings.map(() => 0);
  for (let step = 0; step < steps; step++) {
    const qi = f.int(rings.length);
    const ring = rings[qi];
    const action = f.int(100);
    guard(() => {
      if (action < 35) {
        scribbleDescriptor(f, mem, f.chance(0.9) ? ring.desc : f.address(), ring.size);
      } else if (action < 60) {
        const slot = availIdx[qi] % Math.max(ring.size, 1);
        write16(mem, ring.avail + 4 + 2 * slot, f.chance(0.9) ? f.int(Math.max(ring.size, 1)) : f.int(65536));
        availIdx[qi] = (availIdx[qi] + (f.chance(0.95) ? 1 : f.int(65536))) & 0xffff;
        write16(mem, ring.avail + 2, availIdx[qi]);
      } else if (action < 85) {
        w32(dev, REG.QueueNotify, f.chance(0.95) ? qi : f.int(70000));
      } else if (action < 90) {
        subject.input?.(f);
      } else if (action < 94) {
        write16(mem, ring.avail + (f.chance(0.5) ? 0 : 4 + 2 * ring.size), f.int(65536)); // flags / used_event
      } else if (action < 97) {
        const bytes = mem.view(f.int(RAM - 64), 64);
        if (bytes) for (let i = 0; i < 64; i++) bytes[i] = f.int(256);
      } else if (action < 99) {
        const d = new Uint8Array(f.pick([1, 2, 4, 8]));
        for (let i = 0; i < d.length; i++) d[i] = f.int(256);
        const offset = f.int(0x200);
        if (f.chance(0.5)) dev.mmioWrite(offset, d); else dev.mmioRead(offset, d);
      } else {
        rings = setUp(f, dev, nq);
        rings.forEach((_, i) => { availIdx[i] = 0; });
      }
    });
  }
  if (subject.settle) {
    try { await subject.settle(); } catch (e) { crash(e); }
  }
  cov.runs++;
  for (const ring of rings) {
    const used = mem.view(ring.used + 2, 2);
    if (used) cov.usedEntries += used[0] | (used[1] << 8);
  }
  const status = new Uint8Array(4);
  dev.mmioRead(REG.Status, status);
  if (status[0] & 0x40) cov.needsReset++;
}

/** Random configuration-space and BAR accesses against a virtio-pci function. */
function pciRun(f: Fuzzer, steps: number, crash: (e: unknown) => void): void {
  const mem = new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(RAM) }]);
  const pci = new VirtioPciTransport({ device: new VirtioRng(), memory: mem, router: { signalMsi: () => {} }, log: memoryLogger() });
  const bar = pci.barMmio(4)!;
  for (let step = 0; step < steps; step++) {
    try {
      const size = f.pick([1, 2, 4] as const);
      if (f.chance(0.3)) pci.configWrite(f.int(256 - size + 1), size, f.int(2 ** (8 * size)));
      else if (f.chance(0.1)) pci.configRead(f.int(256 - size + 1), size);
      else {
        const d = new Uint8Array(f.pick([1, 2, 4, 8]));
        for (let i = 0; i < d.length; i++) d[i] = f.int(256);
        const offset = f.chance(0.5) ? f.int(0x40) : f.int(0x8000);
        if (f.chance(0.7)) bar.mmioWrite(offset, d); else bar.mmioRead(offset, d);
      }
    } catch (e) {
      crash(e);
    }
  }
}

export interface FuzzResult { iterations: number; crashes: number; firstCrash?: string; coverage: Coverage }

export async function fuzzVirtqueues(iterations: number, seed: number, steps = 200): Promise<FuzzResult> {
  let crashes = 0;
  let firstCrash: string | undefined;
  const crash = (e: unknown): void => {
    crashes++;
    firstCrash ??= e instanceof Error ? e.stack ?? e.message : String(e);
  };
  const onUncaught = (e: unknown): void => crash(e);
  const coverage: Coverage = { usedEntries: 0, needsReset: 0, runs: 0 };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    for (let i = 0; i < iterations; i++) {
      const f = new Fuzzer(seed + i * 0x9e3779b1);
      await oneRun(f, steps, crash, coverage);
      if (i % 8 === 0) pciRun(f, steps, crash);
    }
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  return { iterations, crashes, firstCrash, coverage };
}

export async function main(argv: string[]): Promise<number> {
  const iterations = Number(argv[0] ?? 1000);
  const seed = Number(argv[1] ?? Date.now() % 2 ** 31);
  if (!Number.isInteger(iterations) || iterations < 0 || !Number.isInteger(seed)) {
    process.stderr.write('usage: fuzz-virtqueue [iterations] [seed]\n');
    return 2;
  }
  const started = Date.now();
  const r = await fuzzVirtqueues(iterations, seed);
  process.stdout.write(`fuzz-virtqueue: ${r.iterations} iterations, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s, crashes: ${r.crashes} (used entries ${r.coverage.usedEntries}, runs ending in NEEDS_RESET ${r.coverage.needsReset}/${r.coverage.runs})\n`);
  if (r.firstCrash) process.stdout.write(`first crash:\n${r.firstCrash}\n`);
  return r.crashes === 0 ? 0 : 1;
}

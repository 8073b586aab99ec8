import t from 'tap';
import { IoBus } from '../src/devices/bus';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { PciHost } from '../src/devices/legacy/pci-host';
import { VirtioPciTransport } from '../src/devices/virtio/pci/virtio-pci';
import { VirtioRng } from '../src/devices/virtio/rng/virtio-rng';
import { DriverQueue, GuestAllocator, makeMemory } from './virtio-driver';

const BAR = 0xe0000000;

function setup() {
  const bus = new IoBus(memoryLogger());
  const lines = new Map<number, RecordingLine>();
  const host = new PciHost({ bus, log: memoryLogger(), intx: (gsi) => { const l = new RecordingLine(); lines.set(gsi, l); return l; } });
  host.registerPorts();
  const mem = makeMemory();
  const alloc = new GuestAllocator(0x10000, mem.size);
  const msis: [number, number][] = [];
  const log = memoryLogger();
  const transport = new VirtioPciTransport({ device: new VirtioRng(), memory: mem, router: { signalMsi: (a, d) => msis.push([a, d]) }, log });
  const slot = host.addDevice(transport);
  const sel = (off: number) => bus.pioWrite(0xcf8, 4, 0x80000000 | (slot << 11) | (off & 0xfc));
  const cfg = {
    read: (off: number, size: 1 | 2 | 4) => { sel(off); return bus.pioRead(0xcfc + (off & 3), size); },
    write: (off: number, size: 1 | 2 | 4, v: number) => { sel(off); bus.pioWrite(0xcfc + (off & 3), size, v); },
  };
  const mmio = {
    read: (addr: number, size: number) => { const d = new Uint8Array(size); bus.mmioRead(addr, d); let v = 0; for (let i = size - 1; i >= 0; i--) v = v * 256 + d[i]; return v; },
    write: (addr: number, size: number, v: number) => { const d = new Uint8Array(size); let x = v; for (let i = 0; i < size; i++) { d[i] = x % 256; x = Math.floor(x / 256); } bus.mmioWrite(addr, d); },
  };
  return { bus, host, lines, mem, alloc, msis, transport, slot, cfg, mmio, log };
}

/** What Linux's virtio_pci_modern probe does: find the caps, place BAR 4, handshake, set up queue 0. */
function probe(s: ReturnType<typeof setup>, useMsix: boolean) {
  const { cfg, mmio } = s;
  const caps = new Map<number, { bar: number; offset: number; length: number; at: number }>();
  let msixCap = 0;
  for (let p = cfg.read(0x34, 1); p; p = cfg.read(p + 1, 1)) {
    const id = cfg.read(p, 1);
    if (id === 0x09) caps.set(cfg.read(p + 3, 1), { bar: cfg.read(p + 4, 1), offset: cfg.read(p + 8, 4), length: cfg.read(p + 12, 4), at: p });
    if (id === 0x11) msixCap = p;
  }
  // Size and place BAR 4 (64-bit) with decoding off, as Linux does.
  cfg.write(0x04, 2, 0);
  cfg.write(0x20, 4, 0xffffffff);
  cfg.write(0x24, 4, 0xffffffff);
  const size = (~(cfg.read(0x20, 4) & ~0xf) >>> 0) + 1;
  cfg.write(0x20, 4, BAR);
  cfg.write(0x24, 4, 0);
  cfg.write(0x04, 2, 0x6);
  const common = BAR + caps.get(1)!.offset;
  const notify = caps.get(2)!;
  const multiplier = cfg.read(notify.at + 16, 4);
  if (useMsix) {
    const tableWord = cfg.read(msixCap + 4, 4);
    const table = BAR + (tableWord & ~7);
    for (let v = 0; v < 2; v++) {
      mmio.write(table + 16 * v, 4, 0xfee00000 + v * 0x1000);
      mmio.write(table + 16 * v + 4, 4, 0);
      mmio.write(table + 16 * v + 8, 4, 0x40 + v);
      mmio.write(table + 16 * v + 12, 4, 0);
    }
    cfg.write(msixCap + 2, 2, 0x8000);
  }
  mmio.write(common + 0x14, 1, 0);
  mmio.write(common + 0x14, 1, 1);
  mmio.write(common + 0x14, 1, 3);
  mmio.write(common + 0x08, 4, 1);
  mmio.write(common + 0x0c, 4, 1); // VERSION_1
  mmio.write(common + 0x14, 1, 11);
  const status = mmio.read(common + 0x14, 1);
  if (useMsix) {
    mmio.write(common + 0x10, 2, 0);
  }
  mmio.write(common + 0x16, 2, 0);
  const qsize = mmio.read(common + 0x18, 2);
  const q = new DriverQueue(s.mem, s.alloc, 64);
  mmio.write(common + 0x18, 2, 64);
  mmio.write(common + 0x20, 8, q.descAddr);
  mmio.write(common + 0x28, 4, q.availAddr);
  mmio.write(common + 0x2c, 4, 0);
  mmio.write(common + 0x30, 8, q.usedAddr);
  if (useMsix) mmio.write(common + 0x1a, 2, 1);
  const vectorReadback = mmio.read(common + 0x1a, 2);
  const notifyOff = mmio.read(common + 0x1e, 2);
  mmio.write(common + 0x1c, 2, 1);
  mmio.write(common + 0x14, 1, 15);
  return { caps, size, status, qsize, q, common, doorbell: BAR + notify.offset + notifyOff * multiplier, isr: BAR + caps.get(3)!.offset, vectorReadback, msixCap };
}

t.test('a virtio-pci entropy function as a PCI scan sees it', async (t) => {
  const s = setup();
  t.equal(s.cfg.read(0, 2), 0x1af4);
  t.equal(s.cfg.read(2, 2), 0x1044);
  t.equal(s.cfg.read(8, 1), 1, 'revision 1 (modern)');
  t.equal(s.cfg.read(0x2c, 2), 0x1af4);
  t.ok(s.cfg.read(0x2e, 2) >= 0x40, 'subsystem id');
  t.equal(s.cfg.read(0x3d, 1), 1, 'INTA');
});

t.test('probe with MSI-X: caps, BAR sizing, queue setup, notify, MSI', async (t) => {
  const s = setup();
  const p = probe(s, true);
  t.same([...p.caps.keys()].sort(), [1, 2, 3, 4, 5]);
  for (const c of [1, 2, 3, 4]) t.equal(p.caps.get(c)!.bar, 4, `cap ${c} in BAR 4`);
  t.equal(p.size, 0x8000);
  t.equal(p.status & 8, 8, 'FEATURES_OK');
  t.equal(p.qsize, 256);
  t.equal(p.vectorReadback, 1);
  t.equal(s.mmio.read(p.common + 0x14, 1), 15);
  t.equal(s.mmio.read(p.common + 0x12, 2), 1, 'num_queues');
  const buf = s.alloc.alloc(32);
  const head = p.q.add([{ addr: buf, len: 32, write: true }]);
  s.mmio.write(p.doorbell, 2, 0);
  t.same(p.q.takeUsed(), [[head, 32]]);
  t.same(s.msis, [[0xfee01000, 0x41]], 'queue vector 1 fired');
  t.same([...s.lines.values()].map((l) => l.edges), [0], 'no INTx with MSI-X');
});

t.test('masked vectors go pending and fire on unmask; function mask too', async (t) => {
  const s = setup();
  const p = probe(s, true);
  const table = BAR + 0x4000;
  s.mmio.write(table + 16 + 12, 4, 1); // mask vector 1
  p.q.add([{ addr: s.alloc.alloc(8), len: 8, write: true }]);
  s.mmio.write(p.doorbell, 2, 0);
  t.same(s.msis, []);
  t.equal(s.mmio.read(BAR + 0x5000, 4), 0b10, 'pending bit');
  s.mmio.write(table + 16 + 12, 4, 0);
  t.same(s.msis, [[0xfee01000, 0x41]]);
  t.equal(s.mmio.read(BAR + 0x5000, 4), 0);
  s.cfg.write(p.msixCap + 2, 2, 0xc000);
  p.q.add([{ addr: s.alloc.alloc(8), len: 8, write: true }]);
  s.mmio.write(p.doorbell, 2, 0);
  t.equal(s.msis.length, 1, 'function masked');
  s.cfg.write(p.msixCap + 2, 2, 0x8000);
  t.equal(s.msis.length, 2, 'delivered on function unmask');
});

t.test('a vector beyond the table reads back as NO_VECTOR', async (t) => {
  const s = setup();
  const p = probe(s, true);
  s.mmio.write(p.common + 0x10, 2, 7);
  t.equal(s.mmio.read(p.common + 0x10, 2), 0xffff);
});

t.test('INTx fallback without MSI-X: ISR read-to-clear lowers the line', async (t) => {
  const s = setup();
  const p = probe(s, false);
  p.q.add([{ addr: s.alloc.alloc(8), len: 8, write: true }]);
  s.mmio.write(p.doorbell, 2, 0);
  const line = [...s.lines.values()][0];
  t.ok(line.level, 'INTx asserted');
  t.equal(s.mmio.read(p.isr, 1), 1);
  t.notOk(line.level, 'ISR read deasserts');
  t.equal(s.mmio.read(p.isr, 1), 0, 'and clears');
  t.same(s.msis, []);
});

t.test('the PCI configuration access capability reaches BAR 4', async (t) => {
  const s = setup();
  const p = probe(s, true);
  const at = p.caps.get(5)!.at;
  s.cfg.write(at + 4, 1, 4);
  s.cfg.write(at + 8, 4, 0x12); // num_queues
  s.cfg.write(at + 12, 4, 2);
  t.equal(s.cfg.read(at + 16, 4) & 0xffff, 1);
  s.cfg.write(at + 8, 4, 0x14); // device_status
  s.cfg.write(at + 12, 4, 1);
  t.equal(s.cfg.read(at + 16, 4) & 0xff, 15);
});

t.test('device reset through COMMON_CFG clears vectors and queues', async (t) => {
  const s = setup();
  const p = probe(s, true);
  s.mmio.write(p.common + 0x14, 1, 0);
  t.equal(s.mmio.read(p.common + 0x14, 1), 0);
  t.equal(s.mmio.read(p.common + 0x10, 2), 0xffff);
  t.equal(s.mmio.read(p.common + 0x1c, 2), 0);
});

t.test('hostile ring through PCI: NEEDS_RESET and a config MSI, nothing thrown', async (t) => {
  const s = setup();
  const p = probe(s, true);
  p.q.add([{ addr: s.mem.size + 0x1000, len: 8, write: true }]);
  t.doesNotThrow(() => s.mmio.write(p.doorbell, 2, 0));
  t.ok(s.mmio.read(p.common + 0x14, 1) & 0x40);
  t.same(s.msis, [[0xfee00000, 0x40]], 'config vector 0 fired');
});

t.test('save/restore of a virtio-pci function, BARs re-mapped by the host', async (t) => {
  const s = setup();
  const p = probe(s, true);
  const state = JSON.parse(JSON.stringify(s.transport.save()));
  const bus = new IoBus(memoryLogger());
  const host = new PciHost({ bus, log: memoryLogger(), intx: () => new RecordingLine() });
  const msis: [number, number][] = [];
  const t2 = new VirtioPciTransport({ device: new VirtioRng(), memory: s.mem, router: { signalMsi: (a, d) => msis.push([a, d]) } });
  host.addDevice(t2, s.slot);
  t2.restore(state);
  host.syncAllBars();
  t.same(bus.mmioMappings().map((m) => m.base), [BAR]);
  p.q.add([{ addr: s.alloc.alloc(8), len: 8, write: true }]);
  bus.mmioWrite(p.doorbell, Uint8Array.of(0, 0));
  t.equal(p.q.takeUsed().length, 1);
  t.same(msis, [[0xfee01000, 0x41]]);
});

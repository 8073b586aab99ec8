import t from 'tap';
import { IoBus, MmioDevice } from '../src/devices/bus';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';
import { PciHost } from '../src/devices/legacy/pci-host';
import { PciConfigSpace } from '../src/devices/legacy/pci-config-space';
import { PciDevice } from '../src/devices/legacy/pci-device';
import { pciIntxGsi, pciRoutingTable } from '../src/devices/legacy/pci-irq-routing';

class TestFunction implements PciDevice {
  readonly config = new PciConfigSpace({ vendorId: 0x1234, deviceId: 0x5678, classCode: 0x020000, interruptPin: 1 });
  reads: number[] = [];
  readonly bar0: MmioDevice = { mmioRead: (o, d) => { this.reads.push(o); d.fill(0xab); }, mmioWrite: () => {} };
  constructor() {
    this.config.defineBar(0, { kind: 'mem32', size: 0x1000 });
    this.config.defineBar(2, { kind: 'mem64', size: 0x4000, prefetchable: true });
    this.config.defineBar(4, { kind: 'io', size: 0x20 });
    const cap = this.config.addCapability(0x05, 8);
    this.config.set8(cap + 2, 0x42);
    this.config.addCapability(0x09, 4);
  }
  configRead(o: number, s: number): number { return this.config.read(o, s); }
  configWrite(o: number, s: number, v: number): void { this.config.write(o, s, v); }
  barMmio(i: number): MmioDevice | undefined { return i === 0 || i === 2 ? this.bar0 : undefined; }
}

function setup() {
  const bus = new IoBus(memoryLogger());
  const lines = new Map<number, RecordingLine>();
  const log = memoryLogger();
  const host = new PciHost({ bus, log, intx: (gsi) => { const l = new RecordingLine(); lines.set(gsi, l); return l; } });
  host.registerPorts();
  const cfg = {
    read: (slot: number, off: number, size: 1 | 2 | 4) => { bus.pioWrite(0xcf8, 4, 0x80000000 | (slot << 11) | (off & 0xfc)); return bus.pioRead(0xcfc + (off & 3), size); },
    write: (slot: number, off: number, size: 1 | 2 | 4, v: number) => { bus.pioWrite(0xcf8, 4, 0x80000000 | (slot << 11) | (off & 0xfc)); bus.pioWrite(0xcfc + (off & 3), size, v); },
  };
  return { bus, host, lines, cfg, log };
}

t.test('host bridge at 00.0 answers like an i440FX; empty slots read all-ones', async (t) => {
  const { cfg, bus } = setup();
  t.equal(cfg.read(0, 0, 4), 0x12378086);
  t.equal(cfg.read(0, 0x0a, 2), 0x0600);
  t.equal(cfg.read(0, 0x0b, 1), 0x06);
  t.equal(cfg.read(5, 0, 4), 0xffffffff);
  t.equal(cfg.read(5, 0, 2), 0xffff);
  bus.pioWrite(0xcf8, 4, 0x12345678);
  t.equal(bus.pioRead(0xcf8, 4), 0x12345678, 'address register reads back');
  bus.pioWrite(0xcf8, 4, 0); // enable bit clear
  t.equal(bus.pioRead(0xcfc, 4), 0xffffffff);
});

t.test('BAR sizing, placement, relocation and memory enable', async (t) => {
  const { cfg, host, bus } = setup();
  const fn = new TestFunction();
  const slot = host.addDevice(fn);
  t.equal(slot, 1);
  cfg.write(slot, 0x10, 4, 0xffffffff);
  t.equal(cfg.read(slot, 0x10, 4), 0xfffff000, 'mem32 size mask');
  cfg.write(slot, 0x18, 4, 0xffffffff);
  cfg.write(slot, 0x1c, 4, 0xffffffff);
  t.equal(cfg.read(slot, 0x18, 4), 0xffffc00c, '64-bit prefetchable size mask');
  t.equal(cfg.read(slot, 0x1c, 4), 0xffffffff);
  cfg.write(slot, 0x20, 4, 0xffffffff);
  t.equal(cfg.read(slot, 0x20, 4), 0xffffffe1, 'io size mask');
  t.equal(cfg.read(slot, 0x14, 4), 0, 'unimplemented BAR');
  cfg.write(slot, 0x10, 4, 0xfe000000);
  cfg.write(slot, 0x18, 4, 0x00000000);
  cfg.write(slot, 0x1c, 4, 0x1);
  t.equal(bus.mmioMappings().length, 0, 'nothing mapped before memory enable');
  cfg.write(slot, 0x04, 2, 0x2);
  t.same(bus.mmioMappings().map((m) => [m.base, m.length]), [[0xfe000000, 0x1000], [0x100000000, 0x4000]]);
  const d = new Uint8Array(4);
  bus.mmioRead(0xfe000010, d);
  t.same(fn.reads, [0x10]);
  cfg.write(slot, 0x10, 4, 0xfd000000);
  t.same(bus.mmioMappings().map((m) => m.base), [0xfd000000, 0x100000000], 'BAR relocated');
  bus.mmioRead(0xfe000010, d);
  t.same([...d], [0xff, 0xff, 0xff, 0xff], 'old place is unclaimed');
  cfg.write(slot, 0x04, 2, 0);
  t.equal(bus.mmioMappings().length, 0, 'memory disable unmaps');
});

t.test('a BAR placed over another device stays unmapped and is logged once', async (t) => {
  const { cfg, host, bus, log } = setup();
  bus.registerMmio(0xfe000000, 0x1000, { mmioRead: () => {}, mmioWrite: () => {} }, 'other');
  const slot = host.addDevice(new TestFunction());
  cfg.write(slot, 0x10, 4, 0xfe000000);
  t.doesNotThrow(() => cfg.write(slot, 0x04, 2, 0x2));
  t.equal(bus.mmioMappings().length, 1);
  t.match(log.lines.join('\n'), /cannot map/);
});

t.test('capability list walks from 0x34', async (t) => {
  const { cfg, host } = setup();
  const slot = host.addDevice(new TestFunction());
  t.ok(cfg.read(slot, 0x06, 2) & 0x10, 'status has capability list');
  const ids: number[] = [];
  for (let p = cfg.read(slot, 0x34, 1); p; p = cfg.read(slot, p + 1, 1)) ids.push(cfg.read(slot, p, 1));
  t.same(ids, [0x05, 0x09]);
});

t.test('read-only fields ignore writes', async (t) => {
  const { cfg, host } = setup();
  const slot = host.addDevice(new TestFunction());
  cfg.write(slot, 0, 4, 0);
  t.equal(cfg.read(slot, 0, 4), 0x56781234);
  cfg.write(slot, 0x3c, 1, 0x0b);
  t.equal(cfg.read(slot, 0x3c, 1), 0x0b, 'interrupt line is writable');
  t.equal(cfg.read(slot, 0x3d, 1), 1, 'pin is not');
});

t.test('INTx: routing, interrupt line preset, disable bit', async (t) => {
  const { cfg, host, lines } = setup();
  const fn = new TestFunction();
  const slot = host.addDevice(fn, 3);
  const gsi = pciIntxGsi(3, 1);
  t.equal(gsi, 16 + 3);
  t.equal(cfg.read(slot, 0x3c, 1), gsi);
  fn.config.setIntx(true);
  t.ok(lines.get(gsi)!.level);
  t.ok(cfg.read(slot, 0x06, 2) & 0x8, 'status interrupt bit');
  cfg.write(slot, 0x04, 2, 0x400);
  t.notOk(lines.get(gsi)!.level, 'interrupt disable masks the line');
  cfg.write(slot, 0x04, 2, 0);
  t.ok(lines.get(gsi)!.level);
  t.equal(pciRoutingTable().length, 128);
  t.equal(pciIntxGsi(0, 4), 19);
  t.equal(pciIntxGsi(1, 4), 16);
});

t.test('INTx: functions sharing a wire keep it asserted until the last one lowers', async (t) => {
  const { host, lines } = setup();
  const a = new TestFunction();
  const b = new TestFunction();
  host.addDevice(a, 1);
  host.addDevice(b, 5);
  const gsi = pciIntxGsi(1, 1);
  t.equal(pciIntxGsi(5, 1), gsi, 'slots 1 and 5 share INTA\'s wire');
  t.equal(lines.size, 1, 'one line for the wire');
  const wire = lines.get(gsi)!;
  a.config.setIntx(true);
  b.config.setIntx(true);
  t.equal(wire.edges, 1, 'the second assertion is not a new edge');
  a.config.setIntx(false);
  t.ok(wire.level, 'still asserted by the other function');
  b.config.setIntx(false);
  t.notOk(wire.level, 'lowered with the last one');
  b.config.setIntx(true);
  t.ok(wire.level, 'raised again');
  t.equal(wire.edges, 2);
});

t.test('ECAM reaches the same config space', async (t) => {
  const { host, bus } = setup();
  host.registerEcam(0xb0000000);
  const slot = host.addDevice(new TestFunction());
  const d = new Uint8Array(4);
  bus.mmioRead(0xb0000000 + (slot << 15), d);
  t.equal(new DataView(d.buffer).getUint32(0, true), 0x56781234);
});

t.test('assignResources places BARs like firmware and enables decoding', async (t) => {
  const { cfg, host, bus } = setup();
  const a = host.addDevice(new TestFunction());
  const b = host.addDevice(new TestFunction());
  host.assignResources({ mmio32: { base: 0xc0000000, size: 0x10000000 }, mmio64: { base: 0x8000000000, size: 0x100000000 }, io: { base: 0xc000, size: 0x1000 } });
  t.equal(cfg.read(a, 0x10, 4), 0xc0000000);
  t.equal(cfg.read(b, 0x10, 4), 0xc0001000);
  t.equal(cfg.read(a, 0x1c, 4), 0x80, '64-bit BAR in the high window');
  t.equal(cfg.read(a, 0x20, 4), 0xc001, 'io BAR');
  t.equal(cfg.read(a, 0x04, 2) & 0x7, 0x7);
  t.same(bus.mmioMappings().map((m) => m.base), [0xc0000000, 0xc0001000, 0x8000000000, 0x8000004000]);
});

t.test('onBarMoved reports mapping, relocation and unmapping (for ioeventfd)', async (t) => {
  const bus = new IoBus(memoryLogger());
  const moves: [number, number, number | undefined][] = [];
  const host = new PciHost({ bus, log: memoryLogger(), intx: () => new RecordingLine(), onBarMoved: (s, b, a) => moves.push([s, b, a]) });
  const slot = host.addDevice(new TestFunction());
  host.configWrite(0, slot, 0, 0x10, 4, 0xfe000000);
  host.configWrite(0, slot, 0, 0x04, 2, 0x2);
  host.configWrite(0, slot, 0, 0x10, 4, 0xfd000000);
  host.configWrite(0, slot, 0, 0x04, 2, 0);
  t.same(moves.filter((m) => m[1] === 0), [[slot, 0, 0xfe000000], [slot, 0, 0xfd000000], [slot, 0, undefined]]);
});

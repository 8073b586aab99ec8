import t from 'tap';
import { PicPair } from '../src/tcg-fallback/pic';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';

function linuxInit() {
  const pic = new PicPair();
  const bus = new IoBus(memoryLogger());
  pic.register(bus);
  const out = (port: number, v: number) => bus.pioWrite(port, 1, v);
  const inb = (port: number) => bus.pioRead(port, 1);
  // probe_8259A
  out(0x21, 0xff);
  out(0xa1, 0xff);
  // init_8259A
  out(0x20, 0x11);
  out(0x21, 0x30);
  out(0x21, 0x04);
  out(0x21, 0x01);
  out(0xa0, 0x11);
  out(0xa1, 0x38);
  out(0xa1, 0x02);
  out(0xa1, 0x01);
  return { pic, bus, out, inb };
}

t.test('Linux init sequence: IMR reads back, vectors from ICW2, specific EOI', async (t) => {
  const { pic, out, inb } = linuxInit();
  out(0x21, 0xff);
  t.equal(inb(0x21), 0xff, 'probe_8259A sees the mask');
  out(0x21, 0xfa); // unmask IRQ0 and the cascade
  out(0xa1, 0xff);
  pic.setIrq(0, true);
  pic.setIrq(0, false);
  t.ok(pic.hasInterrupt());
  t.equal(pic.acknowledge(), 0x30);
  t.notOk(pic.hasInterrupt(), 'in service blocks further IRQ0');
  out(0x20, 0x0b);
  t.equal(inb(0x20), 0x01, 'OCW3 read ISR');
  out(0x20, 0x0a);
  t.equal(inb(0x20), 0x00, 'OCW3 read IRR');
  out(0x20, 0x60); // specific EOI IRQ0
  out(0x20, 0x0b);
  t.equal(inb(0x20), 0x00);
});

t.test('priority: lower IRQ first, higher-priority IRQ nests, lower waits for EOI', async (t) => {
  const { pic, out } = linuxInit();
  out(0x21, 0x00);
  out(0xa1, 0x00);
  pic.setIrq(4, true);
  pic.setIrq(3, true);
  t.equal(pic.acknowledge(), 0x33, 'IRQ3 before IRQ4');
  t.notOk(pic.hasInterrupt(), 'IRQ4 waits behind IRQ3 in service');
  pic.setIrq(1, true);
  t.ok(pic.hasInterrupt(), 'IRQ1 outranks IRQ3');
  t.equal(pic.acknowledge(), 0x31);
  out(0x20, 0x20); // non-specific EOI: clears IRQ1 (highest in service)
  t.notOk(pic.hasInterrupt());
  out(0x20, 0x20); // clears IRQ3
  t.equal(pic.acknowledge(), 0x34);
});

t.test('cascade: slave IRQ arrives through master input 2 with the slave vector', async (t) => {
  const { pic, out, inb } = linuxInit();
  out(0x21, 0xfb);
  out(0xa1, 0xfe); // only IRQ8
  pic.setIrq(8, true);
  t.ok(pic.hasInterrupt());
  t.equal(pic.acknowledge(), 0x38);
  out(0xa0, 0x0b);
  t.equal(inb(0xa0), 0x01);
  out(0x20, 0x0b);
  t.equal(inb(0x20), 0x04, 'master has the cascade in service');
  out(0xa0, 0x60);
  out(0x20, 0x62);
  pic.setIrq(8, false);
  t.notOk(pic.hasInterrupt());
});

t.test('masked inputs stay in IRR and fire when unmasked', async (t) => {
  const { pic, out, inb } = linuxInit();
  out(0x21, 0xff);
  pic.setIrq(1, true);
  t.notOk(pic.hasInterrupt());
  out(0x20, 0x0a);
  t.equal(inb(0x20) & 0x02, 0x02);
  out(0x21, 0xfd);
  t.equal(pic.acknowledge(), 0x31);
});

t.test('edge vs level (ELCR): a level input re-requests after EOI while high', async (t) => {
  const { pic, out, inb } = linuxInit();
  out(0x21, 0xfb);
  out(0xa1, 0x00);
  out(0x4d1, 0x08); // IRQ11 level
  t.equal(inb(0x4d1), 0x08);
  out(0x4d0, 0xff);
  t.equal(inb(0x4d0), 0xf8, 'IRQ0-2 cannot be level');
  pic.setIrq(11, true);
  t.equal(pic.acknowledge(), 0x3b);
  out(0xa0, 0x20);
  out(0x20, 0x20);
  t.ok(pic.hasInterrupt(), 'still high: requested again');
  pic.setIrq(11, false);
  t.notOk(pic.hasInterrupt(), 'dropping the level withdraws the request');
  // Edge input: one request per rising edge, a held level does not repeat.
  out(0x21, 0xf8);
  pic.setIrq(1, true);
  t.equal(pic.acknowledge(), 0x31);
  out(0x20, 0x20);
  pic.setIrq(1, true);
  t.notOk(pic.hasInterrupt());
});

t.test('spurious: a request that vanishes before INTA yields IRQ7 without ISR', async (t) => {
  const { pic, out, inb } = linuxInit();
  out(0x21, 0x00);
  out(0x4d0, 0x20); // IRQ5 level
  pic.setIrq(5, true);
  t.ok(pic.hasInterrupt());
  pic.setIrq(5, false);
  t.equal(pic.acknowledge(), 0x37);
  out(0x20, 0x0b);
  t.equal(inb(0x20), 0, 'no ISR bit: Linux sees a spurious IRQ7');
});

t.test('auto-EOI, rotation, poll, special mask mode', async (t) => {
  const pic = new PicPair();
  pic.writePort(0x20, 0x13); // single, ICW4
  pic.writePort(0x21, 0x08);
  pic.writePort(0x21, 0x03); // AEOI
  pic.writePort(0x21, 0x00);
  pic.setIrq(3, true);
  t.equal(pic.acknowledge(), 0x0b);
  pic.setIrq(3, false);
  pic.writePort(0x20, 0x0b);
  t.equal(pic.readPort(0x20), 0, 'auto EOI leaves nothing in service');
  // Rotate on non-specific EOI with normal EOI mode.
  pic.writePort(0x20, 0x13);
  pic.writePort(0x21, 0x08);
  pic.writePort(0x21, 0x01);
  pic.writePort(0x21, 0x00);
  pic.setIrq(1, true);
  t.equal(pic.acknowledge(), 0x09);
  pic.writePort(0x20, 0xa0); // rotate on EOI: IRQ1 becomes lowest
  pic.setIrq(1, false);
  pic.setIrq(1, true);
  pic.setIrq(6, true);
  t.equal(pic.acknowledge(), 0x0e, 'IRQ6 now outranks IRQ1');
  // Poll: acts like INTA.
  pic.writePort(0x20, 0x20);
  pic.writePort(0x20, 0x0c);
  t.equal(pic.readPort(0x20), 0x81);
  pic.writePort(0x20, 0x0c);
  t.equal(pic.readPort(0x20), 0x00, 'nothing else pending');
  // Special mask mode: masking the in-service level lets lower priorities in.
  pic.writePort(0x20, 0xc7); // reset priority: IRQ0 highest
  pic.writePort(0x20, 0x61);
  pic.setIrq(3, true);
  t.equal(pic.acknowledge(), 0x0b);
  pic.setIrq(5, true);
  t.notOk(pic.hasInterrupt());
  pic.writePort(0x21, 0x08);
  pic.writePort(0x20, 0x68);
  t.ok(pic.hasInterrupt(), 'special mask mode');
  t.equal(pic.acknowledge(), 0x0d);
});

t.test('hostile writes never throw; save/restore round trips', async (t) => {
  const { pic, bus } = linuxInit();
  t.doesNotThrow(() => {
    for (let i = 0; i < 500; i++) {
      bus.pioWrite([0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1][i % 6], ((i % 3) + 1 === 3 ? 4 : (i % 3) + 1) as 1 | 2 | 4, (i * 2654435761) >>> 0);
      pic.setIrq(i % 20, i % 2 === 0);
      if (pic.hasInterrupt()) pic.acknowledge();
    }
    pic.setIrq(-1, true);
    pic.setIrq(Number.NaN, true);
  });
  const s = JSON.parse(JSON.stringify(pic.save()));
  const other = new PicPair();
  other.restore(s);
  t.same(other.save(), s);
  t.equal(other.hasInterrupt(), pic.hasInterrupt());
});

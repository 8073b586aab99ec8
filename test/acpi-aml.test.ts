import t from 'tap';
import * as aml from '../src/machine/acpi/aml';

t.test('PkgLength: 1 byte below 64, then 2-4 bytes counting themselves', async (t) => {
  t.same([...aml.pkgLength(0x3e)], [0x3f]);
  t.same([...aml.pkgLength(0x3f)], [0x41, 0x04], '0x3f + 2 = 0x41');
  t.same([...aml.pkgLength(0xffd)], [0x4f, 0xff]);
  t.same([...aml.pkgLength(0xffe)], [0x81, 0x00, 0x01], '0xffe + 3 = 0x1001');
  t.same([...aml.pkgLength(0x100000)], [0xc4, 0x00, 0x00, 0x01]);
});

t.test('integers take the shortest encoding', async (t) => {
  t.same([...aml.integer(0)], [0x00]);
  t.same([...aml.integer(1)], [0x01]);
  t.same([...aml.integer(0x0f)], [0x0a, 0x0f]);
  t.same([...aml.integer(0x1234)], [0x0b, 0x34, 0x12]);
  t.same([...aml.integer(0xfec00000)], [0x0c, 0x00, 0x00, 0xc0, 0xfe]);
  t.same([...aml.integer(0x1_0000_0000)], [0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
  t.same([...aml.integer(0xffff_ffff_ffff_ffffn)], [0xff]);
  t.throws(() => aml.integer(-1));
});

t.test('names: padded segments, root and dual/multi prefixes', async (t) => {
  t.same([...aml.nameString('_S5')], [0x5f, 0x53, 0x35, 0x5f]);
  t.same([...aml.nameString('\\_SB')], [0x5c, 0x5f, 0x53, 0x42, 0x5f]);
  t.same([...aml.nameString('\\_SB.PCI0')].slice(0, 2), [0x5c, 0x2e]);
  t.same([...aml.nameString('A.B.C')].slice(0, 2), [0x2f, 3]);
  t.throws(() => aml.nameString('lower'), /bad AML name segment/);
});

t.test('EISAID packs PNP0A03 as 0x030AD041', async (t) => {
  t.same([...aml.eisaId('PNP0A03')], [0x0c, 0x41, 0xd0, 0x0a, 0x03]);
  t.same([...aml.eisaId('PNP0501')], [0x0c, 0x41, 0xd0, 0x05, 0x01]);
});

t.test('resource descriptors have the spec sizes and an end tag', async (t) => {
  t.equal(aml.io(0x3f8, 0x3f8, 1, 8).length, 8);
  t.equal(aml.irqNoFlags([4]).length, 3);
  t.equal(aml.memory32Fixed(0xd0000000, 0x1000).length, 12);
  t.equal(aml.extendedInterrupt([5], { edge: true, activeLow: false, shared: false }).length, 9);
  t.equal(aml.wordBusNumber(0, 255).length, 16);
  t.equal(aml.dwordMemory(0xc0000000, 0xcfffffff).length, 26);
  t.equal(aml.qwordMemory(0x1_0000_0000n, 0x1_ffff_ffffn).length, 46);
  const rt = aml.resourceTemplate([aml.irqNoFlags([4])]);
  t.same([...rt.slice(-2)], [0x79, 0x00]);
  t.equal(rt[0], 0x11, 'a Buffer');
});

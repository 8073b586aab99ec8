import t from 'tap';
import { buildMpTable, writeMpTable } from '../src/machine/mptable';
import { sumBytes } from '../src/machine/acpi/table';
import { MiB } from '../src/machine/memory-layout';
import { guestMemory } from './machine-fixtures';

interface MpEntries { processors: number[]; buses: string[]; ioapics: number[]; ioInts: number[][]; localInts: number[][] }

/** Walks a configuration table the way an OS does, by entry type and fixed sizes. */
function parseConfig(config: Uint8Array): MpEntries {
  const v = new DataView(config.buffer, config.byteOffset, config.byteLength);
  const count = v.getUint16(34, true);
  const out: MpEntries = { processors: [], buses: [], ioapics: [], ioInts: [], localInts: [] };
  let at = 44;
  for (let i = 0; i < count; i++) {
    const type = config[at];
    if (type === 0) { out.processors.push(config[at + 1]); at += 20; continue; }
    if (type === 1) out.buses.push(String.fromCharCode(...config.subarray(at + 2, at + 8)).trim());
    if (type === 2) out.ioapics.push(v.getUint32(at + 4, true));
    if (type === 3) out.ioInts.push([...config.subarray(at + 1, at + 8)]);
    if (type === 4) out.localInts.push([...config.subarray(at + 1, at + 8)]);
    at += 8;
  }
  t.equal(at, config.length, 'entries fill the table exactly');
  return out;
}

t.test('floating pointer in 0xF0000 and a config table with checksums that sum to zero', async (t) => {
  const mem = guestMemory(64 * MiB);
  const at = writeMpTable(mem, { cpus: 3 });
  t.equal(at, 0xf0000);
  const fp = mem.read(at, 16);
  t.equal(String.fromCharCode(...fp.subarray(0, 4)), '_MP_');
  t.equal(sumBytes(fp), 0);
  t.equal(fp[9], 4, 'spec 1.4');
  const configAddr = mem.readU32(at + 4);
  const length = mem.readU16(configAddr + 4);
  const config = mem.read(configAddr, length);
  t.equal(String.fromCharCode(...config.subarray(0, 4)), 'PCMP');
  t.equal(sumBytes(config), 0);
  t.equal(mem.readU32(configAddr + 36), 0xfee00000, 'LAPIC address');
  const e = parseConfig(config);
  t.same(e.processors, [0, 1, 2]);
  t.same(e.buses, ['ISA']);
  t.same(e.ioapics, [0xfec00000]);
  // [type, flags lo, flags hi, bus, bus irq, ioapic id, pin]
  t.same(e.ioInts[0], [3, 0, 0, 0, 0, 3, 0], 'ExtINT on pin 0');
  t.same(e.ioInts[1], [0, 0, 0, 0, 0, 3, 2], 'IRQ0 on pin 2');
  t.same(e.ioInts.find((x) => x[4] === 9), [0, 0x0d, 0, 0, 9, 3, 9], 'SCI level, active high');
  t.equal(e.ioInts.length, 16);
  t.same(e.localInts, [[3, 0, 0, 0, 0, 0xff, 0], [1, 0, 0, 0, 0, 0xff, 1]]);
});

t.test('with PCI: a PCI bus and INTA-D of every slot routed to GSIs 16-19', async (t) => {
  const table = buildMpTable({ cpus: 1, pci: true });
  const config = table.subarray(16);
  t.equal(sumBytes(config), 0);
  const e = parseConfig(config);
  t.same(e.buses, ['ISA', 'PCI']);
  const pci = e.ioInts.filter((x) => x[3] === 1);
  t.equal(pci.length, 128);
  t.same(pci.find((x) => x[4] === ((3 << 2) | 1)), [0, 0, 0, 1, 13, 1, 16], 'slot 3 INTB -> GSI 16');
});

t.test('more than 254 vCPUs cannot be described', async (t) => {
  t.throws(() => buildMpTable({ cpus: 255 }), /at most 254 vCPUs/);
});

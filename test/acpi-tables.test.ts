import t from 'tap';
import { buildAcpiTables, writeAcpiTables } from '../src/machine/acpi/build';
import { AcpiMachine } from '../src/machine/acpi/machine-description';
import { parseMadt, readAcpiTables } from '../src/machine/acpi/parse';
import { pciInterruptGsi, pciRoutingTable } from '../src/machine/acpi/dsdt';
import { isPoweroffWrite, PM1_CNT_SLP_EN, SLP_TYP_S5, PM1A_CNT_PORT, PM1A_EVT_PORT } from '../src/machine/acpi/pm';
import { sumBytes } from '../src/machine/acpi/table';
import { E820_ACPI, buildE820 } from '../src/machine/e820';
import { MiB, memoryLayout, virtioMmioSlot } from '../src/machine/memory-layout';
import { guestMemory } from './machine-fixtures';
import { NO_IASL_MESSAGE, disassemble, haveIasl } from './acpi-fixtures';

const machine: AcpiMachine = {
  cpus: 4,
  pci: true,
  pciMmio64: { base: 0x40_0000_0000, size: 0x40_0000_0000 },
  pmTimer: true,
  virtioMmio: [virtioMmioSlot(0), virtioMmioSlot(1), virtioMmioSlot(10)],
};

t.test('tables found from the RSDP scan, checksums right, MADT has one LAPIC per vCPU', async (t) => {
  const mem = guestMemory(64 * MiB);
  const acpi = buildAcpiTables(machine, memoryLayout(64 * MiB));
  writeAcpiTables(mem, acpi);
  t.equal(acpi.rsdpAddr, 0xe0000);
  t.equal(acpi.e820Carve, undefined, 'small tables stay in the BIOS area');
  const found = readAcpiTables(mem);
  t.same(found.map((f) => f.signature).sort(), ['APIC', 'DSDT', 'FACP', 'FACS', 'RSD PTR ', 'XSDT']);
  for (const f of found.filter((x) => x.signature !== 'FACS')) {
    if (f.signature !== 'RSD PTR ') t.equal(f.bytes.length, new DataView(f.bytes.buffer).getUint32(4, true), `${f.signature} length`);
    t.equal(sumBytes(f.bytes), 0, `${f.signature} checksum`);
  }
  const facs = found.find((f) => f.signature === 'FACS');
  t.equal((facs?.address ?? 1) % 64, 0, 'FACS 64-byte aligned');
  const madt = parseMadt(found.find((f) => f.signature === 'APIC')?.bytes ?? new Uint8Array());
  t.equal(madt.localApicAddress, 0xfee00000);
  t.same(madt.localApics, [0, 1, 2, 3].map((i) => ({ uid: i, apicId: i, enabled: true })));
  t.same(madt.ioApics, [{ id: 4, address: 0xfec00000, gsiBase: 0 }]);
  t.same(madt.overrides, [{ source: 0, gsi: 2, flags: 0 }, { source: 9, gsi: 9, flags: 0x0d }]);
  t.same(madt.nmis, [{ uid: 0xff, lint: 1 }]);
  const fadt = new DataView(found.find((f) => f.signature === 'FACP')?.bytes.buffer ?? new ArrayBuffer(276));
  t.equal(fadt.getUint16(46, true), 9, 'SCI on IRQ 9');
  t.equal(fadt.getUint32(56, true), PM1A_EVT_PORT);
  t.equal(fadt.getUint32(64, true), PM1A_CNT_PORT);
  t.equal(fadt.getUint32(112, true) & (1 << 20), 0, 'not HW_REDUCED_ACPI');
});

t.test('many vCPUs: x2APIC entries past 254; tables too big for the BIOS area move to the top of low RAM, carved as ACPI in e820', async (t) => {
  const layout = memoryLayout(256 * MiB);
  const acpi = buildAcpiTables({ cpus: 300 }, layout, { biosAreaBytes: 0x1000 });
  t.ok(acpi.e820Carve);
  const carve = acpi.e820Carve ?? { addr: 0, size: 0, type: E820_ACPI };
  t.equal(carve.addr + carve.size, 256 * MiB);
  const mem = guestMemory(256 * MiB);
  writeAcpiTables(mem, acpi);
  const found = readAcpiTables(mem);
  const madt = parseMadt(found.find((f) => f.signature === 'APIC')?.bytes ?? new Uint8Array());
  t.equal(madt.localApics.length, 300);
  t.same(madt.localApics[299], { uid: 299, apicId: 299, enabled: true });
  const e820 = buildE820(layout, [carve]);
  t.same(e820[e820.length - 1], { addr: carve.addr, size: carve.size, type: E820_ACPI });
});

t.test('PM constants: S5 request and PCI INTx swizzle', async (t) => {
  t.ok(isPoweroffWrite((SLP_TYP_S5 << 10) | PM1_CNT_SLP_EN));
  t.notOk(isPoweroffWrite(SLP_TYP_S5 << 10), 'SLP_EN clear');
  t.notOk(isPoweroffWrite((1 << 10) | PM1_CNT_SLP_EN), 'another sleep type');
  t.same([0, 1, 2, 3].map((p) => pciInterruptGsi(0, p)), [16, 17, 18, 19]);
  t.same([0, 1, 2, 3].map((p) => pciInterruptGsi(3, p)), [19, 16, 17, 18]);
  t.throws(() => pciInterruptGsi(32, 0), /slot 32 out of range/);
  t.ok(pciRoutingTable([1, 2]).length > 0);
});

t.test('iasl disassembles every table without errors and sees the devices', { skip: haveIasl() ? false : NO_IASL_MESSAGE }, async (t) => {
  const acpi = buildAcpiTables(machine, memoryLayout(64 * MiB));
  for (const table of acpi.tables.filter((x) => x.signature !== 'RSD PTR ')) {
    // iasl cannot read a bare RSDP file (its signature is not a valid name); the parser above checks it.
    const d = disassemble(table.signature.toLowerCase(), table.bytes);
    t.equal(d.status, 0, `${table.signature}: iasl exit status`);
    t.notMatch(d.log, /\b(Error|Warning)\b/i, `${table.signature}: no errors or warnings`);
    t.ok(d.dsl.length > 0, `${table.signature}: disassembly written`);
    if (table.signature === 'DSDT') {
      t.match(d.dsl, /Name \(\\_S5, Package \(0x04\)\s*\/\/ _S5_: S5 System State\s*\{\s*0x05,\s*0x05,/);
      t.match(d.dsl, /EisaId \("PNP0501"\)/);
      t.match(d.dsl, /EisaId \("PNP0303"\)/);
      t.match(d.dsl, /EisaId \("PNP0A03"\)/);
      t.match(d.dsl, /WordBusNumber \(ResourceProducer/);
      t.match(d.dsl, /QWordMemory \(ResourceProducer[\s\S]*?0x0000004000000000, \/\/ Range Minimum\s*0x0000007FFFFFFFFF, \/\/ Range Maximum/);
      t.match(d.dsl, /Name \(_PRT, Package \(0x80\)/);
      t.equal((d.dsl.match(/"LNRO0005"/g) ?? []).length, 3);
      t.match(d.dsl, /0xD000A000,\s*\/\/ Address Base/);
      t.match(d.dsl, /Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \)\s*\{\s*0x00000015,/);
      t.equal((d.dsl.match(/"ACPI0007"/g) ?? []).length, 4);
    }
    if (table.signature === 'APIC') t.equal((d.dsl.match(/\[Processor Local APIC\]/g) ?? []).length, 4);
    if (table.signature === 'FACP') {
      t.match(d.dsl, /PM1A Control Block Address : 00000604/);
      t.match(d.dsl, /SCI Interrupt : 0009/);
    }
  }
});

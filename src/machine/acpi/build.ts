/**
 * All ACPI tables for a machine, laid out at guest addresses: the RSDP at
 * 0xE0000 (where Linux's scan finds it) and the others right after it in the
 * BIOS area; when they do not fit there (many vCPUs or devices) they go to
 * the top of low RAM, which the E820 map must then mark as ACPI.
 */
import { GuestMemory } from '../../memory/guest-memory';
import { E820Carve, E820_ACPI } from '../e820';
import { ACPI_TABLES_ADDR, ACPI_TABLES_MAX_SIZE, MemoryLayout } from '../memory-layout';
import { buildDsdt } from './dsdt';
import { buildFacs, FACS_ALIGN, FACS_SIZE } from './facs';
import { buildFadt, FADT_SIZE } from './fadt';
import { AcpiMachine } from './machine-description';
import { buildMadt } from './madt';
import { buildRsdp, RSDP_SIZE } from './rsdp';
import { buildRsdt, buildXsdt } from './xsdt';

export interface PlacedTable {
  readonly signature: string;
  readonly address: number;
  readonly bytes: Uint8Array;
}

export interface AcpiTables {
  readonly rsdpAddr: number;
  /** RSDP first, then every table, each at its guest address. */
  readonly tables: readonly PlacedTable[];
  /** Set when the tables went to the top of low RAM: pass it to buildE820. */
  readonly e820Carve?: E820Carve;
}

const TABLE_ALIGN = 16;
const HIGH_AREA_ALIGN = 0x10000;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export interface AcpiPlacementOptions {
  /** Bytes after the RSDP the BIOS area may hold (default: up to 0xF0000, where the MP table starts). */
  readonly biosAreaBytes?: number;
}

export function buildAcpiTables(machine: AcpiMachine, layout: MemoryLayout, options: AcpiPlacementOptions = {}): AcpiTables {
  const dsdt = buildDsdt(machine);
  const madt = buildMadt(machine.cpus);
  const xsdtSize = 36 + 8 * 2;
  const rsdtSize = 36 + 4 * 2;

  // Sizes are known before addresses, so place first, then build the tables that hold pointers.
  const place = (base: number): { facs: number; dsdt: number; fadt: number; madt: number; xsdt: number; rsdt: number; end: number } => {
    const facs = alignUp(base, FACS_ALIGN);
    const d = alignUp(facs + FACS_SIZE, TABLE_ALIGN);
    const fadt = alignUp(d + dsdt.length, TABLE_ALIGN);
    const m = alignUp(fadt + FADT_SIZE, TABLE_ALIGN);
    const xsdt = alignUp(m + madt.length, TABLE_ALIGN);
    const rsdt = alignUp(xsdt + xsdtSize, TABLE_ALIGN);
    return { facs, dsdt: d, fadt, madt: m, xsdt, rsdt, end: rsdt + rsdtSize };
  };
  const rsdpAddr = ACPI_TABLES_ADDR;
  let at = place(alignUp(rsdpAddr + RSDP_SIZE, TABLE_ALIGN));
  let e820Carve: E820Carve | undefined;
  if (at.end > ACPI_TABLES_ADDR + (options.biosAreaBytes ?? ACPI_TABLES_MAX_SIZE)) {
    const size = alignUp(at.end - at.facs, HIGH_AREA_ALIGN);
    const base = Math.floor((layout.lowRamEnd - size) / HIGH_AREA_ALIGN) * HIGH_AREA_ALIGN;
    at = place(base);
    e820Carve = { addr: base, size: layout.lowRamEnd - base, type: E820_ACPI };
  }

  const facs = buildFacs();
  const fadt = buildFadt({
    facsAddr: at.facs,
    dsdtAddr: at.dsdt,
    i8042: machine.i8042 ?? true,
    rtc: machine.rtc ?? true,
    pmTimer: machine.pmTimer ?? false,
  });
  const xsdt = buildXsdt([at.fadt, at.madt]);
  const rsdt = buildRsdt([at.fadt, at.madt]);
  const rsdp = buildRsdp(at.xsdt, at.rsdt);
  const tables: PlacedTable[] = [
    { signature: 'RSD PTR ', address: rsdpAddr, bytes: rsdp },
    { signature: 'FACS', address: at.facs, bytes: facs },
    { signature: 'DSDT', address: at.dsdt, bytes: dsdt },
    { signature: 'FACP', address: at.fadt, bytes: fadt },
    { signature: 'APIC', address: at.madt, bytes: madt },
    { signature: 'XSDT', address: at.xsdt, bytes: xsdt },
    { signature: 'RSDT', address: at.rsdt, bytes: rsdt },
  ];
  return { rsdpAddr, tables, e820Carve };
}

export function writeAcpiTables(memory: GuestMemory, acpi: AcpiTables): void {
  for (const t of acpi.tables) memory.write(t.address, t.bytes);
}

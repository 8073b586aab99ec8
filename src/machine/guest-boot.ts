/**
 * One call that turns a kernel image into a bootable guest: detects the
 * format, writes the ACPI and MP tables for the machine, builds the E820 map
 * and runs the matching loader. The machine then applies `entry` to vCPU 0
 * with applyEntryState (entry-state.ts). A bzImage with an LZ4 payload and a
 * PVH note is decompressed here and booted through PVH (bzimage-pvh.ts).
 */
import { GuestMemory } from '../memory/guest-memory';
import { AcpiTables, buildAcpiTables, writeAcpiTables } from './acpi/build';
import { AcpiMachine } from './acpi/machine-description';
import { BootError } from './boot-error';
import { BzImagePlan, planBzImageBoot } from './bzimage-pvh';
import { E820Entry, buildE820 } from './e820';
import { EntryState } from './entry-state';
import { KernelFormatKind, detectKernelFormat } from './kernel-format';
import { PlacedBlob, loadBzImage } from './linux-boot';
import { layoutOfMemory } from './memory-layout';
import { writeMpTable } from './mptable';
import { loadMultiboot } from './multiboot';
import { loadPvh } from './pvh';

export interface GuestBootOptions {
  readonly cmdline: string;
  readonly initrd?: Uint8Array;
  /** CPUs and devices the firmware tables describe. */
  readonly machine: AcpiMachine;
  /** Write ACPI tables (default true). */
  readonly acpi?: boolean;
  /** Write an MP table (default true; skipped above 254 vCPUs, which it cannot describe). */
  readonly mptable?: boolean;
  /**
   * Where a bzImage's kernel is decompressed: 'host' (default) boots an LZ4
   * payload with a PVH note through PVH; 'guest' always runs the kernel's own
   * decompressor through the 64-bit bzImage entry.
   */
  readonly bzImageDecompression?: 'host' | 'guest';
}

export interface GuestBoot {
  readonly format: Exclude<KernelFormatKind, 'unknown'>;
  /** For a bzImage: decompressed on the host and booted through PVH, or left to the kernel. */
  readonly bzImage?: BzImagePlan['kind'];
  /** Why a bzImage was left to its own decompressor (for the debug log). */
  readonly inGuestReason?: string;
  readonly entry: EntryState;
  readonly e820: readonly E820Entry[];
  readonly kernel: PlacedBlob;
  readonly initrd?: PlacedBlob;
  readonly acpi?: AcpiTables;
  /** One line for the log: format, where things went. */
  readonly summary: string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function loadGuestKernel(memory: GuestMemory, image: Uint8Array, o: GuestBootOptions): GuestBoot {
  const format = detectKernelFormat(image);
  if (format === 'unknown') {
    throw new BootError(`unrecognised kernel image (${image.length} bytes): not a bzImage, a PVH ELF or a Multiboot kernel`);
  }
  const layout = layoutOfMemory(memory);
  let acpi: AcpiTables | undefined;
  if (o.acpi ?? true) {
    acpi = buildAcpiTables(o.machine, layout);
    writeAcpiTables(memory, acpi);
  }
  if ((o.mptable ?? true) && o.machine.cpus <= 254) writeMpTable(memory, o.machine);
  const e820 = buildE820(layout, acpi?.e820Carve ? [acpi.e820Carve] : []);
  const common = { cmdline: o.cmdline, initrd: o.initrd, e820, acpiRsdpAddr: acpi?.rsdpAddr };
  const plan: BzImagePlan | undefined =
    format !== 'bzimage' ? undefined
    : o.bzImageDecompression === 'guest' ? { kind: 'in-guest', reason: 'in-guest decompression asked for' }
    : planBzImageBoot(image);
  const loaded =
    plan?.kind === 'pvh' ? loadPvh(memory, plan.vmlinux, common)
    : format === 'bzimage' ? loadBzImage(memory, image, common)
    : format === 'pvh-elf' ? loadPvh(memory, image, common)
    : loadMultiboot(memory, image, common);
  const initrdText = loaded.initrd ? `, initrd ${loaded.initrd.size} bytes at ${hex(loaded.initrd.address)}` : '';
  const planText = plan?.kind === 'pvh' ? ` (LZ4 payload decompressed on the host to ${plan.vmlinux.length} bytes, PVH entry)` : '';
  const summary =
    `${format}${planText}: kernel ${hex(loaded.kernel.address)}-${hex(loaded.kernel.address + loaded.kernel.size)}${initrdText}, ` +
    `${loaded.entry.mode}-bit entry at ${hex(Number(loaded.entry.rip))}${acpi ? `, ACPI RSDP at ${hex(acpi.rsdpAddr)}` : ''}`;
  const inGuestReason = plan?.kind === 'in-guest' ? plan.reason : undefined;
  return { format, bzImage: plan?.kind, inGuestReason, entry: loaded.entry, e820, kernel: loaded.kernel, initrd: loaded.initrd, acpi, summary };
}

/** What the ACPI tables (and the MP table) describe: a function of this and nothing else. */

export interface VirtioMmioDescription {
  readonly address: number;
  readonly size: number;
  /** GSI (= ISA IRQ below 16). */
  readonly irq: number;
}

export interface AcpiMachine {
  /** vCPUs: one Local APIC (APIC ID = index) per vCPU. */
  readonly cpus: number;
  /** 16550 at 0x3f8, IRQ 4. Default true. */
  readonly com1?: boolean;
  /** i8042 keyboard controller at 0x60/0x64, IRQ 1; also the FADT reset register. Default true. */
  readonly i8042?: boolean;
  /** MC146818 CMOS RTC at 0x70, IRQ 8. Default true. */
  readonly rtc?: boolean;
  /** PCI host bridge (config ports 0xcf8) with its windows and INTx routing. Default false. */
  readonly pci?: boolean;
  /** A 64-bit MMIO window for PCI BARs above RAM (QWordMemory in the host bridge's _CRS); none by default. */
  readonly pciMmio64?: { readonly base: number; readonly size: number };
  /** ACPI PM timer at PM_TMR_PORT. Default false: only when the machine implements it. */
  readonly pmTimer?: boolean;
  readonly virtioMmio?: readonly VirtioMmioDescription[];
}

export const APIC_ID_LIMIT_XAPIC = 255;

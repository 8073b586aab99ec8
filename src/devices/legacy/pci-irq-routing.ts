/**
 * Which GSI each PCI slot's INTx pin drives, on bus 0. The ACPI DSDT's _PRT
 * (and the MP table's interrupt entries, if any) must describe exactly this.
 *
 * The IOAPIC's pins 16-23 are free of ISA devices, so the four INTx wires go
 * to GSIs 16-19 with the usual swizzle: slot N's INTA is wire (N mod 4), INTB
 * the next, and so on. These GSIs are level-triggered, active-low in ACPI
 * terms (the IOAPIC entry is level, polarity low); the device model drives them
 * as "asserted"/"deasserted" and the platform maps that onto the pin.
 */
export const PCI_INTX_GSI_BASE = 16;
export const PCI_INTX_WIRES = 4;

/** `pin` is the config-space Interrupt Pin value: 1 = INTA ... 4 = INTD. */
export function pciIntxGsi(slot: number, pin: number): number {
  if (pin < 1 || pin > 4) throw new RangeError(`PCI interrupt pin ${pin} is not INTA-INTD`);
  return PCI_INTX_GSI_BASE + ((slot + pin - 1) % PCI_INTX_WIRES);
}

/** Every (slot, pin) -> GSI entry for slots 0-31, in the order an ACPI _PRT lists them. */
export function pciRoutingTable(): { slot: number; pin: number; gsi: number }[] {
  const out: { slot: number; pin: number; gsi: number }[] = [];
  for (let slot = 0; slot < 32; slot++) {
    for (let pin = 1; pin <= 4; pin++) out.push({ slot, pin, gsi: pciIntxGsi(slot, pin) });
  }
  return out;
}

/**
 * Where guest RAM goes: below the 32-bit PCI hole (3 GiB-4 GiB holds device
 * MMIO, the IOAPIC and the LAPIC) and the rest from 4 GiB up.
 */
export const PCI_HOLE_START = 0xc000_0000;
export const HIGH_RAM_START = 0x1_0000_0000;

export function ramLayout(bytes: number): { guestAddress: number; size: number }[] {
  const low = Math.min(bytes, PCI_HOLE_START);
  const regions = [{ guestAddress: 0, size: low }];
  if (bytes > low) regions.push({ guestAddress: HIGH_RAM_START, size: bytes - low });
  return regions;
}

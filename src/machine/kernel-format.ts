/** Tells guest image kinds apart by their bytes, so `--kernel` needs no format flag. */
import { looksLikeBzImage } from './bzimage';
import { isElf, parseElf } from './elf';
import { findMultibootHeader } from './multiboot';
import { pvhEntry } from './pvh';

export type KernelFormatKind = 'bzimage' | 'pvh-elf' | 'multiboot' | 'unknown';

/**
 * bzImage when the Linux setup header is there; for ELF files, PVH when the
 * PVH note is there and Multiboot when its header is — an ELF with both is
 * PVH if 64-bit and Multiboot if 32-bit; any other image with a Multiboot
 * header is Multiboot.
 */
export function detectKernelFormat(image: Uint8Array): KernelFormatKind {
  if (looksLikeBzImage(image)) return 'bzimage';
  const multiboot = findMultibootHeader(image) !== undefined;
  if (isElf(image)) {
    let pvh = false;
    let cls: 32 | 64 = 32;
    try {
      const elf = parseElf(image);
      pvh = pvhEntry(elf) !== undefined;
      cls = elf.class;
    } catch {
      // A broken ELF can still be a Multiboot image through the header's address fields.
    }
    if (pvh && multiboot) return cls === 64 ? 'pvh-elf' : 'multiboot';
    if (pvh) return 'pvh-elf';
  }
  return multiboot ? 'multiboot' : 'unknown';
}

/**
 * Linux bzImage, PVH ELF and Multiboot images: firmware tables, e820 and the
 * format's loader (guest-boot.ts), then vCPU 0 set up at the entry point.
 */
import { Accelerator } from '../accel';
import { defaultLogger } from '../log';
import { VmConfig } from './vm-config';
import { MachineImages } from './machine';
import { BootError } from './boot-error';
import { looksLikeBzImage } from './bzimage';
import { loadGuestKernel } from './guest-boot';
import { applyEntryState } from './entry-state';
import { acpiMachineFor } from './virtio-devices';
import { virtioConfigOf } from './virtio-config';

export function loadBootImage(config: VmConfig, images: MachineImages, accel: Accelerator): void {
  // --kernel-format bzimage: the user wants the kernel's own decompressor, so the image must be one that has it.
  const inGuest = config.kernelFormat.kind === 'bzimage';
  if (inGuest && !looksLikeBzImage(images.kernel)) {
    throw new BootError(`--kernel-format bzimage: ${config.kernelPath} is not a bzImage (no "HdrS" signature at offset 0x202)`);
  }
  const boot = loadGuestKernel(accel.memory, images.kernel, {
    cmdline: config.append,
    initrd: images.initrd,
    machine: acpiMachineFor(virtioConfigOf(config), config.cpus),
    bzImageDecompression: inGuest ? 'guest' : 'host',
  });
  defaultLogger.debug(`boot: ${boot.summary}${boot.inGuestReason ? `; the kernel decompresses itself: ${boot.inGuestReason}` : ''}`);
  applyEntryState(accel.vcpus[0], accel.memory, boot.entry);
}

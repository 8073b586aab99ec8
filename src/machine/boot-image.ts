/**
 * Linux bzImage, PVH ELF and Multiboot images: firmware tables, e820 and the
 * format's loader (guest-boot.ts), then vCPU 0 set up at the entry point.
 */
import { Accelerator } from '../accel';
import { VmConfig } from './vm-config';
import { MachineImages } from './machine';
import { loadGuestKernel } from './guest-boot';
import { applyEntryState } from './entry-state';
import { acpiMachineFor } from './virtio-devices';
import { virtioConfigOf } from './virtio-config';

export function loadBootImage(config: VmConfig, images: MachineImages, accel: Accelerator): void {
  const boot = loadGuestKernel(accel.memory, images.kernel, {
    cmdline: config.append,
    initrd: images.initrd,
    machine: acpiMachineFor(virtioConfigOf(config), config.cpus),
  });
  applyEntryState(accel.vcpus[0], accel.memory, boot.entry);
}

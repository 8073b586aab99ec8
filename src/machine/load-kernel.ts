/**
 * Puts the guest image into RAM and sets vCPU 0 up to run it. The formats:
 * raw flat binaries for test guests (this file), Linux bzImage, PVH ELF and
 * Multiboot (src/machine/boot-*.ts).
 */
import { Accelerator } from '../accel';
import { VmConfig } from './vm-config';
import { MachineImages } from './machine';
import { rawModeScratchSize, setupRawMode } from './cpu-mode-setup';
import { loadBootImage } from './boot-image';
import { BootError } from './boot-error';

/**
 * Where the VMM builds the GDT (and for 64-bit the page tables) of a raw
 * guest: 0x1000 up to 0x1000 + rawModeScratchSize(mode), i.e. 0x1000-0x1fff
 * for 32-bit and 0x1000-0xbfff for 64-bit. Raw guests stay out of it.
 */
export const RAW_SCRATCH_BASE = 0x1000;

export function loadKernel(config: VmConfig, images: MachineImages, accel: Accelerator): void {
  const format = config.kernelFormat;
  if (format.kind === 'raw') {
    const end = format.load + images.kernel.length;
    if (!accel.memory.isRam(format.load, images.kernel.length)) {
      throw new BootError(
        `raw kernel (${images.kernel.length} bytes at 0x${format.load.toString(16)}-0x${end.toString(16)}) does not fit in guest RAM (${config.memoryBytes} bytes)`,
      );
    }
    const scratchEnd = format.mode === 16 ? RAW_SCRATCH_BASE : RAW_SCRATCH_BASE + rawModeScratchSize(format.mode);
    if (format.load < scratchEnd && end > RAW_SCRATCH_BASE) {
      throw new BootError(
        `raw kernel overlaps the VMM's scratch area 0x${RAW_SCRATCH_BASE.toString(16)}-0x${(scratchEnd - 1).toString(16)} (GDT and page tables); load it elsewhere`,
      );
    }
    accel.memory.write(format.load, images.kernel);
    setupRawMode(accel.vcpus[0], accel.memory, format.mode, format.entry, RAW_SCRATCH_BASE);
    return;
  }
  loadBootImage(config, images, accel);
}

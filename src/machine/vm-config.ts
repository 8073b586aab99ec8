/**
 * What a VM is made of, as the CLI (or later the daemon) decided it. Plain
 * data only: it crosses into the machine worker thread by structured clone.
 */
import { MIN_RAM_SIZE } from './memory-layout';
import type { VirtioConfig } from './virtio-config';

export type AccelName = 'kvm' | 'tcg';

export type SerialTarget =
  | { kind: 'stdio' }
  | { kind: 'none' }
  | { kind: 'file'; path: string };

export type KernelFormat =
  /** Detect from the image: bzImage, PVH ELF, Multiboot. */
  | { kind: 'auto' }
  /** A bzImage booted through its own 64-bit entry, its decompressor run in the guest (never decompressed on the host). */
  | { kind: 'bzimage' }
  /** A flat binary for test guests: loaded at `load`, entered at `entry` in the given mode. */
  | { kind: 'raw'; load: number; entry: number; mode: 16 | 32 | 64 };

/** The virtio fields (machine type, disks, nets, rng, console) are optional: virtioConfigOf() fills the defaults. */
export interface VmConfig extends Partial<VirtioConfig> {
  kernelPath: string;
  kernelFormat: KernelFormat;
  initrdPath?: string;
  append: string;
  memoryBytes: number;
  cpus: number;
  /** Accelerators to try, in order (QEMU's `kvm:tcg`); `auto` expands to kvm-if-usable then tcg. */
  accel: AccelName[] | 'auto';
  serial: SerialTarget;
  noReboot: boolean;
  name?: string;
}

/** The smallest RAM the machine layout accepts (firmware tables, boot scratch, kernel at 1 MiB). */
export const MIN_MEMORY = MIN_RAM_SIZE;
export const MAX_MEMORY = 1024 * 1024 * 1024 * 1024; // 1 TiB: far beyond what we test, below 2^53
export const MAX_CPUS = 16;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses a size the way QEMU's -m does: a bare number is MiB; suffixes
 * K/M/G/T (optionally followed by B or iB, any case) scale by 1024.
 */
export function parseMemorySize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT])?(?:i?[bB])?\s*$/.exec(text);
  if (!m) throw new ConfigError(`bad memory size '${text}': expected a number with an optional K, M, G or T suffix (e.g. 256M, 2G)`);
  const value = Number(m[1]);
  const unit = (m[2] ?? 'M').toUpperCase();
  const scale = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[unit] ?? 2 ** 20;
  const bytes = Math.floor(value * scale);
  if (bytes < MIN_MEMORY) throw new ConfigError(`memory size '${text}' is too small: at least ${MIN_MEMORY / 2 ** 20}M`);
  if (bytes > MAX_MEMORY) throw new ConfigError(`memory size '${text}' is too large: at most 1T`);
  if (bytes % 4096 !== 0) throw new ConfigError(`memory size '${text}' is not a multiple of 4 KiB`);
  return bytes;
}

/** Parses a guest address or small integer: decimal or 0x-hex. */
export function parseAddress(text: string, what: string): number {
  const t = text.trim();
  const value = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(value)) throw new ConfigError(`bad ${what} '${text}': expected a decimal or 0x-hex number`);
  return value;
}

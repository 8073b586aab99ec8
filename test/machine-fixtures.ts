/** Shared helpers for the machine tests: guest memory, the built guest, synthetic images. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GuestMemory } from '../src/memory/guest-memory';
import { memoryLayout } from '../src/machine/memory-layout';

/** Guest memory laid out as the machine would for `bytes` of RAM (the buffers are lazily zeroed pages). */
export function guestMemory(bytes: number): GuestMemory {
  return new GuestMemory(memoryLayout(bytes).ram.map((r) => ({ guestAddress: r.guestAddress, bytes: new Uint8Array(r.size) })));
}

export function guestCacheDir(variant = 'cloud'): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'tsvisor', `guest-${variant}`);
}

/** The kernel and initrd built by scripts/build-guest, or undefined when not built. */
export function builtGuest(variant = 'cloud'): { kernel: Uint8Array; initrd: Uint8Array } | undefined {
  const dir = guestCacheDir(variant);
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.img');
  if (!existsSync(kernel) || !existsSync(initrd)) return undefined;
  return { kernel: readFileSync(kernel), initrd: readFileSync(initrd) };
}

export const NO_GUEST_MESSAGE = 'default guest not built: run scripts/build-guest first';

/**
 * A minimal bzImage: boot sector + `setupSects` setup sectors with a 2.15
 * header, then `kernelBytes` of protected-mode "kernel" filled with a pattern.
 */
export function fakeBzImage(opts: { kernelBytes?: number; version?: number; initSize?: number; setupSects?: number } = {}): Uint8Array {
  const setupSects = opts.setupSects ?? 4;
  const kernelBytes = opts.kernelBytes ?? 0x10000;
  const setupBytes = (setupSects + 1) * 512;
  const image = new Uint8Array(setupBytes + kernelBytes);
  const v = new DataView(image.buffer);
  image[0x1f1] = setupSects;
  v.setUint32(0x1f4, kernelBytes / 16, true);
  v.setUint16(0x1fe, 0xaa55, true);
  image[0x200] = 0xeb;
  image[0x201] = 0x6a;
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, opts.version ?? 0x020f, true);
  image[0x211] = 0x01; // LOADED_HIGH
  v.setUint32(0x22c, 0x7fffffff, true);
  v.setUint32(0x230, 0x200000, true);
  image[0x234] = 1;
  v.setUint16(0x236, 0x7f, true);
  v.setUint32(0x238, 2047, true);
  v.setBigUint64(0x258, 0x1000000n, true);
  v.setUint32(0x260, opts.initSize ?? 0x400000, true);
  for (let i = 0; i < kernelBytes; i++) image[setupBytes + i] = (i * 7 + 3) & 0xff;
  return image;
}

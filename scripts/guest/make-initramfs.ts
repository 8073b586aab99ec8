/**
 * Builds the default guest's initramfs from an unpacked kernel package and
 * busybox-static. Called by scripts/build-guest:
 *   node dist/scripts/guest/make-initramfs.js --modules-dir DIR --busybox FILE --init FILE --out FILE
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { buildInitramfs } from '../../src/machine/initramfs';
import { modulesDep, resolveModules } from './kernel-modules';

/** Virtio drivers (and for the generic kernel, ext4) the default guest loads at boot. */
export const GUEST_MODULES = [
  'virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_mmio',
  'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'virtio_console', 'virtio_rng', 'ext4',
  // ext4 checksums its metadata with crc32c, found through the crypto API rather than a module dependency.
  'crc32c_generic',
];

function option(args: string[], name: string): string {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`make-initramfs: missing ${name}`);
  return args[i + 1];
}

function main(args: string[]): void {
  const modulesDir = option(args, '--modules-dir');
  const version = basename(modulesDir);
  const { ordered, missing } = resolveModules(modulesDir, GUEST_MODULES);
  const files: Record<string, Uint8Array | string> = {};
  for (const m of ordered) files[`lib/modules/${version}/${m.relativePath}`] = readFileSync(m.absolutePath);
  files[`lib/modules/${version}/modules.dep`] = modulesDep(ordered);
  files['etc/tsvisor-modules'] = ordered.map((m) => m.relativePath).join('\n') + '\n';
  const image = buildInitramfs({
    init: readFileSync(option(args, '--init'), 'utf8'),
    busybox: readFileSync(option(args, '--busybox')),
    files,
  });
  writeFileSync(option(args, '--out'), image);
  process.stderr.write(
    `initramfs: ${ordered.length} modules (${ordered.map((m) => m.name).join(' ')}); ` +
      `built in or absent: ${missing.join(' ') || 'none'}; ${image.length} bytes\n`,
  );
}

main(process.argv.slice(2));

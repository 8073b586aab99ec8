import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalModuleName, modulesDep, readModuleDepends, resolveModules } from '../scripts/guest/kernel-modules';

/** A fake .ko: only the .modinfo strings matter to the resolver. */
function ko(depends: string): Uint8Array {
  return new TextEncoder().encode(`\x7fELF....\0license=GPL\0depends=${depends}\0name=x\0`);
}

t.test('modules come after their dependencies; built-ins are reported missing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-mods-'));
  try {
    mkdirSync(join(dir, 'kernel', 'drivers', 'virtio'), { recursive: true });
    mkdirSync(join(dir, 'kernel', 'drivers', 'char', 'hw_random'), { recursive: true });
    writeFileSync(join(dir, 'kernel', 'drivers', 'virtio', 'virtio_ring.ko'), ko(''));
    writeFileSync(join(dir, 'kernel', 'drivers', 'virtio', 'virtio.ko'), ko('virtio_ring'));
    writeFileSync(join(dir, 'kernel', 'drivers', 'char', 'hw_random', 'virtio-rng.ko'), ko('virtio,virtio_ring,rng-core'));
    const { ordered, missing } = resolveModules(dir, ['virtio_rng', 'ext4']);
    t.same(ordered.map((m) => m.name), ['virtio_ring', 'virtio', 'virtio_rng']);
    t.same(missing, ['rng_core', 'ext4']);
    t.equal(ordered[2].relativePath, 'kernel/drivers/char/hw_random/virtio-rng.ko');
    t.equal(
      modulesDep(ordered),
      'kernel/drivers/virtio/virtio_ring.ko:\n' +
        'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n' +
        'kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.test('names are canonical (dashes to underscores, no .ko)', async (t) => {
  t.equal(canonicalModuleName('virtio-rng.ko'), 'virtio_rng');
  t.same(readModuleDepends(ko('')), []);
  t.same(readModuleDepends(ko('a-b,c')), ['a_b', 'c']);
});

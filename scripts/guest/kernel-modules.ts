/**
 * Picks kernel modules out of an unpacked linux-image package and orders
 * them so each comes after its dependencies. Dependencies come from each
 * module's own .modinfo "depends=" string, so no depmod (kmod) is needed on
 * the build host.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface KernelModule {
  /** Canonical name: underscores, no .ko ("virtio_rng"). */
  readonly name: string;
  /** Path relative to lib/modules/<version>/ ("kernel/drivers/char/hw_random/virtio-rng.ko"). */
  readonly relativePath: string;
  readonly absolutePath: string;
  readonly depends: readonly string[];
}

export function canonicalModuleName(name: string): string {
  return name.replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');
}

/** "depends=a,b" from the NUL-separated .modinfo strings embedded in the .ko file. */
export function readModuleDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength).toString('latin1');
  const m = /\0depends=([^\0]*)\0/.exec(text);
  if (!m || m[1] === '') return [];
  return m[1].split(',').map(canonicalModuleName);
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ko')) out.push(p);
  }
  return out;
}

/** Every uncompressed module under <modulesDir>/kernel, by canonical name. */
export function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  for (const p of walk(join(modulesDir, 'kernel'), [])) {
    index.set(canonicalModuleName(p.split('/').pop() ?? p), p);
  }
  return index;
}

/**
 * The wanted modules plus their dependencies, dependencies first. Names that
 * are not modules (built into this kernel, or absent) are skipped and
 * reported in `missing`.
 */
export function resolveModules(modulesDir: string, wanted: readonly string[]): { ordered: KernelModule[]; missing: string[] } {
  const index = indexModules(modulesDir);
  const ordered: KernelModule[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const missing: string[] = [];
  const visit = (raw: string): void => {
    const name = canonicalModuleName(raw);
    if (done.has(name) || visiting.has(name)) return;
    const path = index.get(name);
    if (!path) {
      if (!missing.includes(name)) missing.push(name);
      return;
    }
    visiting.add(name);
    const depends = readModuleDepends(readFileSync(path));
    depends.forEach(visit);
    visiting.delete(name);
    done.add(name);
    ordered.push({ name, relativePath: relative(modulesDir, path), absolutePath: path, depends });
  };
  wanted.forEach(visit);
  return { ordered, missing };
}

/** modules.dep in the format busybox modprobe reads, for just these modules. */
export function modulesDep(modules: readonly KernelModule[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  return modules
    .map((m) => {
      const deps = m.depends.map((d) => byName.get(d)?.relativePath).filter((p): p is string => p !== undefined);
      return `${m.relativePath}:${deps.length ? ' ' + deps.join(' ') : ''}\n`;
    })
    .join('');
}

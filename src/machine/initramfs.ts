/**
 * Builds gzip-compressed initramfs images: a busybox root with an /init
 * script, plus any files. scripts/build-guest uses it for the default guest;
 * tests use it to boot a kernel into a custom /init.
 */
import { gzipSync } from 'node:zlib';
import { CpioEntry, writeCpio } from './cpio';

export interface InitramfsSpec {
  /** The /init script (a shell script run by busybox sh when `busybox` is given). */
  readonly init: string;
  /** A static busybox binary, installed as /bin/busybox with /bin/sh pointing at it. */
  readonly busybox?: Uint8Array;
  /** Extra files: path -> contents (strings are UTF-8); mode 0644, or 0755 under bin/ and sbin/. */
  readonly files?: Readonly<Record<string, Uint8Array | string>>;
  /** Extra symlinks: path -> target. */
  readonly symlinks?: Readonly<Record<string, string>>;
  /** gzip the archive (default true). */
  readonly compress?: boolean;
}

/** Directories every init expects, and the mount points /init uses. */
const BASE_DIRS = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'root', 'mnt', 'lib'];

function parentsOf(path: string): string[] {
  const parts = path.replace(/^\/+/, '').split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

function isExecutablePath(path: string): boolean {
  return /^\/?(usr\/)?s?bin\//.test(path);
}

export function buildInitramfs(spec: InitramfsSpec): Uint8Array {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const addDir = (d: string): void => {
    if (dirs.has(d)) return;
    for (const p of parentsOf(d)) addDir(p);
    dirs.add(d);
    entries.push({ type: 'dir', path: d });
  };
  const addParents = (path: string): void => parentsOf(path).forEach(addDir);

  BASE_DIRS.forEach(addDir);
  // The kernel opens /dev/console for init's stdio before anything mounts devtmpfs.
  entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  entries.push({ type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  if (spec.busybox) {
    entries.push({ type: 'file', path: 'bin/busybox', data: spec.busybox, mode: 0o755 });
    entries.push({ type: 'symlink', path: 'bin/sh', target: 'busybox' });
  }
  for (const [path, contents] of Object.entries(spec.files ?? {})) {
    addParents(path);
    const data = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
    entries.push({ type: 'file', path, data, mode: isExecutablePath(path) ? 0o755 : 0o644 });
  }
  for (const [path, target] of Object.entries(spec.symlinks ?? {})) {
    addParents(path);
    entries.push({ type: 'symlink', path, target });
  }
  entries.push({ type: 'file', path: 'init', data: new TextEncoder().encode(spec.init), mode: 0o755 });
  const archive = writeCpio(entries);
  return spec.compress === false ? archive : new Uint8Array(gzipSync(archive, { level: 6 }));
}

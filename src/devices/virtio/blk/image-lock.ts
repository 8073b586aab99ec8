/**
 * Keeps two VMMs from writing one disk image at the same time.
 *
 * QEMU does this with open-file-description byte-range locks (fcntl
 * F_OFD_SETLK) on fixed bytes of the image, which the kernel drops when the
 * holder dies. Node exposes neither fcntl nor flock, so in pure Node we use an
 * exclusive lock file created with O_EXCL holding the owner's pid; a lock
 * whose pid no longer exists is stale and is taken over. The lock file sits
 * next to the image (by real path, so symlinks agree) or, where that directory
 * is not writable, in the temp directory keyed by device and inode.
 *
 * Known limits, which an OFD lock from the native addon would remove: it does
 * not see QEMU's locks nor QEMU ours, a reused pid keeps a stale lock alive,
 * and a lock file on a shared filesystem names a pid of another host.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class ImageLockError extends Error {
  override name = 'ImageLockError';
}

export interface ImageLock {
  readonly lockPath: string;
  release(): void;
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockPathsFor(imagePath: string): string[] {
  const real = fs.realpathSync(imagePath);
  const st = fs.statSync(real);
  return [
    path.join(path.dirname(real), `.${path.basename(real)}.tsvisor-lock`),
    path.join(os.tmpdir(), `tsvisor-image-${st.dev}-${st.ino}.lock`),
  ];
}

function readOwner(lockPath: string): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
}

/** The pid of a live process holding a write lock on the image, if any. */
export function imageLockOwner(imagePath: string): number | undefined {
  for (const p of lockPathsFor(imagePath)) {
    const pid = readOwner(p);
    if (pid !== undefined && processAlive(pid)) return pid;
  }
  return undefined;
}

/**
 * Takes the write lock on an image or throws ImageLockError naming the
 * holder. The lock goes away with release() or when this process exits.
 */
export function acquireImageLock(imagePath: string): ImageLock {
  const candidates = lockPathsFor(imagePath);
  const holder = imageLockOwner(imagePath);
  if (holder !== undefined && holder !== process.pid) {
    throw new ImageLockError(`disk image ${imagePath} is in use for writing by process ${holder}; refusing to open it read-write`);
  }
  let lastError: unknown;
  for (const lockPath of candidates) {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(lockPath, 'wx', 0o644);
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        return ownLock(lockPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        lastError = e;
        if (code !== 'EEXIST') break; // directory not writable: try the next place
        const owner = readOwner(lockPath);
        if (owner === process.pid) throw new ImageLockError(`disk image ${imagePath} is already open read-write in this process`);
        if (owner !== undefined && processAlive(owner)) {
          throw new ImageLockError(`disk image ${imagePath} is in use for writing by process ${owner}; refusing to open it read-write`);
        }
        try { fs.unlinkSync(lockPath); } catch { /* someone else cleared it */ }
      }
    }
  }
  throw new ImageLockError(`cannot lock disk image ${imagePath}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

function ownLock(lockPath: string): ImageLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    if (readOwner(lockPath) === process.pid) {
      try { fs.unlinkSync(lockPath); } catch { /* already gone */ }
    }
  };
  process.on('exit', release);
  return { lockPath, release };
}

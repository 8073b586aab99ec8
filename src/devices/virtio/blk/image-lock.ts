/**
 * Keeps two VMMs from writing one disk image at the same time, in a way QEMU
 * understands: open-file-description byte-range locks on the image's own fd,
 * at the bytes QEMU (block/file-posix.c, 7.2) uses.
 *
 * The scheme, per permission bit i (consistent read, write, write unchanged,
 * resize, graph change):
 * - byte 100 + i carries a shared lock from everyone who *holds* permission i;
 * - byte 200 + i carries a shared lock from everyone who *refuses to share* it.
 * An opener first takes its own bytes, then asks (F_OFD_GETLK, as for an
 * exclusive lock, so any other holder shows) whether anyone refuses a
 * permission it wants (byte 200 + i) or holds one it refuses to share
 * (byte 100 + i). Shared locks never block each other, so two openers racing
 * both see each other and both fail, never both succeed.
 *
 * We take what a QEMU guest device without share-rw takes (seen in
 * /proc/locks for `-drive if=virtio`): read-write holds consistent read and
 * write and refuses to share write (bytes 100, 101, 201); read-only holds
 * consistent read and refuses to share write (100, 201). So writers exclude
 * everyone, readers coexist, and QEMU fails with 'Failed to get "write" lock'
 * on an image we write, as we fail on one it writes.
 *
 * The kernel drops OFD locks when the fd closes or the process dies, so there
 * is no stale state. The locks live on the open file description: a second
 * open of the same image in this process conflicts like another process.
 */
import { findLockHolder } from './lock-holder';
import { ofdLockAddon } from '../../../kvm/ofd-lock';

export class ImageLockError extends Error {
  override name = 'ImageLockError';
}

/** The native calls (src/kvm/ofd-lock.ts); injectable for tests. */
export interface OfdLockAddon {
  /** F_OFD_SETLK, shared (F_RDLCK) or exclusive; throws with code EAGAIN on a conflict. */
  ofdLock(fd: number, start: number, length: number, shared: boolean): void;
  ofdUnlock(fd: number, start: number, length: number): void;
  /** F_OFD_GETLK: would taking this lock conflict with another open file description's? */
  ofdConflict(fd: number, start: number, length: number, shared: boolean): boolean;
}

export const LOCK_PERM_BASE = 100;
export const LOCK_SHARED_BASE = 200;

/** QEMU's BLK_PERM_* bit numbers and the names its messages use. */
export const PERM_CONSISTENT_READ = 0;
export const PERM_WRITE = 1;
export const PERM_WRITE_UNCHANGED = 2;
export const PERM_RESIZE = 3;
export const PERM_GRAPH_MOD = 4;
const PERM_NAMES = ['consistent read', 'write', 'write unchanged', 'resize', 'change children'];
const PERM_COUNT = PERM_NAMES.length;

const bit = (i: number): number => 1 << i;
const ALL_PERMS = bit(PERM_COUNT) - 1;

/** What a QEMU guest device without share-rw asks for: see the file comment. */
function permsFor(readOnly: boolean): { perm: number; shared: number } {
  const perm = bit(PERM_CONSISTENT_READ) | (readOnly ? 0 : bit(PERM_WRITE));
  const shared = ALL_PERMS & ~bit(PERM_WRITE);
  return { perm, shared };
}

export interface ImageLock {
  /** Drops the lock bytes; closing the fd does the same. */
  release(): void;
}

/** The bytes this opener locks, each shared. */
function ownBytes(perm: number, shared: number): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < PERM_COUNT; i++) {
    if (perm & bit(i)) bytes.push(LOCK_PERM_BASE + i);
    if (!(shared & bit(i))) bytes.push(LOCK_SHARED_BASE + i);
  }
  return bytes;
}

/** The first conflict: another opener refusing a permission we want, or holding one we refuse to share. */
function findConflict(addon: OfdLockAddon, fd: number, perm: number, shared: number): { byte: number; what: string } | undefined {
  for (let i = 0; i < PERM_COUNT; i++) {
    const byte = LOCK_SHARED_BASE + i;
    if (perm & bit(i) && addon.ofdConflict(fd, byte, 1, false)) return { byte, what: `"${PERM_NAMES[i]}" lock` };
  }
  for (let i = 0; i < PERM_COUNT; i++) {
    const byte = LOCK_PERM_BASE + i;
    if (!(shared & bit(i)) && addon.ofdConflict(fd, byte, 1, false)) return { byte, what: `shared "${PERM_NAMES[i]}" lock` };
  }
  return undefined;
}

function conflictError(imagePath: string, fd: number, byte: number, what: string, readOnly: boolean): ImageLockError {
  const holder = findLockHolder(fd, byte);
  const who = holder ? `process ${holder.pid}${holder.command ? ` (${holder.command})` : ''}` : 'another process';
  return new ImageLockError(
    `disk image ${imagePath} is in use by ${who}: failed to get ${what}; refusing to open it ${readOnly ? 'read-only' : 'read-write'}`,
  );
}

/**
 * Locks the image open on `fd` (opened read-only or read-write as
 * `readOnly` says) or throws ImageLockError naming the holder when it can.
 */
export function lockImage(fd: number, imagePath: string, readOnly: boolean, addon: OfdLockAddon = ofdLockAddon()): ImageLock {
  const { perm, shared } = permsFor(readOnly);
  const release = (): void => {
    try {
      addon.ofdUnlock(fd, LOCK_PERM_BASE, LOCK_SHARED_BASE + PERM_COUNT - LOCK_PERM_BASE);
    } catch { /* the fd is closed already, which dropped the locks */ }
  };
  try {
    for (const byte of ownBytes(perm, shared)) {
      try {
        addon.ofdLock(fd, byte, 1, true);
      } catch (e) {
        // Only an exclusive lock (not QEMU's scheme, but some tool's) blocks a shared one.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') throw conflictError(imagePath, fd, byte, 'a lock (held exclusively)', readOnly);
        throw e;
      }
    }
    const conflict = findConflict(addon, fd, perm, shared);
    if (conflict) throw conflictError(imagePath, fd, conflict.byte, conflict.what, readOnly);
  } catch (e) {
    release();
    if (e instanceof ImageLockError) throw e;
    throw new ImageLockError(`cannot lock disk image ${imagePath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { release };
}

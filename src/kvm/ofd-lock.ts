/**
 * The addon's open-file-description lock calls (fcntl F_OFD_SETLK /
 * F_OFD_GETLK), which Node lacks, as the OfdLockAddon the disk image lock
 * (src/devices/virtio/blk/image-lock.ts) is written against.
 */
import { kvmBinding } from './binding';
import { OfdLockAddon } from '../devices/virtio/blk/image-lock';

function isOfdLockBinding(b: object): b is OfdLockAddon {
  const l = b as Partial<Record<keyof OfdLockAddon, unknown>>;
  return typeof l.ofdLock === 'function' && typeof l.ofdUnlock === 'function' && typeof l.ofdConflict === 'function';
}

/** Throws when the addon is missing or too old to have the lock calls. */
export function ofdLockAddon(): OfdLockAddon {
  const b: object = kvmBinding();
  if (!isOfdLockBinding(b)) throw new Error('the native addon lacks ofdLock/ofdConflict; rebuild it (npx node-gyp rebuild --nodedir=/usr)');
  return {
    ofdLock: (fd, start, length, shared) => b.ofdLock(fd, start, length, shared),
    ofdUnlock: (fd, start, length) => b.ofdUnlock(fd, start, length),
    ofdConflict: (fd, start, length, shared) => b.ofdConflict(fd, start, length, shared),
  };
}

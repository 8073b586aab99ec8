/**
 * The addon's TAP functions as the TapAddon that TapBackend
 * (src/devices/virtio/net/tap-backend.ts) is written against. Errors carry
 * the ioctl and errno: "TUNSETIFF: EPERM".
 */
import { kvmBinding } from './binding';
import { TapAddon } from '../devices/virtio/net/tap-backend';

interface TapBinding extends TapAddon {
  tapOpen(name: string, flags: number): { fd: number; name: string };
}

function isTapBinding(b: object): b is TapBinding {
  const t = b as Partial<Record<keyof TapAddon, unknown>>;
  return typeof t.tapOpen === 'function' && typeof t.tapSetVnetHdrSz === 'function'
    && typeof t.tapSetOffload === 'function' && typeof t.tapGetFlags === 'function';
}

/** The addon's TAP functions; throws when the addon is missing or too old to have them. */
export function tapAddon(): TapAddon {
  const b: object = kvmBinding();
  if (!isTapBinding(b)) throw new Error('the native addon lacks the TAP functions; rebuild it (npm run build)');
  return {
    tapOpen: (name, flags) => b.tapOpen(name, flags),
    tapSetVnetHdrSz: (fd, size) => b.tapSetVnetHdrSz(fd, size),
    tapSetOffload: (fd, flags) => b.tapSetOffload(fd, flags),
    tapGetFlags: (fd) => b.tapGetFlags(fd),
  };
}

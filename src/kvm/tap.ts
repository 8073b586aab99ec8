/**
 * The addon's TAP functions as the TapAddon that TapBackend
 * (src/devices/virtio/net/tap-backend.ts) is written against. Errors carry
 * the ioctl and errno: "TUNSETIFF: EPERM".
 */
import { kvmBinding } from './binding';
import { TapAddon } from '../devices/virtio/net/tap-backend';

interface TapBinding extends TapAddon {
  fdSetNonBlocking(fd: number): void;
}

function isTapBinding(b: object): b is TapBinding {
  const t = b as Partial<Record<keyof TapAddon, unknown>>;
  return typeof t.tapOpen === 'function' && typeof t.tapSetVnetHdrSz === 'function'
    && typeof t.tapSetOffload === 'function' && typeof t.tapGetFlags === 'function'
    && typeof (b as Partial<Record<'fdSetNonBlocking', unknown>>).fdSetNonBlocking === 'function';
}

function binding(): TapBinding {
  const b: object = kvmBinding();
  if (!isTapBinding(b)) throw new Error('the native addon lacks the TAP functions; rebuild it (npm run build)');
  return b;
}

/**
 * Makes an inherited TAP fd non-blocking. TapBackend reads with fs.read; on
 * a blocking fd an idle link pins a libuv pool thread, which libuv joins at
 * exit, so the process would never end. tapOpen's fds are non-blocking already.
 */
export function setTapNonBlocking(fd: number): void {
  binding().fdSetNonBlocking(fd);
}

/** The addon's TAP functions; throws when the addon is missing or too old to have them. */
export function tapAddon(): TapAddon {
  const b = binding();
  return {
    tapOpen: (name, flags) => b.tapOpen(name, flags),
    tapSetVnetHdrSz: (fd, size) => b.tapSetVnetHdrSz(fd, size),
    tapSetOffload: (fd, flags) => b.tapSetOffload(fd, flags),
    tapGetFlags: (fd) => b.tapGetFlags(fd),
  };
}

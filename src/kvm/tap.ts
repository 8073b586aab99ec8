/**
 * The addon's TAP functions as the TapAddon that TapBackend
 * (src/devices/virtio/net/tap-backend.ts) is written against. Errors carry
 * the ioctl and errno: "TUNSETIFF: EPERM".
 */
import { kvmBinding } from './binding';
import { FdWatchBinding, isFdWatchBinding, watchFd } from './fd-watch';
import { TapAddon } from '../devices/virtio/net/tap-backend';

interface TapBinding extends Omit<TapAddon, 'watchReadable'>, FdWatchBinding {
  fdSetNonBlocking(fd: number): void;
}

function isTapBinding(b: object): b is TapBinding {
  const t = b as Partial<Record<keyof TapBinding, unknown>>;
  return isFdWatchBinding(b)
    && (['tapOpen', 'tapSetVnetHdrSz', 'tapSetOffload', 'tapGetFlags', 'fdSetNonBlocking'] as const).every((f) => typeof t[f] === 'function');
}

function binding(): TapBinding {
  const b: object = kvmBinding();
  if (!isTapBinding(b)) throw new Error('the native addon lacks the TAP functions; rebuild it (npm run build)');
  return b;
}

/**
 * Makes an inherited TAP fd non-blocking. TapBackend reads it when the event
 * loop says it is readable and until EAGAIN; on a blocking fd that last read
 * would block the machine thread. tapOpen's fds are non-blocking already.
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
    watchReadable: (fd, onReadable) => watchFd(b, fd, (status) => {
      onReadable(status < 0 ? new Error(`fd ${fd} poll failed: errno ${-status}`) : undefined);
    }),
  };
}

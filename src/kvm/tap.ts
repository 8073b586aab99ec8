/**
 * The addon's TAP functions as the TapAddon that TapBackend
 * (src/devices/virtio/net/tap-backend.ts) is written against. Errors carry
 * the ioctl and errno: "TUNSETIFF: EPERM".
 */
import { kvmBinding } from './binding';
import { TapAddon } from '../devices/virtio/net/tap-backend';

interface TapBinding extends Omit<TapAddon, 'watchReadable'> {
  fdSetNonBlocking(fd: number): void;
  /** native/fd-watch.cc: the callback gets 0, or a negative libuv errno. */
  fdWatchCreate(fd: number, callback: (status: number) => void): object;
  fdWatchStart(handle: object): void;
  fdWatchStop(handle: object): void;
  fdWatchClose(handle: object): void;
}

function isTapBinding(b: object): b is TapBinding {
  const t = b as Partial<Record<keyof TapBinding, unknown>>;
  return (['tapOpen', 'tapSetVnetHdrSz', 'tapSetOffload', 'tapGetFlags', 'fdSetNonBlocking',
    'fdWatchCreate', 'fdWatchStart', 'fdWatchStop', 'fdWatchClose'] as const).every((f) => typeof t[f] === 'function');
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
    watchReadable: (fd, onReadable) => {
      const handle = b.fdWatchCreate(fd, (status) => {
        onReadable(status < 0 ? new Error(`fd ${fd} poll failed: errno ${-status}`) : undefined);
      });
      return {
        start: () => b.fdWatchStart(handle),
        stop: () => b.fdWatchStop(handle),
        close: () => b.fdWatchClose(handle),
      };
    },
  };
}

/**
 * The addon's fd readiness watch (native/fd-watch.cc): a libuv poll handle on
 * the calling thread's loop, for fds Node cannot watch itself (eventfds, TAP
 * character devices). Shared by the ioeventfd doorbells, the INTx resample
 * fds and the TAP backend.
 */
import { kvmBinding } from './binding';

export interface FdWatchBinding {
  /** The callback gets 0, or a negative libuv errno. */
  fdWatchCreate(fd: number, callback: (status: number) => void): object;
  fdWatchStart(handle: object): void;
  fdWatchStop(handle: object): void;
  fdWatchClose(handle: object): void;
}

export interface FdWatch {
  start(): void;
  stop(): void;
  /** Stops polling for good; call it before the fd is closed, so its number can be reused safely. */
  close(): void;
}

export function isFdWatchBinding(b: object): b is FdWatchBinding {
  const w = b as Partial<Record<keyof FdWatchBinding, unknown>>;
  return (['fdWatchCreate', 'fdWatchStart', 'fdWatchStop', 'fdWatchClose'] as const).every((f) => typeof w[f] === 'function');
}

/** Undefined when the addon is too old to watch fds. */
export function fdWatchBinding(): FdWatchBinding | undefined {
  const b: object = kvmBinding();
  return isFdWatchBinding(b) ? b : undefined;
}

/** A watch on `fd` (not yet started) that calls `onPoll` each time the loop finds it readable. */
export function watchFd(b: FdWatchBinding, fd: number, onPoll: (status: number) => void): FdWatch {
  const handle = b.fdWatchCreate(fd, onPoll);
  return {
    start: () => b.fdWatchStart(handle),
    stop: () => b.fdWatchStop(handle),
    close: () => b.fdWatchClose(handle),
  };
}

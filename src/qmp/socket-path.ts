/**
 * Binding the monitor's Unix socket safely: owner-only permissions from the
 * moment it exists (the monitor can stop or kill the guest), a leftover
 * socket of a dead process replaced, and a socket someone still serves
 * refused rather than stolen.
 */
import { connect, Server } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';

export class QmpSocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QmpSocketError';
  }
}

/** Whether a process accepts connections on the socket at `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

/** Remove a stale socket at `path`; refuse a live one or a path that is not a socket. */
export async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new QmpSocketError(`QMP socket path ${path} exists and is not a socket`);
  if (await isLive(path)) throw new QmpSocketError(`QMP socket ${path} is in use by a running process`);
  unlinkSync(path);
}

/** listen() on `path` with mode 0600, no window in which others could connect. */
export function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new QmpSocketError(`cannot listen on QMP socket ${path}: ${e.message}`));
    server.once('error', onError);
    // The socket file is created by bind() inside listen(), synchronously
    // for a path; the umask makes it 0600 from birth.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        try {
          chmodSync(path, 0o600);
        } catch {
          // the umask already did it; chmod only guards an odd umask-less platform
        }
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

/**
 * The QMP monitor: a listening Unix socket (a path, or a descriptor handed
 * over by a parent such as libvirt) serving any number of clients at once.
 * Each client negotiates capabilities by itself and gets every VM event once
 * negotiated. (QEMU serves one client per socket and keeps others waiting
 * in the backlog; serving them all is a superset clients cannot tell apart,
 * except that a second client is answered instead of hanging.)
 *
 * Usage by the CLI:
 *   const qmp = await startQmpServer({ path, wait, vm, log, onQuit: () => process.exit(0) });
 * With wait=true the promise resolves only once the first client has
 * connected, so the caller starts the guest after that (QEMU's wait=on).
 */
import { createServer, Server, Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import { ArgumentValidator } from './argument-validator';
import { MonitorServices } from './command-context';
import { COMMANDS } from './commands';
import { Dispatcher } from './dispatcher';
import { eventMessage } from './events';
import { buildSchemaInfo } from './introspection';
import { JsonObject } from './json-value';
import { DEFAULT_MAX_MESSAGE_BYTES } from './json-streamer';
import { loadCommandSchemas, loadEventSchemas } from './schema-files';
import { QmpSession } from './session';
import { clearStaleSocket, listenPrivately, QmpSocketError } from './socket-path';
import { versionInfo } from './commands/queries';
import { onVmEvent, VmControl } from './vm-control';
import { Logger } from '../log';

export { QmpSocketError };

export interface QmpServerOptions {
  /** Unix socket path to create. Exactly one of path and fd. */
  path?: string;
  /** An already listening socket inherited from the parent (--qmp-fd N). */
  fd?: number;
  /** Resolve only after the first client connected (QEMU's wait=on). Default false. */
  wait?: boolean;
  vm: VmControl;
  log: Logger;
  /**
   * Called after `quit` (QMP or HMP `q`): the SHUTDOWN event and the reply
   * are flushed and clients closed. The CLI exits the process here.
   */
  onQuit: () => void;
  /** Input without a complete message beyond this many bytes ends the connection. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Unread output beyond this many bytes drops a client that does not read. Default 16 MiB. */
  maxPendingOutput?: number;
}

export interface QmpServer {
  /** The socket path (undefined for an inherited descriptor without a name). */
  readonly path: string | undefined;
  /** Clients connected now. */
  readonly clientCount: number;
  /** Stop listening, disconnect clients, remove the socket file we created. */
  close(): Promise<void>;
}

interface SharedProtocol {
  dispatcher: (log: Logger) => Dispatcher;
  commandNames: string[];
  schemaInfo: () => JsonObject[];
}

let shared: SharedProtocol | undefined;

/**
 * One per process. Nothing is read or compiled here: schemas load when a
 * command first needs them, so the socket is ready as early as possible.
 * (test/qmp-commands.test.ts checks that every command has a schema.)
 */
function protocol(): SharedProtocol {
  if (shared) return shared;
  const validator = new ArgumentValidator();
  let schemaInfo: JsonObject[] | undefined;
  shared = {
    dispatcher: (log) => new Dispatcher(COMMANDS, validator, log),
    commandNames: Object.keys(COMMANDS).sort(),
    schemaInfo: () => (schemaInfo ??= buildSchemaInfo(loadCommandSchemas(), loadEventSchemas())),
  };
  return shared;
}

class QmpServerImpl implements QmpServer {
  private readonly sessions = new Set<QmpSession>();
  private readonly sockets = new Set<Socket>();
  private readonly net: Server;
  private readonly services: MonitorServices;
  private readonly dispatcher: Dispatcher;
  private readonly unsubscribe: () => void;
  private ownsPath = false;
  private quitting = false;
  private closed: Promise<void> | undefined;
  private firstClient: (() => void) | undefined;
  path: string | undefined;

  constructor(private readonly opts: QmpServerOptions) {
    const proto = protocol();
    this.dispatcher = proto.dispatcher(opts.log);
    this.path = opts.path;
    this.services = {
      get chardevFilename() { return chardev(); },
      commandNames: proto.commandNames,
      get schemaInfo() { return proto.schemaInfo(); },
      requestQuit: () => this.quit(),
    };
    const chardev = () => (this.path !== undefined ? `unix:${this.path},server=on` : `fd:${opts.fd}`);
    this.net = createServer((socket) => this.accept(socket));
    this.net.on('error', (e) => opts.log.error(`qmp: listening socket: ${e.message}`));
    this.unsubscribe = onVmEvent(opts.vm, (e) => {
      const message = eventMessage(e);
      for (const s of this.sessions) s.sendEvent(message);
    });
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  async listen(): Promise<void> {
    const connected = new Promise<void>((resolve) => { this.firstClient = resolve; });
    if (this.opts.fd !== undefined) {
      await new Promise<void>((resolve, reject) => {
        this.net.once('error', reject);
        this.net.listen({ fd: this.opts.fd }, () => { this.net.off('error', reject); resolve(); });
      }).catch((e: Error) => { throw new QmpSocketError(`cannot listen on QMP descriptor ${this.opts.fd}: ${e.message}`); });
      const address = this.net.address();
      if (typeof address === 'string' && address) this.path = address;
    } else if (this.opts.path !== undefined) {
      await clearStaleSocket(this.opts.path);
      await listenPrivately(this.net, this.opts.path);
      this.ownsPath = true;
    }
    this.opts.log.info(`qmp: listening on ${this.services.chardevFilename}`);
    if (this.opts.wait) {
      this.opts.log.info('qmp: waiting for a client before starting the guest (wait=on)');
      await connected;
    }
  }

  private accept(socket: Socket): void {
    if (this.quitting) { socket.destroy(); return; }
    this.sockets.add(socket);
    const session = new QmpSession(socket, {
      vm: this.opts.vm,
      monitor: this.services,
      dispatcher: this.dispatcher,
      greeting: { QMP: { version: versionInfo(), capabilities: ['oob'] } },
      log: this.opts.log,
      maxMessageBytes: this.opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      maxPendingOutput: this.opts.maxPendingOutput ?? 16 << 20,
    });
    this.sessions.add(session);
    socket.on('close', () => { this.sessions.delete(session); this.sockets.delete(socket); });
    this.firstClient?.();
  }

  private quit(): void {
    if (this.quitting) return;
    this.quitting = true;
    for (const s of this.sessions) s.stopProcessing();
    // After the current reply has been written (same tick), close and report.
    setImmediate(() => { void this.close().then(() => this.opts.onQuit()); });
  }

  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    this.unsubscribe();
    const listenerClosed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    const socketsClosed = [...this.sockets].map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) { resolve(); return; }
      s.once('close', () => resolve());
      s.end();
      // A client that does not read cannot hold the process.
      setTimeout(() => s.destroy(), 1000).unref();
    }));
    for (const s of this.sessions) s.stopProcessing();
    await Promise.all([listenerClosed, ...socketsClosed]);
    if (this.ownsPath && this.path !== undefined) {
      try { unlinkSync(this.path); } catch { /* already gone */ }
    }
  }
}

export async function startQmpServer(opts: QmpServerOptions): Promise<QmpServer> {
  if ((opts.path === undefined) === (opts.fd === undefined)) throw new QmpSocketError('QMP server needs exactly one of a socket path and a descriptor');
  const server = new QmpServerImpl(opts);
  await server.listen();
  return server;
}


/**
 * A raw QMP client for tests: sends bytes exactly as given and collects the
 * server's CRLF-terminated messages, so framing itself is under test.
 */
import { connect, Socket } from 'node:net';

export interface QmpMessage {
  [key: string]: unknown;
}

export class RawQmpClient {
  readonly lines: string[] = [];
  private buffer = '';
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      // Cut all complete lines, then keep the rest once (not per line: a
      // burst of thousands of replies would make that quadratic).
      let start = 0;
      let at: number;
      while ((at = this.buffer.indexOf('\r\n', start)) >= 0) {
        this.lines.push(this.buffer.slice(start, at));
        start = at + 2;
      }
      this.buffer = this.buffer.slice(start);
      this.wake();
    });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', () => { this.ended = true; this.wake(); });
  }

  static connect(path: string): Promise<RawQmpClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new RawQmpClient(s)));
      s.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Bytes not ending in CRLF (a framing error if non-empty at the end). */
  get partial(): string {
    return this.buffer;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Next whole message, parsed; rejects on timeout or EOF. */
  async next(timeoutMs = 5000): Promise<QmpMessage> {
    const line = await this.nextLine(timeoutMs);
    return JSON.parse(line) as QmpMessage;
  }

  async nextLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a QMP message');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.lines.shift() as string;
  }

  /** Send a command object and return the next non-event message (events are kept in `events`). */
  async execute(command: string, args?: unknown, id?: unknown): Promise<QmpMessage> {
    const msg: Record<string, unknown> = { execute: command };
    if (args !== undefined) msg.arguments = args;
    if (id !== undefined) msg.id = id;
    this.write(JSON.stringify(msg) + '\n');
    return this.nextReply();
  }

  readonly events: QmpMessage[] = [];

  async nextReply(timeoutMs = 5000): Promise<QmpMessage> {
    for (;;) {
      const m = await this.next(timeoutMs);
      if ('event' in m) this.events.push(m);
      else return m;
    }
  }

  /** Read the greeting and negotiate. */
  async negotiate(): Promise<QmpMessage> {
    const greeting = await this.next();
    const reply = await this.execute('qmp_capabilities');
    if (!('return' in reply)) throw new Error(`negotiation failed: ${JSON.stringify(reply)}`);
    return greeting;
  }

  /** Resolves when the server closes the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQmpServer, QmpServer, QmpServerOptions } from '../../src/qmp/server';
import { memoryLogger } from '../../src/log';
import { FakeVm, FakeVmOptions } from './fake-vm';

export interface FakeMonitor {
  vm: FakeVm;
  server: QmpServer;
  path: string;
  dir: string;
  quits: number;
  log: ReturnType<typeof memoryLogger>;
  connect(): Promise<RawQmpClient>;
  /** Connect, read the greeting and negotiate. */
  client(): Promise<RawQmpClient>;
  stop(): Promise<void>;
}

/** A monitor on a fresh socket in a private temp dir, serving a FakeVm. */
export async function startFakeMonitor(
  vmOptions: FakeVmOptions = {},
  serverOptions: Partial<QmpServerOptions> = {},
): Promise<FakeMonitor> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-qmp-'));
  const path = join(dir, 'qmp.sock');
  const vm = new FakeVm(vmOptions);
  const log = memoryLogger();
  const clients: RawQmpClient[] = [];
  const mon: FakeMonitor = {
    vm, path, dir, log, quits: 0,
    server: undefined as unknown as QmpServer,
    connect: async () => { const c = await RawQmpClient.connect(path); clients.push(c); return c; },
    client: async () => { const c = await mon.connect(); await c.negotiate(); return c; },
    stop: async () => {
      for (const c of clients) c.close();
      await mon.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  mon.server = await startQmpServer({ path, vm, log, onQuit: () => { mon.quits++; }, ...serverOptions });
  return mon;
}

import { spawn, spawnSync, ChildProcess } from 'node:child_process';

/** Whether Debian's qemu-system-x86_64 (the reference implementation) is installed. */
export function qemuAvailable(): boolean {
  return spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface QemuProcess {
  child: ChildProcess;
  path: string;
  stop(): Promise<void>;
}

/** Poll until something accepts connections on `path`. */
export async function waitForSocket(path: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = await RawQmpClient.connect(path);
      c.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listening on ${path}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * `qemu-system-x86_64 -S -nodefaults -nographic -machine none,accel=tcg -qmp unix:PATH,server=on,wait=off`.
 * Resolves when the process exists; it serves one client at a time, so
 * callers connect once (waitForSocket would use up its first accept).
 */
export function startQemu(path: string, extraArgs: string[] = []): QemuProcess {
  const child = spawn('qemu-system-x86_64', [
    '-S', '-nodefaults', '-nographic', '-machine', 'none,accel=tcg',
    '-qmp', `unix:${path},server=on,wait=off`, ...extraArgs,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    child, path,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}

/** Connect, retrying until the socket exists (QEMU creates it a few ms after start). */
export async function connectWhenReady(path: string, timeoutMs = 10000): Promise<RawQmpClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await RawQmpClient.connect(path);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/**
 * One client connection: greeting, streaming input, replies strictly in the
 * order of the requests (one command runs at a time per client, as in
 * QEMU), and events as they happen once the client has negotiated.
 *
 * A client cannot hurt the VM or other clients: input beyond the message
 * size limit ends the connection after an error reply, and a client that
 * stops reading is dropped once its unread output passes a bound instead of
 * growing the process without end.
 */
import { Socket } from 'node:net';
import { CommandContext, MonitorServices, SessionState } from './command-context';
import { Dispatcher } from './dispatcher';
import { JsonStreamer, StreamedMessage } from './json-streamer';
import { JsonObject } from './json-value';
import { frame } from './wire-format';
import { VmControl } from './vm-control';
import { Logger } from '../log';

export interface SessionOptions {
  vm: VmControl;
  monitor: MonitorServices;
  dispatcher: Dispatcher;
  greeting: JsonObject;
  log: Logger;
  maxMessageBytes: number;
  /** Unread output (bytes) after which a client that does not read is disconnected. */
  maxPendingOutput: number;
}

/** Stop reading while this many requests wait, so a flood of input queues in the kernel, not here. */
const QUEUE_HIGH = 256;
const QUEUE_LOW = 32;

export class QmpSession {
  readonly state: SessionState = { negotiated: false, oob: false };
  private readonly queue: StreamedMessage[] = [];
  private readonly streamer: JsonStreamer;
  private readonly ctx: CommandContext;
  private running = false;
  private closing = false;
  private paused = false;

  constructor(private readonly socket: Socket, private readonly opts: SessionOptions) {
    this.ctx = { vm: opts.vm, session: this.state, monitor: opts.monitor };
    this.streamer = new JsonStreamer((m) => this.enqueue(m), opts.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => {
      if (this.closing) return;
      try {
        this.streamer.feed(chunk);
      } catch (e) {
        this.abandon('input handling failed', e);
      }
    });
    socket.on('error', (e) => opts.log.debug(`qmp: client socket error: ${e.message}`));
    this.send(opts.greeting);
  }

  get closed(): boolean {
    return this.closing || this.socket.destroyed;
  }

  /** Deliver an event if this client has negotiated (QEMU sends none before). */
  sendEvent(message: JsonObject): void {
    if (this.state.negotiated && !this.closed) this.send(message);
  }

  /** Take no further requests (quit is under way); the reply being written still goes out. */
  stopProcessing(): void {
    this.closing = true;
    this.queue.length = 0;
  }

  /** Finish: flush what was written, then close. */
  end(): void {
    this.closing = true;
    this.queue.length = 0;
    this.socket.end();
  }

  /** A bug of ours must cost this one connection, never the process (and with it the guest). */
  private abandon(what: string, e: unknown): void {
    this.opts.log.error(`qmp: ${what}; dropping the client: ${e instanceof Error && e.stack ? e.stack : String(e)}`);
    this.running = false;
    this.closing = true;
    this.socket.destroy();
  }

  private send(message: JsonObject): void {
    if (this.socket.destroyed) return;
    this.socket.write(frame(message));
    if (this.socket.writableLength > this.opts.maxPendingOutput) {
      this.opts.log.warn('qmp: client is not reading its replies; disconnecting it');
      this.closing = true;
      this.socket.destroy();
    }
  }

  private enqueue(message: StreamedMessage): void {
    if (this.closing) return;
    this.queue.push(message);
    if (!this.paused && this.queue.length >= QUEUE_HIGH) {
      this.paused = true;
      this.socket.pause();
    }
    if (!this.running) this.drain().catch((e: unknown) => this.abandon('request handling failed', e));
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0 && !this.closed) {
      const message = this.queue.shift() as StreamedMessage;
      const reply = await this.opts.dispatcher.handle(message, this.ctx);
      if (this.socket.destroyed) break;
      this.send(reply);
      if (!message.ok && message.fatal) {
        this.opts.log.warn(`qmp: ${message.error}; disconnecting the client`);
        this.end();
      }
      if (this.paused && this.queue.length <= QUEUE_LOW) {
        this.paused = false;
        this.socket.resume();
      }
    }
    this.running = false;
  }
}

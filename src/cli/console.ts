/**
 * The guest console on the user's terminal. On a TTY the terminal is put in
 * raw mode so the guest sees every key (Ctrl-C included), and QEMU's escape
 * works: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A.
 */
const CTRL_A = 0x01;

export interface ConsoleHandlers {
  toGuest(bytes: Uint8Array): void;
  quit(): void;
}

export class ConsoleInput {
  private escapePending = false;
  private readonly onData = (chunk: Buffer) => this.handle(chunk);

  constructor(private readonly stdin: NodeJS.ReadStream, private readonly handlers: ConsoleHandlers) {}

  start(): void {
    if (this.stdin.isTTY) this.stdin.setRawMode(true);
    this.stdin.on('data', this.onData);
    this.stdin.resume();
  }

  stop(): void {
    this.stdin.off('data', this.onData);
    if (this.stdin.isTTY) this.stdin.setRawMode(false);
    this.stdin.pause();
  }

  /** Splits escapes out of the stream; only a TTY gets escape handling, pipes pass through untouched. */
  handle(chunk: Uint8Array): void {
    if (!this.stdin.isTTY) {
      this.handlers.toGuest(chunk);
      return;
    }
    const out: number[] = [];
    for (const b of chunk) {
      if (this.escapePending) {
        this.escapePending = false;
        if (b === 0x78 /* x */) {
          this.handlers.quit();
          return;
        }
        if (b === CTRL_A) out.push(CTRL_A);
        // Any other key after Ctrl-A is dropped, as QEMU does for unknown escapes.
        continue;
      }
      if (b === CTRL_A) this.escapePending = true;
      else out.push(b);
    }
    if (out.length) this.handlers.toGuest(Uint8Array.from(out));
  }
}

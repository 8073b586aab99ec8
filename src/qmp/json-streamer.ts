/**
 * Splits a byte stream into JSON messages the way QEMU's
 * qobject/json-streamer.c does: tokens are collected until braces and
 * brackets balance (or go negative), then the collected tokens are parsed as
 * one message. So an object may span reads and lines, several may share a
 * line, and a scalar at the top level is a message by itself.
 *
 * Limits protect the monitor from a client that sends without end: nesting
 * deeper than QEMU's 1024 is an error and the parser starts over (as QEMU);
 * more than `maxMessageBytes` without a complete message is an error that
 * is `fatal` (the session then disconnects; QEMU's limit is 64 MiB and
 * non-fatal, ours is smaller because nothing in QMP needs more).
 */
import { JsonLexer, Token } from './json-lexer';
import { parseTokens } from './json-parser';
import { JsonValue } from './json-value';

export const MAX_NESTING = 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

export type StreamedMessage =
  | { ok: true; value: JsonValue }
  | { ok: false; error: string; fatal: boolean };

export class JsonStreamer {
  private readonly lexer: JsonLexer;
  private tokens: Token[] = [];
  private braces = 0;
  private brackets = 0;
  private tokenBytes = 0;
  private overLimit = false;

  constructor(
    private readonly emit: (message: StreamedMessage) => void,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {
    this.lexer = new JsonLexer((t) => this.onToken(t));
  }

  /** Feed bytes; messages are emitted synchronously. Stops feeding after a fatal error. */
  feed(chunk: Uint8Array): void {
    // Feed in slices so a half-read token (an endless string) is caught
    // within a bounded overshoot of the limit.
    const slice = 4096;
    for (let at = 0; at < chunk.length && !this.overLimit; at += slice) {
      this.lexer.feed(chunk.subarray(at, Math.min(chunk.length, at + slice)));
      if (!this.overLimit && this.tokenBytes + this.lexer.pendingBytes > this.maxMessageBytes) this.failSize();
    }
  }

  private failSize(): void {
    this.overLimit = true;
    this.lexer.reset();
    this.clear();
    this.emit({ ok: false, error: 'JSON token size limit exceeded', fatal: true });
  }

  private clear(): void {
    this.tokens = [];
    this.braces = 0;
    this.brackets = 0;
    this.tokenBytes = 0;
  }

  private onToken(token: Token): void {
    if (this.overLimit) return;
    switch (token.type) {
      case 'lcurly': this.braces++; break;
      case 'rcurly': this.braces--; break;
      case 'lsquare': this.brackets++; break;
      case 'rsquare': this.brackets--; break;
      case 'error':
        this.clear();
        this.emit({ ok: false, error: `JSON parse error, stray '${token.bytes.toString('utf8')}'`, fatal: false });
        return;
      default: break;
    }
    if (this.tokenBytes + token.bytes.length + 1 > this.maxMessageBytes) { this.failSize(); return; }
    if (this.braces + this.brackets > MAX_NESTING) {
      this.clear();
      this.emit({ ok: false, error: 'JSON nesting depth limit exceeded', fatal: false });
      return;
    }
    this.tokens.push(token);
    this.tokenBytes += token.bytes.length + 1;
    if ((this.braces > 0 || this.brackets > 0) && this.braces >= 0 && this.brackets >= 0) return;
    const result = parseTokens(this.tokens);
    this.clear();
    this.emit(result.ok ? result : { ok: false, error: result.error, fatal: false });
  }
}

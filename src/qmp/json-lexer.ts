/**
 * A byte-at-a-time JSON lexer with QEMU's tokens and error recovery
 * (qobject/json-lexer.c), so malformed input gets the same error texts and
 * the same resynchronisation as real QEMU: after a bad byte it skips to the
 * next structural character ({ } [ ]) or control character, which is what
 * clients rely on to get the parser back into a known state.
 *
 * Quirks kept on purpose because QEMU has them: single-quoted strings are
 * accepted, keywords are any run of [a-z] (the parser rejects the bad ones),
 * and escapes are validated by the parser, not here.
 */
export type TokenType =
  | 'lcurly' | 'rcurly' | 'lsquare' | 'rsquare' | 'comma' | 'colon'
  | 'integer' | 'float' | 'keyword' | 'string' | 'error';

export interface Token {
  type: TokenType;
  /** The token's bytes as they came (strings still quoted and escaped). */
  bytes: Buffer;
}

const enum State {
  Start,
  Recovery,
  DqString, DqEscape,
  SqString, SqEscape,
  Neg, Zero, NonZero, Mantissa, MantissaDigits, ExpE, ExpSign, ExpDigits,
  Keyword,
}

const PUNCTUATION: Record<number, TokenType> = {
  0x7b: 'lcurly', 0x7d: 'rcurly', 0x5b: 'lsquare', 0x5d: 'rsquare', 0x2c: 'comma', 0x3a: 'colon',
};

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isWhitespace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
/** Bytes allowed inside a string literal (QEMU: 0x20..0xFD; validity of UTF-8 is the parser's job). */
const isStringByte = (c: number) => c >= 0x20 && c <= 0xfd;
/** Where recovery after an error stops: structural characters, control characters but tab, 0xFE/0xFF. */
const endsRecovery = (c: number) =>
  c === 0x7b || c === 0x7d || c === 0x5b || c === 0x5d || (c < 0x20 && c !== 0x09) || c >= 0xfe;

export class JsonLexer {
  private state = State.Start;
  private current: number[] = [];

  constructor(private readonly emit: (token: Token) => void) {}

  /** Bytes of the token being read, counted against the message size limit. */
  get pendingBytes(): number {
    return this.current.length;
  }

  feed(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) this.feedByte(chunk[i]);
  }

  /** Drop any half-read token (after a limit error). */
  reset(): void {
    this.state = State.Start;
    this.current = [];
  }

  private feedByte(c: number): void {
    // A byte that ends a token is looked at again in the Start state.
    for (;;) {
      const again = this.step(c);
      if (!again) return;
    }
  }

  private finish(type: TokenType): void {
    this.emit({ type, bytes: Buffer.from(this.current) });
    this.current = [];
    this.state = State.Start;
  }

  private fail(c: number): void {
    this.current.push(c);
    this.emit({ type: 'error', bytes: Buffer.from(this.current) });
    this.current = [];
    this.state = State.Recovery;
  }

  /** Consume one byte; returns true when the byte must be processed again (lookahead). */
  private step(c: number): boolean {
    switch (this.state) {
      case State.Start:
        if (isWhitespace(c)) return false;
        if (PUNCTUATION[c]) { this.current.push(c); this.finish(PUNCTUATION[c]); return false; }
        this.current.push(c);
        if (c === 0x22) this.state = State.DqString;
        else if (c === 0x27) this.state = State.SqString;
        else if (c === 0x2d) this.state = State.Neg;
        else if (c === 0x30) this.state = State.Zero;
        else if (c >= 0x31 && c <= 0x39) this.state = State.NonZero;
        else if (c >= 0x61 && c <= 0x7a) this.state = State.Keyword;
        else { this.current.pop(); this.fail(c); }
        return false;
      case State.Recovery:
        if (endsRecovery(c)) { this.state = State.Start; return true; }
        return false;
      case State.DqString:
      case State.SqString: {
        const quote = this.state === State.DqString ? 0x22 : 0x27;
        if (!isStringByte(c)) { this.fail(c); return false; }
        this.current.push(c);
        if (c === quote) this.finish('string');
        else if (c === 0x5c) this.state = this.state === State.DqString ? State.DqEscape : State.SqEscape;
        return false;
      }
      case State.DqEscape:
      case State.SqEscape:
        if (!isStringByte(c)) { this.fail(c); return false; }
        this.current.push(c);
        this.state = this.state === State.DqEscape ? State.DqString : State.SqString;
        return false;
      case State.Neg:
        if (c === 0x30) { this.current.push(c); this.state = State.Zero; return false; }
        if (isDigit(c)) { this.current.push(c); this.state = State.NonZero; return false; }
        this.fail(c);
        return false;
      case State.Zero:
      case State.NonZero:
        if (this.state === State.NonZero && isDigit(c)) { this.current.push(c); return false; }
        if (c === 0x2e) { this.current.push(c); this.state = State.Mantissa; return false; }
        if (c === 0x65 || c === 0x45) { this.current.push(c); this.state = State.ExpE; return false; }
        this.finish('integer');
        return true;
      case State.Mantissa:
        if (isDigit(c)) { this.current.push(c); this.state = State.MantissaDigits; return false; }
        this.fail(c);
        return false;
      case State.MantissaDigits:
        if (isDigit(c)) { this.current.push(c); return false; }
        if (c === 0x65 || c === 0x45) { this.current.push(c); this.state = State.ExpE; return false; }
        this.finish('float');
        return true;
      case State.ExpE:
        if (c === 0x2b || c === 0x2d) { this.current.push(c); this.state = State.ExpSign; return false; }
        if (isDigit(c)) { this.current.push(c); this.state = State.ExpDigits; return false; }
        this.fail(c);
        return false;
      case State.ExpSign:
        if (isDigit(c)) { this.current.push(c); this.state = State.ExpDigits; return false; }
        this.fail(c);
        return false;
      case State.ExpDigits:
        if (isDigit(c)) { this.current.push(c); return false; }
        this.finish('float');
        return true;
      case State.Keyword:
        if (c >= 0x61 && c <= 0x7a) { this.current.push(c); return false; }
        this.finish('keyword');
        return true;
    }
  }
}

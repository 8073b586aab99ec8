/**
 * Turns the tokens of one complete message into a value, with the error
 * texts of QEMU's qobject/json-parser.c ("JSON parse error, expecting
 * value", "... missing : in object pair", ...). Only the first error of a
 * message is reported, as QEMU does.
 */
import { Token } from './json-lexer';
import { JsonObject, JsonValue, hasKey, newJsonObject } from './json-value';

export type ParseResult = { ok: true; value: JsonValue } | { ok: false; error: string };

class ParseError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t',
};

function decodeString(raw: Buffer): string {
  let text: string;
  try {
    text = utf8.decode(raw.subarray(1, raw.length - 1));
  } catch {
    throw new ParseError('invalid UTF-8 sequence in string');
  }
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== '\\') { out += ch; continue; }
    const e = text[++i];
    if (e in SIMPLE_ESCAPES) { out += SIMPLE_ESCAPES[e]; continue; }
    if (e !== 'u') throw new ParseError('invalid escape sequence in string');
    const unit = parseHex4(text, i + 1);
    i += 4;
    if (unit === 0) throw new ParseError('\\u0000 is not supported');
    if (unit >= 0xd800 && unit <= 0xdbff && text[i + 1] === '\\' && text[i + 2] === 'u') {
      const low = parseHex4(text, i + 3);
      if (low >= 0xdc00 && low <= 0xdfff) {
        out += String.fromCharCode(unit, low);
        i += 6;
        continue;
      }
    }
    if (unit >= 0xd800 && unit <= 0xdfff) throw new ParseError(`\\u${text.slice(i - 3, i + 1)} is not a valid Unicode character escape`);
    out += String.fromCharCode(unit);
  }
  return out;
}

function parseHex4(text: string, at: number): number {
  const digits = text.slice(at, at + 4);
  if (!/^[0-9a-fA-F]{4}$/.test(digits)) throw new ParseError('invalid hex escape sequence in string');
  return parseInt(digits, 16);
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** QEMU keeps integers as int64, else uint64, else double; JS numbers are exact only to 2^53. */
function parseInteger(text: string): number | bigint {
  const n = Number(text);
  if (Number.isSafeInteger(n)) return n === 0 ? 0 : n;
  const big = BigInt(text);
  return big >= INT64_MIN && big <= UINT64_MAX ? big : n;
}

class TokenReader {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}
  peek(): Token | undefined { return this.tokens[this.pos]; }
  next(): Token | undefined { return this.tokens[this.pos++]; }
}

function parseValue(r: TokenReader): JsonValue {
  const token = r.next();
  if (!token) throw new ParseError('premature EOI');
  switch (token.type) {
    case 'lcurly': return parseObjectRest(r);
    case 'lsquare': return parseArrayRest(r);
    case 'string': return decodeString(token.bytes);
    case 'integer': return parseInteger(token.bytes.toString('latin1'));
    case 'float': return Number(token.bytes.toString('latin1'));
    case 'keyword': {
      const word = token.bytes.toString('latin1');
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
      throw new ParseError(`invalid keyword '${word}'`);
    }
    default:
      throw new ParseError('expecting value');
  }
}

function parseObjectRest(r: TokenReader): JsonObject {
  const obj = newJsonObject();
  if (r.peek()?.type === 'rcurly') { r.next(); return obj; }
  for (;;) {
    const key = parseValue(r);
    if (typeof key !== 'string') throw new ParseError('key is not a string in object');
    if (r.next()?.type !== 'colon') throw new ParseError('missing : in object pair');
    const value = parseValue(r);
    if (hasKey(obj, key)) throw new ParseError('duplicate key');
    obj[key] = value;
    const sep = r.next();
    if (sep?.type === 'rcurly') return obj;
    if (sep?.type !== 'comma') throw new ParseError(sep ? 'expected separator in dict' : 'premature EOI');
  }
}

function parseArrayRest(r: TokenReader): JsonValue[] {
  const list: JsonValue[] = [];
  if (r.peek()?.type === 'rsquare') { r.next(); return list; }
  for (;;) {
    list.push(parseValue(r));
    const sep = r.next();
    if (sep?.type === 'rsquare') return list;
    if (sep?.type !== 'comma') throw new ParseError(sep ? 'expected separator in list' : 'premature EOI');
  }
}

export function parseTokens(tokens: Token[]): ParseResult {
  try {
    return { ok: true, value: parseValue(new TokenReader(tokens)) };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: `JSON parse error, ${e.message}` };
    throw e;
  }
}

/**
 * Serialises replies the way QEMU prints them (qobject/qjson.c): members in
 * QDict order (see qdict-order.ts), ": " and ", " separators, non-ASCII and control characters as \uXXXX escapes, each
 * message ending in CRLF. Byte-for-byte QEMU style keeps recorded sessions
 * (libvirt's test data) comparable with ours.
 */
import { JsonValue } from './json-value';
import { qdictOrder } from './qdict-order';

function hex4(n: number): string {
  return '\\u' + n.toString(16).toUpperCase().padStart(4, '0');
}

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c >= 0x20 && c < 0x7f) out += s[i];
    else out += hex4(c);
  }
  return out + '"';
}

/** C's printf("%.17g"), which QEMU uses for every non-integer number. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, expText] = v.toExponential(16).split('e');
  const exp = Number(expText);
  const trim = (digits: string) => (digits.includes('.') ? digits.replace(/0+$/, '').replace(/\.$/, '') : digits);
  if (exp < -4 || exp >= 17) {
    return `${trim(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return trim(v.toFixed(Math.max(0, 16 - exp)));
}

export function toQmpJson(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean': return value ? 'true' : 'false';
    case 'number': return formatNumber(value);
    case 'bigint': return value.toString();
    case 'string': return quote(value);
    default: break;
  }
  if (Array.isArray(value)) return '[' + value.map(toQmpJson).join(', ') + ']';
  const parts: string[] = [];
  for (const key of qdictOrder(Object.keys(value))) {
    const v = value[key];
    if (v !== undefined) parts.push(quote(key) + ': ' + toQmpJson(v));
  }
  return '{' + parts.join(', ') + '}';
}

/** One message on the wire: JSON then CRLF, as QEMU ends every message. */
export function frame(value: JsonValue): string {
  return toQmpJson(value) + '\r\n';
}

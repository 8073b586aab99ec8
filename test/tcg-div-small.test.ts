/**
 * DIV/IDIV in doubles (div-small.ts) against BigInt division, written out
 * here from the SDM's definition: quotient truncated towards zero, remainder
 * with the dividend's sign, #DE on a zero divisor or a quotient out of range.
 * The double path must agree wherever it answers, and must hand over
 * (DIV_LARGE) whenever the dividend is past 2^53.
 */
import t from 'tap';
import { DIV_FAULT, DIV_LARGE, DivResult, divideSmall } from '../src/tcg-fallback/div-small';
import { Divider } from '../src/tcg-fallback/alu';

interface Case { signed: boolean; size: number; dividend: bigint; divisor: bigint }

/** What the SDM says: the quotient and remainder as unsigned size-byte values, or 'DE'. */
function reference(c: Case): [bigint, bigint] | 'DE' {
  const bits = BigInt(c.size * 8);
  const n = c.signed ? BigInt.asIntN(Number(bits) * 2, c.dividend) : c.dividend;
  const d = c.signed ? BigInt.asIntN(Number(bits), c.divisor) : c.divisor;
  if (d === 0n) return 'DE';
  const q = n / d, r = n % d;
  if (c.signed ? BigInt.asIntN(Number(bits), q) !== q : q >> bits !== 0n) return 'DE';
  return [BigInt.asUintN(Number(bits), q), BigInt.asUintN(Number(bits), r)];
}

/** The operands as Divider.divide takes them: low and high halves of the dividend's two parts, the divisor's. */
function operands(c: Case): [number, number, number, number, number, number] {
  const bits = BigInt(c.size * 8);
  const low = c.dividend & ((1n << bits) - 1n), high = c.dividend >> bits;
  const half = (v: bigint, shift: bigint): number => Number((v >> shift) & 0xffffffffn);
  return [half(low, 0n), half(low, 32n), half(high, 0n), half(high, 32n), half(c.divisor, 0n), half(c.divisor, 32n)];
}

function random64(rand: () => number): bigint {
  return (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
}

/** A deterministic generator (xorshift), so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

function cases(): Case[] {
  const rand = rng(12345);
  const out: Case[] = [];
  const edges = [0n, 1n, 2n, 3n, 7n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
    (1n << 52n) - 1n, 1n << 52n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
  for (const size of [1, 2, 4, 8]) {
    const bits = BigInt(size * 8);
    const mask = (1n << bits) - 1n, wide = (1n << (bits * 2n)) - 1n;
    for (const signed of [false, true]) {
      const push = (dividend: bigint, divisor: bigint): void => { out.push({ signed, size, dividend: dividend & wide, divisor: divisor & mask }); };
      for (const a of edges) for (const b of edges) { push(a, b); push(-a, b); push(a, -b); push(-a, -b); }
      for (let k = 0; k < 3000; k++) {
        // Dividends of every magnitude (shifted right by a random amount), some negative, with small and large divisors.
        const shift = BigInt(Math.floor(rand() * 128));
        const a = ((random64(rand) << 64n) | random64(rand)) >> shift;
        const b = random64(rand) >> BigInt(Math.floor(rand() * 64));
        push(rand() < 0.3 ? -a : a, rand() < 0.3 ? -b : b);
      }
    }
  }
  return out;
}

t.test('DIV and IDIV in doubles agree with BigInt division, and hand dividends past 2^53 over', async (t) => {
  let answered = 0, handedOver = 0, mismatches = 0;
  const out: DivResult = { quot: 0, quotHi: 0, rem: 0, remHi: 0 };
  for (const c of cases()) {
    const [lo, loHi, hi, hiHi, d, dHi] = operands(c);
    const got = divideSmall(c.signed, c.size, lo, loHi, hi, hiHi, d, dHi, out);
    const n = c.signed ? BigInt.asIntN(c.size * 16, c.dividend) : c.dividend;
    const magnitude = n < 0n ? -n : n;
    if (got === DIV_LARGE) {
      handedOver++;
      if (magnitude < 1n << 52n && mismatches++ < 5) t.fail(`handed over a small dividend: ${JSON.stringify(c, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
      continue;
    }
    answered++;
    if (magnitude >= 1n << 53n && mismatches++ < 5) t.fail(`answered for a dividend past 2^53: ${c.dividend.toString(16)}`);
    const want = reference(c);
    const have = got === DIV_FAULT ? 'DE'
      : [(BigInt(out.quotHi) << 32n) | BigInt(out.quot), (BigInt(out.remHi) << 32n) | BigInt(out.rem)];
    if (JSON.stringify(have, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v)) !== JSON.stringify(want, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))
      && mismatches++ < 5) {
      t.fail(`${c.signed ? 'idiv' : 'div'} size ${c.size}: ${c.dividend.toString(16)} / ${c.divisor.toString(16)}: got ${String(have)}, want ${String(want)}`);
    }
  }
  t.equal(mismatches, 0, 'no mismatches');
  t.ok(answered > 10000 && handedOver > 1000, `both paths exercised (${answered} in doubles, ${handedOver} handed over)`);
});

t.test('Divider gives the same answers through either path', async (t) => {
  const div = new Divider();
  let mismatches = 0;
  for (const c of cases()) {
    const [lo, loHi, hi, hiHi, d, dHi] = operands(c);
    const ok = div.divide(c.signed, c.size, lo, loHi, hi, hiHi, d, dHi);
    const want = reference(c);
    const have = ok ? `${(BigInt(div.quotHi) << 32n) | BigInt(div.quot)},${(BigInt(div.remHi) << 32n) | BigInt(div.rem)}` : 'DE';
    if (have !== (want === 'DE' ? 'DE' : want.join(',')) && mismatches++ < 5) {
      t.fail(`${c.signed ? 'idiv' : 'div'} size ${c.size}: ${c.dividend.toString(16)} / ${c.divisor.toString(16)}: got ${have}, want ${String(want)}`);
    }
  }
  t.equal(mismatches, 0);
});

/**
 * DIV/IDIV in doubles (div-small.ts) and 128-by-64-bit DIV in 16-bit digits
 * (div-wide.ts) against BigInt division, written out
 * here from the SDM's definition: quotient truncated towards zero, remainder
 * with the dividend's sign, #DE on a zero divisor or a quotient out of range.
 * The double path must agree wherever it answers, and must hand over
 * (DIV_LARGE) whenever the dividend is past 2^53.
 */
import t from 'tap';
import { DIV_FAULT, DIV_LARGE, DivResult, divideSmall } from '../src/tcg-fallback/div-small';
import { Divider } from '../src/tcg-fallback/alu';
import { divideWide } from '../src/tcg-fallback/div-wide';

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

t.test('128-by-64-bit DIV in 16-bit digits agrees with BigInt division', async (t) => {
  const rand = rng(777);
  const out: DivResult = { quot: 0, quotHi: 0, rem: 0, remHi: 0 };
  let mismatches = 0, answered = 0, faults = 0;
  const check = (dividend: bigint, divisor: bigint): void => {
    const c: Case = { signed: false, size: 8, dividend: BigInt.asUintN(128, dividend), divisor: BigInt.asUintN(64, divisor) };
    const [lo, loHi, hi, hiHi, d, dHi] = operands(c);
    const ok = divideWide(lo, loHi, hi, hiHi, d, dHi, out);
    const want = reference(c);
    const have = ok ? `${(BigInt(out.quotHi) << 32n) | BigInt(out.quot)},${(BigInt(out.remHi) << 32n) | BigInt(out.rem)}` : 'DE';
    if (ok) answered++; else faults++;
    if (have !== (want === 'DE' ? 'DE' : want.join(',')) && mismatches++ < 5) {
      t.fail(`${c.dividend.toString(16)} / ${c.divisor.toString(16)}: got ${have}, want ${String(want)}`);
    }
  };
  for (let k = 0; k < 20000; k++) {
    // Divisors of 1 to 4 significant 16-bit digits, normalised or not; quotients that fit and some that do not.
    const divisor = random64(rand) >> BigInt(Math.floor(rand() * 64));
    const high = rand() < 0.9 && divisor > 0n ? random64(rand) % divisor : random64(rand);
    check((high << 64n) | random64(rand), divisor);
  }
  // Where the quotient digit estimate needs correcting: divisor top digits 0x8000 and 0xffff, dividends just below multiples.
  for (const divisor of [0x8000000000000000n, 0x8000000000000001n, 0xffffffffffffffffn, 0x800000000001n, 0xffff00000001n, 0x10000n, 0xffffn, 1n, 0x100000000n]) {
    for (const q of [1n, 0xffffn, 0x10000n, 0xffffffffn, 0xfffffffffffffffn, 0xffffffffffffffffn]) {
      for (const delta of [-1n, 0n, 1n]) {
        const n = q * divisor + delta;
        if (n >= 0n) check(n, divisor);
      }
    }
  }
  // Digits at the edges (0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff) in every divisor position: where the estimate is
  // two too large and both corrections run.
  const edge = [0n, 1n, 0x7fffn, 0x8000n, 0xfffen, 0xffffn];
  const digits = (count: number): bigint => {
    let x = 0n;
    for (let k = 0; k < count; k++) x = (x << 16n) | edge[Math.floor(rand() * edge.length)];
    return x;
  };
  for (const a of edge) for (const b of edge) for (const c of edge) for (const d of edge) {
    const divisor = (a << 48n) | (b << 32n) | (c << 16n) | d;
    for (let k = 0; k < 6; k++) check(digits(8), divisor);
  }
  check(1n << 64n, 0n);
  t.equal(mismatches, 0, 'no mismatches');
  t.ok(answered > 15000 && faults > 100, `quotients and #DE both seen (${answered} answered, ${faults} #DE)`);
});

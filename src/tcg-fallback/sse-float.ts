/**
 * IEEE arithmetic with MXCSR semantics for SSE: the rounding control, the
 * sticky exception flags (IE, DE, ZE, OE, UE, PE), DAZ and FTZ. JavaScript
 * computes round-to-nearest results; the exact error of each operation
 * (TwoSum / Veltkamp-Dekker products) tells whether the result is inexact
 * and which way a directed rounding must move it. Unmasked SIMD exceptions
 * (#XM) are not raised: results are the masked responses.
 */
export const MX_IE = 1, MX_DE = 2, MX_ZE = 4, MX_OE = 8, MX_UE = 0x10, MX_PE = 0x20;
const MX_DAZ = 0x40, MX_FTZ = 0x8000;

export const OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_SQRT = 4;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const f32 = new Float32Array(1);
const u32f = new Uint32Array(f32.buffer);

const MIN_NORMAL64 = 2.2250738585072014e-308;
const MIN_NORMAL32 = 1.1754943508222875e-38;
const MAX32 = 3.4028234663852886e38;

/** Exact error of a*b (Dekker), valid away from overflow/underflow. */
function productError(a: number, b: number, p: number): number {
  const split = 134217729; // 2^27 + 1
  let t = split * a;
  const ah = t - (t - a), al = a - ah;
  t = split * b;
  const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** Magnitudes where the double-double error terms are exact (zero counts as safe). */
function outOfSafeRange(v: number): boolean {
  const m = Math.abs(v);
  return m !== 0 && (m < 2 ** -900 || m > 2 ** 900);
}

/** v = m * 2^e exactly (finite v). */
function decompose(v: number): [bigint, number] {
  f64[0] = v;
  const hi = u32[1], lo = u32[0];
  const exp = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) e = -1074;
  else { m |= 1n << 52n; e = exp - 1075; }
  return [hi >>> 31 ? -m : m, e];
}

/** Sign of x*2^ex - y*2^ey. */
function compareScaled(x: bigint, ex: number, y: bigint, ey: number): number {
  const k = Math.min(ex, ey);
  const d = (x << BigInt(ex - k)) - (y << BigInt(ey - k));
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

function exactResidual(op: number, a: number, b: number, r: number): number {
  const [ma, ea] = decompose(a);
  const [mr, er] = decompose(r);
  if (op === OP_SQRT) return compareScaled(ma, ea, mr * mr, 2 * er);
  const [mb, eb] = decompose(b);
  if (op === OP_MUL) return compareScaled(ma * mb, ea + eb, mr, er);
  // a/b - r has the sign of (a - r*b) * sign(b).
  const s = compareScaled(ma, ea, mr * mb, er + eb);
  return b < 0 ? -s : s;
}

/** Sign of (exact result - computed result): -1, 0 or 1 (NaN-free finite inputs). */
function residual(op: number, a: number, b: number, r: number): number {
  // An infinite operand gives an exact result (infinity, zero or NaN); the error terms below would be NaN or garbage.
  if (!Number.isFinite(r) || !Number.isFinite(a) || (op !== OP_SQRT && !Number.isFinite(b))) return 0;
  // A zero product or quotient of nonzero operands underflowed completely: Dekker's terms are zero there too.
  if (op !== OP_ADD && op !== OP_SUB && (outOfSafeRange(a) || outOfSafeRange(r) || r === 0 || (op !== OP_SQRT && outOfSafeRange(b)))) {
    // Dekker's error terms under- or overflow out here: compare exactly with BigInt instead (rare).
    return exactResidual(op, a, b, r);
  }
  let e: number;
  switch (op) {
    case OP_ADD: case OP_SUB: {
      const bb = op === OP_SUB ? -b : b;
      const v = r - a;
      e = (a - (r - v)) + (bb - v);
      break;
    }
    case OP_MUL: e = productError(a, b, r); break;
    case OP_DIV: {
      if (b === 0) return 0;
      // a - r*b exactly, then the sign of (a/b - r) = sign(rem) * sign(b).
      const p = r * b;
      const rem = (a - p) - productError(r, b, p);
      e = b < 0 ? -rem : rem;
      break;
    }
    default: {
      const p = r * r;
      e = (a - p) - productError(r, r, p);
    }
  }
  return e > 0 ? 1 : e < 0 ? -1 : 0;
}

function nextUp64(v: number): number {
  if (Number.isNaN(v) || v === Infinity) return v;
  if (v === 0) return Number.MIN_VALUE;
  f64[0] = v;
  // Carry/borrow between the words: test the stored (wrapped) low word, not the expression's value.
  if (v > 0) { u32[0] = u32[0] + 1; if (u32[0] === 0) u32[1]++; } else { if (u32[0] === 0) u32[1]--; u32[0] = u32[0] - 1; }
  return f64[0];
}
function nextDown64(v: number): number { return -nextUp64(-v); }

export function nextUp32(v: number): number {
  if (Number.isNaN(v) || v === Infinity) return v;
  if (v === 0) return 1.401298464324817e-45;
  f32[0] = v;
  if (v > 0) u32f[0]++; else u32f[0]--;
  return f32[0];
}
export function nextDown32(v: number): number { return -nextUp32(-v); }

function isSignalingNaN64(v: number): boolean {
  if (!Number.isNaN(v)) return false;
  f64[0] = v;
  return (u32[1] & 0x80000) === 0;
}

function isDenormal(v: number, single: boolean): boolean {
  return v !== 0 && Math.abs(v) < (single ? MIN_NORMAL32 : MIN_NORMAL64);
}

/**
 * Computes `op` on doubles (single = false) or on float32 values held in
 * doubles (single = true), applying MXCSR; returns the result and ORs the
 * exception flags into `state.flags`.
 */
export function mxcsrArith(op: number, a: number, b: number, single: boolean, mxcsr: number, state: { flags: number }, aSnan = false, bSnan = false,
  inputSingle = single): number {
  let flags = 0;
  const daz = (mxcsr & MX_DAZ) !== 0;
  if (isDenormal(a, inputSingle)) { if (daz) a = a < 0 ? -0 : 0; else flags |= MX_DE; }
  if (op !== OP_SQRT && isDenormal(b, inputSingle)) { if (daz) b = b < 0 ? -0 : 0; else flags |= MX_DE; }
  const nanIn = Number.isNaN(a) || (op !== OP_SQRT && Number.isNaN(b));
  if (aSnan || bSnan || (!single && (isSignalingNaN64(a) || (op !== OP_SQRT && isSignalingNaN64(b))))) flags |= MX_IE;
  let r: number;
  switch (op) {
    case OP_ADD: r = a + b; break;
    case OP_SUB: r = a - b; break;
    case OP_MUL: r = a * b; break;
    case OP_DIV: r = a / b; break;
    default: r = Math.sqrt(a);
  }
  if (nanIn) {
    // NaN propagation: hardware returns the first NaN operand, quieted; JS on x86 does the same for doubles.
    state.flags |= flags & ~MX_DE;
    return single ? Math.fround(r) : r;
  }
  // An invalid operation outranks (and suppresses) a denormal operand.
  if (Number.isNaN(r)) { state.flags |= (flags & ~MX_DE) | MX_IE; return r; }
  // Divide-by-zero outranks a denormal dividend.
  // Only a finite dividend divides by zero: infinity / 0 is an exact infinity (SDM 4.9.1.3).
  if (op === OP_DIV && b === 0 && a !== 0 && Number.isFinite(a)) { state.flags |= (flags & ~MX_DE) | MX_ZE; return r; }
  const rc = (mxcsr >> 13) & 3;
  if (r === 0 && rc === 1 && (op === OP_ADD || op === OP_SUB)) {
    // An exact zero sum is -0 when rounding toward negative infinity, unless both addends are +0.
    const eb = op === OP_SUB ? -b : b;
    if (!(Object.is(a, 0) && Object.is(eb, 0))) r = -0;
  }
  // Sign of (exact - r) in the double computation.
  let dir = residual(op, a, b, r);
  const dirRaw = dir;
  let out = r;
  if (single) {
    const f0 = Math.fround(r);
    // Where the exact value lies relative to the nearest float.
    const s = r !== f0 ? (r > f0 ? 1 : -1) : dir;
    out = f0;
    if (rc === 0) {
      if (r !== f0 && dir !== 0 && Number.isFinite(f0)) {
        // r may sit exactly on a float midpoint although the exact value does not: the exact value decides.
        const other = r > f0 ? nextUp32(f0) : nextDown32(f0);
        if (r - f0 === other - r && (dir > 0) === (r > f0)) out = other;
      }
    } else out = directed32(f0, s, rc);
    dir = s;
    if (!Number.isFinite(out) && Number.isFinite(a) && (op === OP_SQRT || Number.isFinite(b))) {
      flags |= MX_OE | MX_PE;
      out = overflowResult(out, rc, MAX32);
    } else if (Number.isFinite(out) && Math.abs(out) === MAX32 && Math.abs(r) > MAX32) {
      flags |= MX_OE | MX_PE;
    }
  } else {
    out = directed64(r, dir, rc);
    if (!Number.isFinite(out) && Number.isFinite(a) && (op === OP_SQRT || Number.isFinite(b))) {
      flags |= MX_OE | MX_PE;
      out = overflowResult(out, rc, Number.MAX_VALUE);
      dir = 1;
    }
  }
  if (dir !== 0) flags |= MX_PE;
  // Tininess after rounding (on the delivered result); the unbounded-exponent subtlety of the last ulp is not modelled.
  const tiny = out !== 0 && Math.abs(out) < (single ? MIN_NORMAL32 : MIN_NORMAL64);
  if (tiny || (out === 0 && dir !== 0)) {
    // Unmasked, underflow is signalled on tininess alone; masked, only when also inexact (SDM 4.9.1.5).
    if ((mxcsr & 0x800) === 0) {
      // #XM follows and the handler sees the result rounded to full precision with an unbounded
      // exponent: PE reports whether that rounding, not the denormalisation, was inexact.
      flags = (flags & ~MX_PE) | MX_UE | (unboundedInexact(op, a, b, single, r, dirRaw) ? MX_PE : 0);
    } else if ((mxcsr & MX_FTZ) !== 0) { out = out < 0 || (out === 0 && 1 / out < 0) ? -0 : 0; flags |= MX_UE | MX_PE; }
    else if (dir !== 0) flags |= MX_UE;
  }
  state.flags |= flags;
  return out;
}

/**
 * op(a, b) on doubles rounded by `rc` (the x87's rounding control at double precision): no flags.
 * The directed modes step the round-to-nearest result by the sign of its exact error, an exact
 * zero sum is -0 when rounding down, and overflow stops at the largest finite value where the
 * mode rounds away from infinity.
 */
export function roundedArith(op: number, a: number, b: number, rc: number): number {
  let r: number;
  switch (op) {
    case OP_ADD: r = a + b; break;
    case OP_SUB: r = a - b; break;
    case OP_MUL: r = a * b; break;
    case OP_DIV: r = a / b; break;
    default: r = Math.sqrt(a);
  }
  if (rc === 0 || Number.isNaN(r)) return r;
  if (r === 0 && rc === 1 && (op === OP_ADD || op === OP_SUB)) {
    const eb = op === OP_SUB ? -b : b;
    return Object.is(a, 0) && Object.is(eb, 0) ? 0 : -0;
  }
  if (!Number.isFinite(r)) {
    const finiteIn = Number.isFinite(a) && (op === OP_SQRT || Number.isFinite(b)) && !(op === OP_DIV && b === 0);
    return finiteIn ? overflowResult(r, rc, Number.MAX_VALUE) : r;
  }
  return directed64(r, residual(op, a, b, r), rc);
}

/**
 * Whether op(a, b), a tiny result, is inexact at full precision with an unbounded exponent. `r`
 * and `dir` are the double computation and the sign of its error. Float results are products of
 * floats, far from double's own tiny range, so r is already unbounded for them. A tiny double sum
 * is always exact (both addends are multiples of 2^-1074); products and quotients are rescaled
 * by powers of two (exact) out of the denormal range and recomputed.
 */
function unboundedInexact(op: number, a: number, b: number, single: boolean, r: number, dir: number): boolean {
  if (single) return dir !== 0 || Math.fround(r * 2 ** 200) !== r * 2 ** 200;
  if (op === OP_ADD || op === OP_SUB || op === OP_SQRT) return dir !== 0;
  // A tiny product has both factors below 2^52 and a tiny quotient a dividend below 4, so these
  // scalings cannot overflow, and they lift even denormal-by-denormal products into the normal range.
  if (op === OP_MUL) {
    const x = a * 2 ** 600, y = b * 2 ** 600;
    return residual(OP_MUL, x, y, x * y) !== 0;
  }
  const x = a * 2 ** 600, y = Math.abs(b) > 1 ? b * 2 ** -600 : b;
  return residual(OP_DIV, x, y, x / y) !== 0;
}

function directed64(r: number, dir: number, rc: number): number {
  if (dir === 0 || rc === 0) return r;
  if (rc === 1) return dir < 0 ? nextDown64(r) : r;
  if (rc === 2) return dir > 0 ? nextUp64(r) : r;
  return (r > 0 && dir < 0) ? nextDown64(r) : (r < 0 && dir > 0) ? nextUp64(r) : r;
}

function directed32(r: number, dir: number, rc: number): number {
  if (dir === 0 || rc === 0) return r;
  if (rc === 1) return dir < 0 ? nextDown32(r) : r;
  if (rc === 2) return dir > 0 ? nextUp32(r) : r;
  return (r > 0 && dir < 0) ? nextDown32(r) : (r < 0 && dir > 0) ? nextUp32(r) : r;
}

/** Overflow under directed rounding stops at the largest finite value on the side away from infinity. */
function overflowResult(inf: number, rc: number, max: number): number {
  if (rc === 3) return inf > 0 ? max : -max;
  if (rc === 1 && inf > 0) return max;
  if (rc === 2 && inf < 0) return -max;
  return inf;
}

export function isSignalingNaN32Bits(bits: number): boolean {
  return (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0 && (bits & 0x400000) === 0;
}

/** Integer (as BigInt) to double or float under MXCSR rounding; sets PE when inexact. */
export function intToFloat(v: bigint, single: boolean, mxcsr: number, state: { flags: number }): number {
  const d = Number(v);
  const dirD = v > BigInt(d) ? 1 : v < BigInt(d) ? -1 : 0;
  if (!single) {
    if (dirD !== 0) state.flags |= MX_PE;
    return directed64(d, dirD, (mxcsr >> 13) & 3);
  }
  // Round v to float32 exactly: Number(v) then fround could round twice, and the double's own
  // rounding direction would be lost. Find the two floats around v and pick by the mode.
  const rc = (mxcsr >> 13) & 3;
  const f = Math.fround(d);
  const c = v > BigInt(f) ? 1 : v < BigInt(f) ? -1 : 0;
  if (c === 0) return f;
  state.flags |= MX_PE;
  const lo = c > 0 ? f : nextDown32(f), hi = c > 0 ? nextUp32(f) : f;
  if (rc === 1) return lo;
  if (rc === 2) return hi;
  if (rc === 3) return v < 0n ? hi : lo;
  const twice = 2n * v, mid = BigInt(lo) + BigInt(hi);
  if (twice !== mid) return twice < mid ? lo : hi;
  f32[0] = lo;
  return (u32f[0] & 1) === 0 ? lo : hi;
}

/** MIN/MAX flags: IE for any NaN operand, DE for denormals (DAZ zeroes them first). Returns the possibly-DAZ'd operands. */
export function minMaxOperands(a: number, b: number, single: boolean, mxcsr: number, state: { flags: number }): [number, number] {
  const daz = (mxcsr & MX_DAZ) !== 0;
  // A NaN operand's invalid exception outranks (and suppresses) the denormal one; DAZ still
  // zeroes the other operand, which MIN/MAX then return (the host returns +0 for NaN vs DAZ'd denormal).
  if (Number.isNaN(a) || Number.isNaN(b)) {
    state.flags |= MX_IE;
    if (daz && isDenormal(a, single)) a = a < 0 ? -0 : 0;
    if (daz && isDenormal(b, single)) b = b < 0 ? -0 : 0;
    return [a, b];
  }
  if (isDenormal(a, single)) { if (daz) a = a < 0 ? -0 : 0; else state.flags |= MX_DE; }
  if (isDenormal(b, single)) { if (daz) b = b < 0 ? -0 : 0; else state.flags |= MX_DE; }
  return [a, b];
}

/** Comparison flags: IE for SNaN (quiet predicates) or any NaN (signalling ones), DE for denormals. */
export function compareFlags(a: number, b: number, aSnan: boolean, bSnan: boolean, signalling: boolean, single: boolean, mxcsr: number, state: { flags: number }): [number, number] {
  const daz = (mxcsr & MX_DAZ) !== 0;
  if (aSnan || bSnan || (signalling && (Number.isNaN(a) || Number.isNaN(b)))) state.flags |= MX_IE;
  // Denormals are not reported next to a NaN operand.
  if (Number.isNaN(a) || Number.isNaN(b)) return [a, b];
  if (isDenormal(a, single)) { if (daz) a = a < 0 ? -0 : 0; else state.flags |= MX_DE; }
  if (isDenormal(b, single)) { if (daz) b = b < 0 ? -0 : 0; else state.flags |= MX_DE; }
  return [a, b];
}

/** A denormal input of a conversion: DE (or zero under DAZ). */
export function conversionInput(a: number, single: boolean, mxcsr: number, state: { flags: number }): number {
  if (isDenormal(a, single)) {
    if ((mxcsr & MX_DAZ) !== 0) return a < 0 ? -0 : 0;
    state.flags |= MX_DE;
  }
  return a;
}

export function isSignalingNaN64Bits(lo: number, hi: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0) && (hi & 0x80000) === 0;
}

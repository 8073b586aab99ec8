/**
 * 80-bit extended precision <-> double. The x87 registers are doubles here,
 * so loading an 80-bit value rounds it to 53 bits (nearest-even) and storing
 * widens exactly.
 */
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Writes the 10-byte extended form of `v` into `out` at `at`. */
export function doubleToExtended(v: number, out: Uint8Array, at: number): void {
  f64[0] = v;
  const lo = u32[0], hi = u32[1];
  const sign = hi >>> 31;
  const exp = (hi >>> 20) & 0x7ff;
  let fracHi = hi & 0xfffff;
  let fracLo = lo;
  let e: number;
  let mantHi: number; // top 32 bits of the 64-bit significand
  let mantLo: number;
  if (exp === 0 && fracHi === 0 && fracLo === 0) { e = 0; mantHi = 0; mantLo = 0; }
  else if (exp === 0x7ff) {
    e = 0x7fff;
    mantHi = (0x80000000 | (fracHi << 11) | (fracLo >>> 21)) >>> 0;
    mantLo = (fracLo << 11) >>> 0;
  } else {
    let unbiased: number;
    if (exp === 0) {
      // Denormal double: normalise (extended has the range for it).
      unbiased = -1022;
      while ((fracHi & 0x100000) === 0) {
        fracHi = ((fracHi << 1) | (fracLo >>> 31)) & 0x1fffff;
        fracLo = (fracLo << 1) >>> 0;
        unbiased--;
      }
      fracHi &= 0xfffff;
    } else unbiased = exp - 1023;
    e = unbiased + 16383;
    mantHi = (0x80000000 | (fracHi << 11) | (fracLo >>> 21)) >>> 0;
    mantLo = (fracLo << 11) >>> 0;
  }
  const dv = new DataView(out.buffer, out.byteOffset + at, 10);
  dv.setUint32(0, mantLo, true);
  dv.setUint32(4, mantHi, true);
  dv.setUint16(8, (sign << 15) | e, true);
}

/** Reads a 10-byte extended value, rounded to the nearest double. */
export function extendedToDouble(bytes: Uint8Array, at: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, 10);
  const mantLo = dv.getUint32(0, true);
  const mantHi = dv.getUint32(4, true);
  const se = dv.getUint16(8, true);
  const sign = se & 0x8000 ? -1 : 1;
  const e = se & 0x7fff;
  if (e === 0x7fff) {
    if ((mantHi & 0x7fffffff) === 0 && mantLo === 0) return sign * Infinity;
    return NaN;
  }
  if (e === 0 && mantHi === 0 && mantLo === 0) return sign * 0;
  // significand as a number (exact to 53 bits, rounded by the FPU on the final multiply).
  const significand = mantHi * 4294967296 + mantLo;
  return sign * significand * Math.pow(2, e - 16383 - 63);
}

/**
 * 64 x 64 -> 128-bit multiplication on (lo, hi) pairs of unsigned 32-bit
 * halves without BigInt: 16-bit limbs keep every partial product and column
 * sum exact in a double. Linux's crypto (RSA signature checks of the built-in
 * certificates, SHA) spends much of the boot in 64-bit MUL/IMUL, where the
 * BigInt path allocated and dominated the profile.
 */
const limbs = new Float64Array(8);

/** The 128-bit product as four 32-bit words, least significant first. */
export const product = new Uint32Array(4);

/** Unsigned product of (al, ah) and (bl, bh) into `product`. */
export function multiplyUnsigned64(al: number, ah: number, bl: number, bh: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, a2 = ah & 0xffff, a3 = ah >>> 16;
  const b0 = bl & 0xffff, b1 = bl >>> 16, b2 = bh & 0xffff, b3 = bh >>> 16;
  limbs[0] = a0 * b0;
  limbs[1] = a0 * b1 + a1 * b0;
  limbs[2] = a0 * b2 + a1 * b1 + a2 * b0;
  limbs[3] = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  limbs[4] = a1 * b3 + a2 * b2 + a3 * b1;
  limbs[5] = a2 * b3 + a3 * b2;
  limbs[6] = a3 * b3;
  limbs[7] = 0;
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    const v = limbs[k] + carry;
    const low = v % 65536;
    limbs[k] = low;
    carry = (v - low) / 65536;
  }
  product[0] = (limbs[0] + limbs[1] * 65536) >>> 0;
  product[1] = (limbs[2] + limbs[3] * 65536) >>> 0;
  product[2] = (limbs[4] + limbs[5] * 65536) >>> 0;
  product[3] = (limbs[6] + limbs[7] * 65536) >>> 0;
}

/** Signed (two's complement) product into `product`; returns true when it does not fit in 64 bits (CF = OF). */
export function multiplySigned64(al: number, ah: number, bl: number, bh: number): boolean {
  multiplyUnsigned64(al, ah, bl, bh);
  // high(signed) = high(unsigned) - (a < 0 ? b : 0) - (b < 0 ? a : 0), modulo 2^64.
  if ((ah | 0) < 0) subtractFromHigh(bl, bh);
  if ((bh | 0) < 0) subtractFromHigh(al, ah);
  const ext = (product[1] | 0) < 0 ? 0xffffffff : 0;
  return product[2] !== ext || product[3] !== ext;
}

function subtractFromHigh(lo: number, hi: number): void {
  const l = product[2] - lo;
  product[2] = l >>> 0;
  product[3] = (product[3] - hi - (l < 0 ? 1 : 0)) >>> 0;
}

/**
 * Unsigned high 32 bits of a 32x32 product: splitting b into 16-bit halves
 * keeps each partial product below 2^48, so every step is exact in a double.
 */
export function multiplyHigh32(a: number, b: number): number {
  return Math.floor((Math.floor(a * (b & 0xffff) / 65536) + a * (b >>> 16)) / 65536);
}

/**
 * Low 64 bits of a 64x64 product (signed and unsigned agree): returns the
 * low half, the high half in product[1]. The truncating IMUL forms need no
 * more, and cost three Math.imul and one multiplyHigh32 instead of the full
 * 128-bit product.
 */
export function multiplyLow64(al: number, ah: number, bl: number, bh: number): number {
  product[1] = (multiplyHigh32(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
  return Math.imul(al, bl) >>> 0;
}

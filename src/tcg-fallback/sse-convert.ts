/**
 * Floating-point <-> integer conversion rules of SSE (and x87 stores):
 * MXCSR rounding, and the "integer indefinite" value for NaN or
 * out-of-range inputs.
 */
import { TWO_32 } from './cpu-constants';

/** MXCSR.RC / x87 RC: 0 nearest-even, 1 down, 2 up, 3 toward zero. */
export function roundBy(mode: number, v: number): number {
  switch (mode & 3) {
    case 0: {
      const f = Math.floor(v);
      const diff = v - f;
      if (diff > 0.5) return f + 1;
      if (diff < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
    case 1: return Math.floor(v);
    case 2: return Math.ceil(v);
    default: return Math.trunc(v);
  }
}

/** Converts to a signed 32-bit integer; 0x80000000 when NaN or out of range. */
export function toInt32(v: number, mode: number): number {
  if (Number.isNaN(v)) return 0x80000000;
  const r = roundBy(mode, v);
  if (r < -2147483648 || r > 2147483647) return 0x80000000;
  return r >>> 0;
}

/** Converts to a signed 64-bit integer: returns [lo, hi]; 0x8000000000000000 when NaN or out of range. */
export function toInt64(v: number, mode: number): [number, number] {
  if (Number.isNaN(v)) return [0, 0x80000000];
  const r = roundBy(mode, v);
  if (r < -9223372036854775808 || r >= 9223372036854775808) return [0, 0x80000000];
  const big = BigInt.asUintN(64, BigInt(r));
  return [Number(big & 0xffffffffn), Number(big >> 32n)];
}

/** Signed 64-bit integer halves to the nearest double. */
export function int64ToNumber(lo: number, hi: number): number {
  return Number(BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)));
}

export { TWO_32 };

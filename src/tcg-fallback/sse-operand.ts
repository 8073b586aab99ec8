/**
 * XMM operand access for SSE instructions: the ModRM r/m operand (an XMM
 * register or memory) is copied into a scratch 16-byte buffer with typed
 * views, so every instruction reads its source the same way.
 */
import type { Cpu } from './cpu';
import type { DecodedInstruction } from './decoder';
import { CpuException } from './cpu-exception';
import { VEC_GP } from './cpu-constants';

export class XmmScratch {
  readonly u8 = new Uint8Array(16);
  readonly i8 = new Int8Array(this.u8.buffer);
  readonly u16 = new Uint16Array(this.u8.buffer);
  readonly i16 = new Int16Array(this.u8.buffer);
  readonly u32 = new Uint32Array(this.u8.buffer);
  readonly i32 = new Int32Array(this.u8.buffer);
  readonly f32 = new Float32Array(this.u8.buffer);
  readonly f64 = new Float64Array(this.u8.buffer);
}

/** The source operand of the current instruction. */
export const src = new XmmScratch();
/** A second scratch for results computed before writing the destination. */
export const tmp = new XmmScratch();

/** Typed views over all 16 XMM registers of a CPU (cached per register file). */
export class XmmViews {
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  constructor(bytes: Uint8Array) {
    const b = bytes.buffer;
    this.u8 = bytes;
    this.i8 = new Int8Array(b, bytes.byteOffset, 256);
    this.u16 = new Uint16Array(b, bytes.byteOffset, 128);
    this.i16 = new Int16Array(b, bytes.byteOffset, 128);
    this.u32 = new Uint32Array(b, bytes.byteOffset, 64);
    this.i32 = new Int32Array(b, bytes.byteOffset, 64);
    this.f32 = new Float32Array(b, bytes.byteOffset, 64);
    this.f64 = new Float64Array(b, bytes.byteOffset, 32);
  }
}

const viewCache = new WeakMap<Cpu, XmmViews>();
export function xmmViews(cpu: Cpu): XmmViews {
  let v = viewCache.get(cpu);
  if (!v) { v = new XmmViews(cpu.xmm); viewCache.set(cpu, v); }
  return v;
}

/** Loads `size` bytes of the r/m operand into `src` (upper bytes zeroed). `aligned` enforces 16-byte alignment (#GP). */
export function loadSource(cpu: Cpu, i: DecodedInstruction, size: number, aligned = false): void {
  if (i.mod === 3) {
    src.u8.set(cpu.xmm.subarray(i.rm * 16, i.rm * 16 + 16));
    if (size < 16) src.u8.fill(0, size);
    return;
  }
  const lin = cpu.memoryLinear(i, size, false);
  if (aligned && lin % 16 !== 0) throw new CpuException(VEC_GP, 0);
  src.u8.fill(0);
  if (size >= 8) {
    src.u32[0] = cpu.readLinear(lin, 8); src.u32[1] = cpu.vhi;
    if (size === 16) { src.u32[2] = cpu.readLinear(lin + 8, 8); src.u32[3] = cpu.vhi; }
  } else if (size === 4) src.u32[0] = cpu.readLinear(lin, 4);
  else if (size === 2) src.u16[0] = cpu.readLinear(lin, 2);
  else src.u8[0] = cpu.readLinear(lin, 1);
}

/** Stores `size` bytes from XMM register `reg` (starting at byte `from`) to the r/m memory operand. */
export function storeToMemory(cpu: Cpu, i: DecodedInstruction, reg: number, size: number, aligned = false, from = 0): void {
  const lin = cpu.memoryLinear(i, size, true);
  if (aligned && lin % 16 !== 0) throw new CpuException(VEC_GP, 0);
  cpu.probeWrite(lin, size);
  const w = cpu.xmm32;
  const base = reg * 4 + from / 4;
  if (size >= 8) {
    cpu.writeLinear(lin, 8, w[base], w[base + 1]);
    if (size === 16) cpu.writeLinear(lin + 8, 8, w[base + 2], w[base + 3]);
  } else cpu.writeLinear(lin, 4, w[base], 0);
}

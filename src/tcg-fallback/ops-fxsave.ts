/**
 * Group 15 (0F AE): FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, fences and CLFLUSH.
 * XSAVE and FSGSBASE are not reported in CPUID and raise #UD.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import { CpuException } from './cpu-exception';
import { CR0_EM, CR0_TS, VEC_GP, VEC_NM, VEC_UD } from './cpu-constants';
import { sseGroup15 } from './ops-sse';
import { doubleToExtended, extendedToDouble } from './fpu-convert';

/** MXCSR bits this CPU accepts (DAZ included). */
export const MXCSR_MASK = 0xffff;

const ud = (): never => { throw new CpuException(VEC_UD, undefined); };

function fxsave(cpu: Cpu, i: DecodedInstruction): void {
  const lin = cpu.memoryLinear(i, 512, true);
  if (lin % 16 !== 0) throw new CpuException(VEC_GP, 0);
  const img = new Uint8Array(512);
  const dv = new DataView(img.buffer);
  const f = cpu.fpu;
  dv.setUint16(0, f.control, true);
  dv.setUint16(2, f.statusWord(), true);
  img[4] = f.abridgedTag();
  dv.setUint16(6, f.lastOpcode, true);
  dv.setUint32(24, cpu.mxcsr, true);
  dv.setUint32(28, MXCSR_MASK, true);
  for (let k = 0; k < 8; k++) doubleToExtended(f.st[(f.top + k) & 7], img, 32 + k * 16);
  const regs = cpu.is64 ? 16 : 8;
  img.set(cpu.xmm.subarray(0, regs * 16), 160);
  cpu.probeWrite(lin, 512);
  for (let off = 0; off < 512; off += 4) cpu.writeLinear(lin + off, 4, dv.getUint32(off, true), 0);
}

function fxrstor(cpu: Cpu, i: DecodedInstruction): void {
  const lin = cpu.memoryLinear(i, 512, false);
  if (lin % 16 !== 0) throw new CpuException(VEC_GP, 0);
  const img = new Uint8Array(512);
  const dv = new DataView(img.buffer);
  for (let off = 0; off < 512; off += 4) dv.setUint32(off, cpu.readLinear(lin + off, 4), true);
  const mxcsr = dv.getUint32(24, true);
  if ((mxcsr & ~MXCSR_MASK) !== 0) throw new CpuException(VEC_GP, 0);
  const f = cpu.fpu;
  f.control = dv.getUint16(0, true);
  const sw = dv.getUint16(2, true);
  f.top = (sw >> 11) & 7;
  f.status = sw & ~0x3800;
  const tag = img[4];
  for (let k = 0; k < 8; k++) f.valid[k] = (tag >> k) & 1;
  f.lastOpcode = dv.getUint16(6, true);
  for (let k = 0; k < 8; k++) f.st[(f.top + k) & 7] = extendedToDouble(img, 32 + k * 16);
  cpu.mxcsr = mxcsr;
  const regs = cpu.is64 ? 16 : 8;
  cpu.xmm.set(img.subarray(160, 160 + regs * 16));
}

function group15(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod === 3) {
    // LFENCE/MFENCE/SFENCE: one in-order interpreter thread needs no fencing.
    if (i.simdPrefix === 0 && i.regField >= 5) return;
    ud();
  }
  if (i.simdPrefix !== 0 && !(i.simdPrefix === 0x66 && i.regField === 7)) ud();
  switch (i.regField) {
    case 0: case 1:
      if ((cpu.cr0 & CR0_EM) !== 0) ud();
      if ((cpu.cr0 & CR0_TS) !== 0) throw new CpuException(VEC_NM, undefined);
      if (i.regField === 0) fxsave(cpu, i); else fxrstor(cpu, i);
      return;
    case 2: sseGroup15.ldmxcsr(cpu, i); return;
    case 3: sseGroup15.stmxcsr(cpu, i); return;
    case 7: cpu.memoryLinear(i, 1, false); return; // CLFLUSH: checks the address; no caches
    default: ud();
  }
}

export function registerFxsaveOps(t: Handler[]): void {
  t[0x1ae] = group15;
}

/**
 * RDMSR/WRMSR. Unknown MSRs raise #GP(0), which Linux's exception-fixup
 * probes (rdmsr_safe) expect.
 */
import type { Cpu } from './cpu';
import { CpuException } from './cpu-exception';
import { EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, SEG_FS, SEG_GS, VEC_GP, TWO_32, CR0_PG } from './cpu-constants';

export const MSR_TSC = 0x10;
export const MSR_TSC_ADJUST = 0x3b;
export const MSR_APIC_BASE = 0x1b;
export const MSR_MTRRCAP = 0xfe;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;
export const MSR_MISC_ENABLE = 0x1a0;
export const MSR_PAT = 0x277;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SFMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;
const MSR_PLATFORM_ID = 0x17;
const MSR_BIOS_SIGN_ID = 0x8b;

const gp = (): CpuException => new CpuException(VEC_GP, 0);

function canonical(v: bigint): boolean {
  const s = BigInt.asIntN(64, v);
  return s >= -(1n << 47n) && s < 1n << 47n;
}

/** A canonical 64-bit value as the CPU's signed-number address representation. */
export function addressFromBig(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

export function addressToBig(v: number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}

export const MSR_TSC_DEADLINE = 0x6e0;

/** The first, APIC_BASE-only hook (kept for callers written against it; prefer ApicMsrs). */
export interface ApicBaseMsr {
  readApicBase(): bigint;
  writeApicBase(value: bigint): void;
}

/**
 * The LAPIC's MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE), forwarded to the
 * interrupt-controller model; the same shape as its CpuApicMsrs.
 */
export interface ApicMsrs {
  /** The value, or undefined when the MSR is not the APIC's (then #GP). */
  readMsr(index: number): bigint | undefined;
  /** False when the write must raise #GP. */
  writeMsr(index: number, value: bigint): boolean;
}

function readTsc(cpu: Cpu): bigint {
  return cpu.tscSource ? cpu.tscSource.read() : BigInt.asUintN(64, BigInt(Math.floor(cpu.readTsc())));
}

function writeTsc(cpu: Cpu, value: bigint): void {
  value = BigInt.asUintN(64, value);
  if (cpu.tscSource) cpu.tscSource.write(value); else cpu.tscOffset += Number(value) - cpu.readTsc();
}

export function readMsr(cpu: Cpu, index: number): bigint {
  const m = cpu.msr;
  switch (index >>> 0) {
    case MSR_TSC: return readTsc(cpu);
    case MSR_TSC_ADJUST: return m.tscAdjust;
    case MSR_APIC_BASE: case MSR_TSC_DEADLINE: {
      if (!cpu.apicMsrs) { if (index === MSR_APIC_BASE) return m.apicBase; throw gp(); }
      const v = cpu.apicMsrs.readMsr(index);
      if (v === undefined) throw gp();
      return v;
    }
    case MSR_PLATFORM_ID: return 0n;
    case MSR_BIOS_SIGN_ID: return 0n;
    // No variable ranges, no fixed ranges: MTRRs are reported absent in CPUID but reads are harmless.
    case MSR_MTRRCAP: return 0n;
    case MSR_MTRR_DEF_TYPE: return m.mtrrDefType;
    case MSR_SYSENTER_CS: return m.sysenterCs;
    case MSR_SYSENTER_ESP: return m.sysenterEsp;
    case MSR_SYSENTER_EIP: return m.sysenterEip;
    case MSR_MISC_ENABLE: return m.miscEnable;
    case MSR_PAT: return m.pat;
    case MSR_EFER: return BigInt(cpu.efer);
    case MSR_STAR: return m.star;
    case MSR_LSTAR: return m.lstar;
    case MSR_CSTAR: return m.cstar;
    case MSR_SFMASK: return m.sfmask;
    case MSR_FS_BASE: return addressToBig(cpu.segs[SEG_FS].base);
    case MSR_GS_BASE: return addressToBig(cpu.segs[SEG_GS].base);
    case MSR_KERNEL_GS_BASE: return m.kernelGsBase;
    case MSR_TSC_AUX: return m.tscAux;
    default: throw gp();
  }
}

export function writeMsr(cpu: Cpu, index: number, value: bigint): void {
  const m = cpu.msr;
  value = BigInt.asUintN(64, value);
  switch (index >>> 0) {
    case MSR_TSC: {
      // A write to the TSC moves IA32_TSC_ADJUST by the same amount, and the reverse.
      const before = readTsc(cpu);
      writeTsc(cpu, value);
      m.tscAdjust = BigInt.asUintN(64, m.tscAdjust + value - before);
      return;
    }
    case MSR_TSC_ADJUST:
      writeTsc(cpu, readTsc(cpu) + value - m.tscAdjust);
      m.tscAdjust = value;
      return;
    case MSR_APIC_BASE: case MSR_TSC_DEADLINE:
      if (!cpu.apicMsrs) { if (index === MSR_APIC_BASE) { m.apicBase = value; return; } throw gp(); }
      if (!cpu.apicMsrs.writeMsr(index, value)) throw gp();
      return;
    case MSR_BIOS_SIGN_ID: return;
    case MSR_MTRR_DEF_TYPE: m.mtrrDefType = value & 0xcffn; return;
    case MSR_SYSENTER_CS: m.sysenterCs = value & 0xffffn; return;
    case MSR_SYSENTER_ESP: if (!canonical(value)) throw gp(); m.sysenterEsp = value; return;
    case MSR_SYSENTER_EIP: if (!canonical(value)) throw gp(); m.sysenterEip = value; return;
    case MSR_MISC_ENABLE: m.miscEnable = value & 1n | 1n; return;
    case MSR_PAT: {
      for (let k = 0n; k < 8n; k++) {
        const t = (value >> (8n * k)) & 0xffn;
        if (t === 2n || t === 3n || t > 7n) throw gp();
      }
      m.pat = value;
      return;
    }
    case MSR_EFER: {
      const v = Number(value & 0xffffffffn);
      if (value >> 32n !== 0n || (v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) !== 0) throw gp();
      // LME cannot change while paging is on; LMA is read-only (set by enabling paging).
      if ((cpu.cr0 & CR0_PG) !== 0 && ((v ^ cpu.efer) & EFER_LME) !== 0) throw gp();
      cpu.efer = (v & ~EFER_LMA) | (cpu.efer & EFER_LMA);
      cpu.mmu.flushAll();
      return;
    }
    case MSR_STAR: m.star = value; return;
    case MSR_LSTAR: if (!canonical(value)) throw gp(); m.lstar = value; return;
    case MSR_CSTAR: if (!canonical(value)) throw gp(); m.cstar = value; return;
    case MSR_SFMASK: m.sfmask = value & 0xffffffffn; return;
    case MSR_FS_BASE: if (!canonical(value)) throw gp(); cpu.segs[SEG_FS].base = addressFromBig(value); return;
    case MSR_GS_BASE: if (!canonical(value)) throw gp(); cpu.segs[SEG_GS].base = addressFromBig(value); return;
    case MSR_KERNEL_GS_BASE: if (!canonical(value)) throw gp(); m.kernelGsBase = value; return;
    case MSR_TSC_AUX: m.tscAux = value & 0xffffffffn; return;
    default: throw gp();
  }
}

export { TWO_32 };

/**
 * CPUID: one consistent x86-64 model. A feature bit is reported exactly
 * when this CPU implements it: no SSE3 or later, no MMX, no XSAVE/AVX, no
 * x2APIC, no SMEP/SMAP. RDRAND/RDSEED come from the host CSPRNG. TSC-deadline only with a LAPIC model
 * attached (it implements that timer mode).
 *
 * The TSC is reported invariant (it follows the virtual clock, whatever the
 * CPU does) and IA32_TSC_ADJUST exists. With both, Linux trusts the TSC and
 * does not run the clocksource watchdog against jiffies: on a software CPU
 * timer ticks arrive late, jiffies lag, and the watchdog would otherwise
 * mark the TSC unstable and drop the kernel onto the jiffies clocksource.
 */
import { DEFAULT_TSC_HZ } from './clock-tsc';
import { DEFAULT_APIC_BUS_HZ } from './lapic';

/**
 * Family 6 model 0x1c: the in-order Atom (Bonnell). This CPU executes one
 * instruction at a time with no speculation at all, and Linux knows that
 * model as immune to speculative-execution attacks, so it skips retpolines,
 * return thunks, RSB stuffing and CPU-buffer clearing. Those mitigations
 * protect nothing here and roughly double the cost of every call, return
 * and kernel entry on a software CPU. Stepping 10 is past the early
 * steppings whose large-page erratum makes Linux turn PSE off.
 */
export const CPUID_FAMILY = 6;
export const CPUID_MODEL = 0x1c;
export const CPUID_STEPPING = 10;
/** EAX of leaf 1, also EDX after reset (SDM 9.1.4): models above 15 put their high nibble in the extended-model field. */
export const CPUID_SIGNATURE = ((CPUID_MODEL >> 4) << 16) | (CPUID_FAMILY << 8) | ((CPUID_MODEL & 0xf) << 4) | CPUID_STEPPING;

const FEAT1_ECX_CX16 = 1 << 13;
const FEAT1_ECX_MOVBE = 1 << 22;
const FEAT1_ECX_POPCNT = 1 << 23;
const FEAT1_ECX_TSC_DEADLINE = 1 << 24;
const FEAT1_ECX_RDRAND = 1 << 30;
const FEAT1_ECX_HYPERVISOR = 1 << 31;

const FEAT1_EDX =
  (1 << 0) |  // FPU
  (1 << 3) |  // PSE
  (1 << 4) |  // TSC
  (1 << 5) |  // MSR
  (1 << 6) |  // PAE
  (1 << 8) |  // CX8
  (1 << 9) |  // APIC
  (1 << 11) | // SEP (SYSENTER/SYSEXIT)
  (1 << 13) | // PGE
  (1 << 15) | // CMOV
  (1 << 16) | // PAT
  (1 << 19) | // CLFSH
  (1 << 24) | // FXSR
  (1 << 25) | // SSE
  (1 << 26);  // SSE2

const LEAF7_EBX_TSC_ADJUST = 1 << 1;
const LEAF7_EBX_RDSEED = 1 << 18;
/** Enhanced REP MOVSB/STOSB and fast short REP MOVSB: Linux then copies and clears with `rep movsb`/`rep stosb`, which the software CPU moves a page at a time (ops-string-bulk.ts). */
const LEAF7_EBX_ERMS = 1 << 9;
const LEAF7_EDX_FSRM = 1 << 4;
const EXT7_EDX_INVARIANT_TSC = 1 << 8;

const EXT1_ECX = (1 << 0) /* LAHF/SAHF in 64-bit mode */ | (1 << 5) /* LZCNT */;
const EXT1_EDX = (1 << 11) /* SYSCALL */ | (1 << 20) /* NX */ | (1 << 26) /* 1 GiB pages */ | (1 << 27) /* RDTSCP */ | (1 << 29) /* LM */;

function str4(s: string, at: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = v * 256 + (s.charCodeAt(at + k) || 0);
  return v >>> 0;
}

const BRAND = 'TSVisor TCG x86-64 software CPU'.padEnd(48, '\0');

export interface CpuidResult { eax: number; ebx: number; ecx: number; edx: number }

/**
 * Leaf 0x15 (TSC / core crystal clock): the TSC runs at TSC_HZ and the
 * "crystal" is the LAPIC timer's bus clock. Linux then takes the TSC
 * frequency and the LAPIC timer period from CPUID instead of calibrating
 * them against the PIT, which fails on a slow, jittery software CPU (it
 * marked the TSC unstable and disabled the APIC timer).
 */
const CRYSTAL_HZ = DEFAULT_APIC_BUS_HZ;
const TSC_TO_CRYSTAL = DEFAULT_TSC_HZ / DEFAULT_APIC_BUS_HZ;

/**
 * `tscDeadline`: the attached LAPIC implements the TSC-deadline timer mode,
 * and the TSC and LAPIC run at the platform's clocks (so leaf 0x15 is true).
 */
export function cpuid(leaf: number, subleaf: number, apicId: number, cpuCount: number, tscDeadline = false): CpuidResult {
  const r = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  switch (leaf >>> 0) {
    case 0:
      r.eax = tscDeadline ? 0x15 : 7;
      r.ebx = str4('Genu', 0); r.edx = str4('ineI', 0); r.ecx = str4('ntel', 0);
      break;
    case 1:
      r.eax = CPUID_SIGNATURE;
      r.ebx = ((apicId & 0xff) << 24) | ((Math.min(cpuCount, 255) & 0xff) << 16) | (8 << 8);
      r.ecx = (FEAT1_ECX_CX16 | FEAT1_ECX_MOVBE | FEAT1_ECX_POPCNT | FEAT1_ECX_RDRAND | FEAT1_ECX_HYPERVISOR | (tscDeadline ? FEAT1_ECX_TSC_DEADLINE : 0)) >>> 0;
      r.edx = FEAT1_EDX >>> 0;
      break;
    case 7:
      // Subleaf 0: IA32_TSC_ADJUST, RDSEED, ERMS and FSRM.
      if (subleaf === 0) {
        r.ebx = LEAF7_EBX_TSC_ADJUST | LEAF7_EBX_RDSEED | LEAF7_EBX_ERMS;
        r.edx = LEAF7_EDX_FSRM;
      }
      break;
    case 0x15:
      if (tscDeadline) { r.eax = 1; r.ebx = TSC_TO_CRYSTAL; r.ecx = CRYSTAL_HZ; }
      break;
    case 0x40000000:
      r.eax = 0x40000000;
      r.ebx = str4('TSVi', 0); r.ecx = str4('sorT', 0); r.edx = str4('CG\0\0', 0);
      break;
    case 0x80000000: r.eax = 0x80000008; break;
    case 0x80000001: r.ecx = EXT1_ECX >>> 0; r.edx = EXT1_EDX >>> 0; break;
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const base = (leaf - 0x80000002) * 16;
      r.eax = str4(BRAND, base); r.ebx = str4(BRAND, base + 4); r.ecx = str4(BRAND, base + 8); r.edx = str4(BRAND, base + 12);
      break;
    }
    case 0x80000007: r.edx = EXT7_EDX_INVARIANT_TSC; break;
    case 0x80000008: r.eax = 40 | (48 << 8); break;
    default: break;
  }
  return r;
}

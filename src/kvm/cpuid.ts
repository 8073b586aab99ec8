/**
 * CPUID entries (struct kvm_cpuid_entry2) and the per-vCPU table a guest
 * sees: KVM's supported set plus the hypervisor bit, the KVM signature leaves
 * and the vCPU's own APIC ID.
 */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, the kernel's spelling): the entry is per subleaf. */
export const CPUID_FLAG_SIGNIFICANT_INDEX = 1;
const ENTRY_SIZE = 40;

export function decodeCpuidEntries(raw: ArrayBuffer): CpuidEntry[] {
  const dv = new DataView(raw);
  const entries: CpuidEntry[] = [];
  for (let off = 0; off + ENTRY_SIZE <= raw.byteLength; off += ENTRY_SIZE) {
    entries.push({
      function: dv.getUint32(off, true),
      index: dv.getUint32(off + 4, true),
      flags: dv.getUint32(off + 8, true),
      eax: dv.getUint32(off + 12, true),
      ebx: dv.getUint32(off + 16, true),
      ecx: dv.getUint32(off + 20, true),
      edx: dv.getUint32(off + 24, true),
    });
  }
  return entries;
}

export function encodeCpuidEntries(entries: readonly CpuidEntry[]): Uint8Array {
  const out = new Uint8Array(entries.length * ENTRY_SIZE);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    const off = i * ENTRY_SIZE;
    dv.setUint32(off, e.function >>> 0, true);
    dv.setUint32(off + 4, e.index >>> 0, true);
    dv.setUint32(off + 8, e.flags >>> 0, true);
    dv.setUint32(off + 12, e.eax >>> 0, true);
    dv.setUint32(off + 16, e.ebx >>> 0, true);
    dv.setUint32(off + 20, e.ecx >>> 0, true);
    dv.setUint32(off + 24, e.edx >>> 0, true);
  });
  return out;
}

/** "KVMKVMKVM\0\0\0" as the three little-endian registers EBX, ECX, EDX. */
const KVM_SIGNATURE = { ebx: 0x4b4d564b, ecx: 0x564b4d56, edx: 0x0000004d };
const HYPERVISOR_BASE_LEAF = 0x40000000;
const HYPERVISOR_FEATURES_LEAF = 0x40000001;
const LEAF1_ECX_HYPERVISOR = 1 << 31;

/**
 * The CPUID table for one vCPU, derived from KVM_GET_SUPPORTED_CPUID.
 * Linux finds its paravirtual clock and friends through the KVM leaves, and
 * each CPU's APIC ID through leaf 1 EBX[31:24] and the x2APIC topology leaves.
 */
export function cpuidForVcpu(supported: readonly CpuidEntry[], apicId: number): CpuidEntry[] {
  const entries = supported.map((e) => ({ ...e }));
  for (const e of entries) {
    if (e.function === 1) {
      e.ecx = (e.ecx | LEAF1_ECX_HYPERVISOR) >>> 0;
      e.ebx = ((e.ebx & 0x00ffffff) | ((apicId & 0xff) << 24)) >>> 0;
    } else if (e.function === 0xb || e.function === 0x1f) {
      e.edx = apicId >>> 0;
    }
  }
  const upsert = (fn: number, fill: Omit<CpuidEntry, 'function' | 'index' | 'flags'>): void => {
    const existing = entries.find((e) => e.function === fn);
    if (existing) Object.assign(existing, fill);
    else entries.push({ function: fn, index: 0, flags: 0, ...fill });
  };
  const features = supported.find((e) => e.function === HYPERVISOR_FEATURES_LEAF);
  upsert(HYPERVISOR_BASE_LEAF, { eax: HYPERVISOR_FEATURES_LEAF, ...KVM_SIGNATURE });
  upsert(HYPERVISOR_FEATURES_LEAF, { eax: features?.eax ?? 0, ebx: 0, ecx: 0, edx: features?.edx ?? 0 });
  return entries;
}

/** Finds the entry a guest's CPUID(leaf, subleaf) would see. */
export function findCpuid(entries: readonly CpuidEntry[], leaf: number, subleaf = 0): CpuidEntry | undefined {
  return entries.find(
    (e) => e.function === leaf && ((e.flags & CPUID_FLAG_SIGNIFICANT_INDEX) === 0 || e.index === subleaf),
  );
}

import t from 'tap';
import { cpuid } from '../src/tcg-fallback/cpuid';
import { DEFAULT_TSC_HZ } from '../src/tcg-fallback/clock-tsc';
import { DEFAULT_APIC_BUS_HZ } from '../src/tcg-fallback/lapic';

t.test('leaf 0x15 gives Linux the TSC and LAPIC timer frequencies the platform really runs at', async (t) => {
  t.equal(cpuid(0, 0, 0, 1, true).eax, 0x15, 'max basic leaf covers 0x15 when the platform TSC and LAPIC are attached');
  const l15 = cpuid(0x15, 0, 0, 1, true);
  t.equal(l15.ecx, DEFAULT_APIC_BUS_HZ, 'the crystal is the LAPIC timer clock (Linux sets lapic_timer_period from it)');
  t.equal((l15.ecx * l15.ebx) / l15.eax, DEFAULT_TSC_HZ, 'crystal x ratio = the TSC rate RDTSC counts at');
});

t.test('without a platform TSC the leaf is not offered (it would be a lie)', async (t) => {
  t.equal(cpuid(0, 0, 0, 1, false).eax, 7);
  t.same(cpuid(0x15, 0, 0, 1, false), { eax: 0, ebx: 0, ecx: 0, edx: 0 });
});

t.test('leaf 1 signature decodes as the in-order Atom Linux treats as non-speculative (family 6, model 0x1c)', async (t) => {
  const eax = cpuid(1, 0, 0, 1).eax;
  const family = (eax >> 8) & 0xf;
  const model = ((eax >> 4) & 0xf) | (((eax >> 16) & 0xf) << 4);
  t.equal(family, 6);
  t.equal(model, 0x1c);
  t.ok((eax & 0xf) > 2, 'past the steppings with the large-page erratum');
});

t.test('the TSC is reported invariant and IA32_TSC_ADJUST exists, so Linux trusts it without the jiffies watchdog', async (t) => {
  t.ok((cpuid(0x80000007, 0, 0, 1).edx & (1 << 8)) !== 0, 'invariant TSC');
  t.ok((cpuid(7, 0, 0, 1).ebx & (1 << 1)) !== 0, 'TSC_ADJUST');
  t.ok(cpuid(0x80000000, 0, 0, 1).eax >= 0x80000007, 'leaf 0x80000007 is within the extended range');
});

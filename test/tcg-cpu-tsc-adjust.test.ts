// IA32_TSC_ADJUST (SDM 17.17.3): it tracks every guest change to the TSC, and
// writing it moves the TSC by the difference. Linux reads it at boot to check
// the firmware left the TSCs alone, and trusts the TSC only when it exists.
import t from 'tap';
import { Cpu } from '../src/tcg-fallback/cpu';
import { CpuException } from '../src/tcg-fallback/cpu-exception';
import { GuestMemory } from '../src/memory/guest-memory';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { MSR_TSC, MSR_TSC_ADJUST, readMsr, writeMsr } from '../src/tcg-fallback/msr';

/** A CPU whose TSC is a counter the test controls, so values are exact. */
function cpuWithTsc(): { cpu: Cpu; tick(n: bigint): void } {
  const cpu = new Cpu(new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(1 << 20) }]), new IoBus(memoryLogger()));
  let hw = 1000n;
  let offset = 0n;
  cpu.tscSource = { read: () => BigInt.asUintN(64, hw + offset), write: (v) => { offset = v - hw; } };
  return { cpu, tick: (n) => { hw += n; } };
}

t.test('starts at zero; a write to IA32_TSC moves IA32_TSC_ADJUST by the same amount', async (t) => {
  const { cpu, tick } = cpuWithTsc();
  t.equal(readMsr(cpu, MSR_TSC_ADJUST), 0n);
  writeMsr(cpu, MSR_TSC, 5000n);
  t.equal(readMsr(cpu, MSR_TSC_ADJUST), 4000n, 'TSC went from 1000 to 5000');
  tick(10n);
  t.equal(readMsr(cpu, MSR_TSC), 5010n, 'the TSC keeps counting from the written value');
});

t.test('a write to IA32_TSC_ADJUST moves the TSC by the difference, including backwards', async (t) => {
  const { cpu } = cpuWithTsc();
  writeMsr(cpu, MSR_TSC_ADJUST, 500n);
  t.equal(readMsr(cpu, MSR_TSC), 1500n);
  writeMsr(cpu, MSR_TSC_ADJUST, 0n);
  t.equal(readMsr(cpu, MSR_TSC), 1000n, 'back to the unadjusted count');
  t.equal(readMsr(cpu, MSR_TSC_ADJUST), 0n);
});

t.test('an MSR next to it that does not exist still raises #GP', async (t) => {
  const { cpu } = cpuWithTsc();
  t.throws(() => readMsr(cpu, 0x3c), CpuException);
});

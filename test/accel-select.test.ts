import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planAccelerators, probeKvm } from '../src/machine/accel-select';

const dir = mkdtempSync(join(tmpdir(), 'tsvisor-accel-'));
const cpuinfo = (flags: string) => {
  const p = join(dir, `cpuinfo-${flags || 'none'}`);
  writeFileSync(p, `processor\t: 0\nflags\t\t: fpu sse2 ${flags}\n`);
  return p;
};

t.test('an absent /dev/kvm is named with the fix', async (t) => {
  const probe = probeKvm(join(dir, 'kvm'), cpuinfo('vmx'));
  t.equal(probe.openable, false);
  t.match(probe.problem, /kvm is absent: load the KVM module \(modprobe kvm_intel or kvm_amd\)/);
  t.equal(probe.hardwareVirtualization, true);
});

t.test('auto picks KVM only with hardware virtualization, and says why when it does not', async (t) => {
  t.same(planAccelerators('auto', { openable: true, hardwareVirtualization: true }), { candidates: ['kvm'] });
  const nested = planAccelerators('auto', { openable: true, hardwareVirtualization: false });
  t.same('candidates' in nested && nested.candidates, ['tcg']);
  t.match('note' in nested && nested.note, /software CPU \(tcg\): \/dev\/kvm is present but the host CPU has no vmx\/svm/);
  const absent = planAccelerators('auto', { openable: false, problem: '/dev/kvm is absent: ...', hardwareVirtualization: false });
  t.match('note' in absent && absent.note, /software CPU \(tcg\): \/dev\/kvm is absent/);
});

t.test('an explicit list is honoured in order; kvm alone fails clearly when it cannot open', async (t) => {
  const noKvm = { openable: false, problem: '/dev/kvm is not permitted for this user: add it to the kvm group', hardwareVirtualization: true };
  t.same(planAccelerators(['kvm', 'tcg'], noKvm), { candidates: ['tcg'] }, 'kvm:tcg falls back');
  t.same(planAccelerators(['kvm'], noKvm), { error: 'cannot use KVM: /dev/kvm is not permitted for this user: add it to the kvm group' });
  t.same(planAccelerators(['tcg', 'kvm'], { openable: true, hardwareVirtualization: false }), { candidates: ['tcg', 'kvm'] });
});

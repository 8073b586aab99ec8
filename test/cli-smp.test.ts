/**
 * SMP bring-up through `bin/tsvisor run --cpus N`: the BSP wakes each AP
 * with INIT + STARTUP through its xAPIC, every AP prints its line from real
 * mode and counts itself in, and the BSP exits with the count
 * (test/guests/raw-smp.S). The software CPU runs every vCPU on the machine
 * thread; KVM runs vCPUs 1..N-1 on threads of their own.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleImage, toolchainMissing } from './helpers/assemble';
import { runTsvisor } from './helpers/tsvisor-cli';
import { probeKvm } from '../src/machine/accel-select';

const guestsDir = join(__dirname, '..', '..', 'test', 'guests');
const kvm = probeKvm();
const noTools = toolchainMissing();
const kvmSkip = kvm.openable ? false : `no KVM: ${kvm.problem}`;

function build(cpus: number, prefix = ''): string {
  const source = `CPUS = ${cpus}\n${prefix}` + readFileSync(join(guestsDir, 'raw-smp.S'), 'utf8');
  return assembleImage(source, { bits: 32, output: 'binary', textAddress: 0x8000, includeDirs: [guestsDir] }).path;
}

const runs: { accel: 'tcg' | 'kvm'; cpus: number; skip: string | false }[] = [
  { accel: 'tcg', cpus: 2, skip: false },
  { accel: 'tcg', cpus: 4, skip: false },
  { accel: 'tcg', cpus: 16, skip: false },
  { accel: 'kvm', cpus: 2, skip: kvmSkip },
  { accel: 'kvm', cpus: 4, skip: kvmSkip },
  { accel: 'kvm', cpus: 16, skip: kvmSkip },
];

for (const r of runs) {
  t.test(`--accel ${r.accel} --cpus ${r.cpus}: the BSP starts every AP`, { skip: noTools ?? r.skip }, async (t) => {
    const out = await runTsvisor(['run', '--kernel', build(r.cpus), '--kernel-format', 'raw,load=0x8000,mode=32',
      '--accel', r.accel, '--cpus', String(r.cpus)], { timeoutMs: 60_000 });
    const lines = out.stdout.split('\n');
    t.equal(lines[0], 'BSP up, starting the APs', 'the BSP speaks first');
    const apLines = lines.slice(1, r.cpus).sort((a, b) => parseInt(a.slice(3), 16) - parseInt(b.slice(3), 16));
    const want = Array.from({ length: r.cpus - 1 }, (_, i) => `AP ${(i + 1).toString(16)} up`);
    t.same(apLines, want, 'one whole line from each AP (any order), under the guest\'s UART lock');
    t.same(lines.slice(r.cpus), ['BSP: every AP counted in', ''], 'then the BSP saw every AP\'s locked increment');
    t.equal(out.status, ((r.cpus - 1) << 1) | 1, `exit status ((${r.cpus} - 1) << 1) | 1 through isa-debug-exit`);
    t.equal(out.stderr, '', 'nothing on stderr');
  });
}

for (const accel of ['tcg', 'kvm'] as const) {
  t.test(`--accel ${accel} --cpus 4: an AP powers off, resets or triple-faults the machine`, { skip: noTools ?? (accel === 'kvm' && kvmSkip) }, async (t) => {
    const args = (prefix: string): string[] => ['run', '--kernel', build(4, prefix), '--kernel-format', 'raw,load=0x8000,mode=32',
      '--accel', accel, '--cpus', '4', '--no-reboot'];
    const allUp = 'BSP up, starting the APs\nAP 1 up\nAP 2 up\nAP 3 up\nBSP: every AP counted in\n';
    const sorted = (out: string): string => out.split('\n').sort().join('\n');
    const off = await runTsvisor(args('AP_ACTION = 1\n'), { timeoutMs: 60_000 });
    t.equal(sorted(off.stdout), sorted(allUp), 'every vCPU spoke before AP 1 acted');
    t.equal(off.status, 0, 'ACPI S5 written by AP 1 ends the process with status 0');
    t.equal(off.stderr, '');
    const reset = await runTsvisor(args('AP_ACTION = 2\n'), { timeoutMs: 60_000 });
    t.equal(sorted(reset.stdout), sorted(allUp));
    t.equal(reset.status, 0, 'an i8042 reset from AP 1 under --no-reboot ends the process with status 0');
    t.equal(reset.stderr, '', 'silently, as QEMU does for a guest-requested reset');
    const fault = await runTsvisor(args('AP_ACTION = 3\n'), { timeoutMs: 60_000 });
    if (accel === 'kvm' && !kvm.hardwareVirtualization) {
      // kvm_pvm (nested KVM without vmx/svm) emulates real-mode code and cannot deliver
      // the #UD: KVM_EXIT_INTERNAL_ERROR on AP 1's thread, which must end the VM just as well.
      t.equal(fault.status, 1, 'an emulation failure on AP 1 ends the process with status 1');
      t.match(fault.stderr, /^tsvisor: vCPU 1: .*KVM_EXIT_INTERNAL_ERROR/, 'naming vCPU 1');
    } else {
      t.equal(fault.status, 0, 'a triple fault on AP 1 under --no-reboot ends the process with status 0');
      t.match(fault.stderr, /guest reset \(vCPU 1: .*triple fault\); exiting because of --no-reboot/, 'and names the vCPU');
    }
  });
}

t.test('--cpus 17 is refused', async (t) => {
  const out = await runTsvisor(['run', '--kernel', '/dev/null', '--cpus', '17']);
  t.equal(out.status, 1);
  t.match(out.stderr, /bad --cpus '17': expected 1-16/);
});

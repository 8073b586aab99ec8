/**
 * Stock Debian kernels boot through `bin/tsvisor run` to /init and end the
 * way a user expects (issue 4): the cloud kernel finds two vCPUs through the
 * ACPI MADT and `reboot` under --no-reboot exits 0; the generic kernel (XZ
 * payload, different config) boots and `poweroff` exits 0; a kernel panic
 * with panic=-1 reboots and the machine boots again.
 *
 * Every scenario runs under the software CPU, and again under KVM where the
 * host has hardware virtualization (vmx/svm); elsewhere the KVM ones skip
 * with one line, since nested KVM without it cannot boot Linux.
 */
import t from 'tap';
import { runTsvisor } from './helpers/tsvisor-cli';
import { GuestVariant, LINUX_BOOT_TIMEOUT_MS, guestCmd, linuxGuest } from './helpers/linux-guest';
import { probeKvm } from '../src/machine/accel-select';

const MARKER = 'tsvisor-guest: init reached';
t.setTimeout(10 * LINUX_BOOT_TIMEOUT_MS);

const kvm = probeKvm();
const kvmSkip = !kvm.openable ? `no KVM: ${kvm.problem}`
  : !kvm.hardwareVirtualization ? 'KVM here is nested without vmx/svm underneath: it cannot boot Linux (these run where it can)' : false;
const ACCELS: { accel: 'tcg' | 'kvm'; skip: string | false }[] = [{ accel: 'tcg', skip: false }, { accel: 'kvm', skip: kvmSkip }];

function args(variant: GuestVariant, accel: string, extra: string[], append: string): string[] {
  const g = linuxGuest(variant);
  return ['run', '--kernel', g.kernel, '--initrd', g.initrd, '--accel', accel, '--memory', '256M',
    '--append', `console=ttyS0 ${append}`, ...extra];
}

/** The last lines of the console, so a failure shows how far the kernel got. */
function tail(out: string): string {
  return out.split('\n').slice(-15).join('\n');
}

for (const { accel, skip } of ACCELS) {
  const cloudSkip = skip || linuxGuest('cloud').skip;
  const genericSkip = skip || linuxGuest('generic').skip;

  t.test(`${accel}: cloud kernel, --cpus 2: the guest reports CPUs 0-1 online, and reboot under --no-reboot exits 0`, { skip: cloudSkip }, async (t) => {
    const r = await runTsvisor(args('cloud', accel, ['--cpus', '2', '--no-reboot'],
      `panic=-1 ${guestCmd(['echo online=$(cat /sys/devices/system/cpu/online)', 'reboot -f'])}`), { timeoutMs: LINUX_BOOT_TIMEOUT_MS });
    t.match(r.stdout, MARKER, 'reached /init');
    t.match(r.stdout, /online=0-1\r?\n/, `both vCPUs online\n${tail(r.stdout)}`);
    t.match(r.stdout, 'reboot: Restarting system', 'the guest asked for a reboot');
    t.equal(r.status, 0, '--no-reboot turns the reboot into exit 0');
  });

  t.test(`${accel}: generic kernel: boots to /init and poweroff exits 0`, { skip: genericSkip }, async (t) => {
    const r = await runTsvisor(args('generic', accel, ['--no-reboot'], `panic=-1 ${guestCmd(['echo kernel=$(uname -r)', 'poweroff -f'])}`),
      { timeoutMs: LINUX_BOOT_TIMEOUT_MS });
    t.match(r.stdout, MARKER, `reached /init\n${tail(r.stdout)}`);
    t.match(r.stdout, /kernel=[0-9.]+-[0-9]+-amd64\r?\n/, 'the generic (not cloud) kernel is the one running');
    t.match(r.stdout, 'reboot: Power down', 'the guest powered off');
    t.equal(r.status, 0);
  });

  t.test(`${accel}: cloud kernel: a panic with panic=-1 reboots and the machine boots again`, { skip: cloudSkip }, async (t) => {
    const append = `panic=-1 ${guestCmd(['echo c > /proc/sysrq-trigger'])}`;
    const count = (out: string, s: string): number => out.split(s).length - 1;
    const again = await runTsvisor(args('cloud', accel, [], append), { timeoutMs: LINUX_BOOT_TIMEOUT_MS, stopWhen: (out) => count(out, MARKER) >= 2 });
    t.match(again.stdout, /Kernel panic - not syncing/, `the kernel panicked\n${tail(again.stdout)}`);
    t.equal(count(again.stdout, 'Linux version'), 2, 'the reset machine booted the kernel a second time');
    t.equal(count(again.stdout, MARKER), 2, 'and reached /init again');
    t.notMatch(again.stderr, /error/i, 'no error from the VMM');
  });
}

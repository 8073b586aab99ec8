/**
 * Stock Debian kernels boot through `bin/tsvisor run` to /init and end the
 * way a user expects (issue 4): the cloud kernel finds two vCPUs through the
 * ACPI MADT and `reboot` under --no-reboot exits 0; the generic kernel (XZ
 * payload, different config) boots and `poweroff` exits 0; a kernel panic
 * with panic=-1 reboots, which --no-reboot turns into exit 0.
 *
 * Under the software CPU each boot takes a minute or more, so each scenario
 * is one boot. Under KVM (TSVISOR_LINUX_ACCEL=kvm) the same tests run where
 * the host has hardware virtualization.
 */
import t from 'tap';
import { runTsvisor } from './helpers/tsvisor-cli';
import { GuestVariant, LINUX_BOOT_TIMEOUT_MS, guestCmd, linuxGuest } from './helpers/linux-guest';

const accel = process.env.TSVISOR_LINUX_ACCEL ?? 'tcg';
const MARKER = 'tsvisor-guest: init reached';
t.setTimeout(4 * LINUX_BOOT_TIMEOUT_MS);

function boot(variant: GuestVariant, extra: string[], append: string): ReturnType<typeof runTsvisor> {
  const g = linuxGuest(variant);
  return runTsvisor(['run', '--kernel', g.kernel, '--initrd', g.initrd, '--accel', accel, '--memory', '256M', '--no-reboot',
    '--append', `console=ttyS0 ${append}`, ...extra], { timeoutMs: LINUX_BOOT_TIMEOUT_MS });
}

/** The last lines of the console, so a failure shows how far the kernel got. */
function tail(out: string): string {
  return out.split('\n').slice(-15).join('\n');
}

t.test('cloud kernel, --cpus 2: the guest reports CPUs 0-1 online, and reboot under --no-reboot exits 0', { skip: linuxGuest('cloud').skip }, async (t) => {
  const r = await boot('cloud', ['--cpus', '2'], `panic=-1 ${guestCmd(['echo online=$(cat /sys/devices/system/cpu/online)', 'reboot -f'])}`);
  t.match(r.stdout, MARKER, 'reached /init');
  t.match(r.stdout, /online=0-1\r?\n/, `both vCPUs online\n${tail(r.stdout)}`);
  t.match(r.stdout, 'reboot: Restarting system', 'the guest asked for a reboot');
  t.equal(r.status, 0, '--no-reboot turns the reboot into exit 0');
});

t.test('generic kernel: boots to /init and poweroff exits 0', { skip: linuxGuest('generic').skip }, async (t) => {
  const r = await boot('generic', [], `panic=-1 ${guestCmd(['echo kernel=$(uname -r)', 'poweroff -f'])}`);
  t.match(r.stdout, MARKER, `reached /init\n${tail(r.stdout)}`);
  t.match(r.stdout, /kernel=[0-9.]+-[0-9]+-amd64\r?\n/, 'the generic (not cloud) kernel is the one running');
  t.match(r.stdout, 'reboot: Power down', 'the guest powered off');
  t.equal(r.status, 0);
});

t.test('cloud kernel: a panic with panic=-1 reboots at once, and --no-reboot exits 0', { skip: linuxGuest('cloud').skip }, async (t) => {
  const r = await boot('cloud', [], `panic=-1 ${guestCmd(['echo c > /proc/sysrq-trigger'])}`);
  t.match(r.stdout, MARKER, 'reached /init');
  t.match(r.stdout, /Kernel panic - not syncing/, `the kernel panicked\n${tail(r.stdout)}`);
  t.equal(r.status, 0, 'the panic reboot ends the run with status 0');
  t.notMatch(r.stderr, /error/i, 'no error from the VMM');
});

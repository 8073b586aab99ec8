/**
 * Opt-in (TSVISOR_QEMU_CHECK=1, ~5-10 s): boots the default guest in QEMU
 * through our loader, ACPI tables and entry state (scripts/guest/qemu-boot-check.ts).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { NO_GUEST_MESSAGE, builtGuest } from './machine-fixtures';

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const skip =
  process.env.TSVISOR_QEMU_CHECK !== '1' ? 'set TSVISOR_QEMU_CHECK=1 to boot the default guest in QEMU with our tables'
  : !haveQemu ? 'qemu-system-x86_64 not installed'
  : !builtGuest() ? NO_GUEST_MESSAGE
  : false;

t.test('QEMU boots the Debian cloud kernel from our zero page, ACPI tables and entry state', { skip }, async (t) => {
  const script = join(__dirname, '..', 'scripts', 'guest', 'qemu-boot-check.js');
  const r = spawnSync(process.execPath, [script, '--cpus', '2', '--timeout', '90'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stdout.split('\n').slice(-3).join('\n'));
  t.match(r.stdout, /qemu-boot-check: PASS/);
});

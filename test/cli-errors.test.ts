import t from 'tap';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsvisor } from './helpers/tsvisor-cli';

const dir = mkdtempSync(join(tmpdir(), 'tsvisor-cli-'));
const kernel = join(dir, 'k.bin');
writeFileSync(kernel, Buffer.from([0xf4]));

/** Every error is one line on stderr, prefixed, with exit status 1. */
async function expectError(t: tap.Test, args: string[], pattern: RegExp): Promise<void> {
  const r = await runTsvisor(args);
  t.equal(r.status, 1, `exit status 1 for: ${args.join(' ')}`);
  const lines = r.stderr.trimEnd().split('\n');
  t.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  t.match(lines[0], /^tsvisor: /);
  t.match(lines[0], pattern);
}

t.test('a missing kernel file is named', (t) => expectError(t, ['run', '--kernel', join(dir, 'nope')], /cannot read kernel '.*nope': no such file/));
t.test('an empty kernel is refused', async (t) => {
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  await expectError(t, ['run', '--kernel', empty], /kernel '.*empty' is empty/);
});
t.test('a directory is not a kernel', (t) => expectError(t, ['run', '--kernel', dir], /it is a directory/));
t.test('an unreadable initrd is named', async (t) => {
  const initrd = join(dir, 'initrd');
  writeFileSync(initrd, 'x');
  chmodSync(initrd, 0);
  // root reads anything; only check the permission message when it applies.
  if (process.getuid?.() === 0) {
    await expectError(t, ['run', '--kernel', kernel, '--initrd', join(dir, 'missing-initrd')], /cannot read initrd '.*missing-initrd': no such file/);
  } else {
    await expectError(t, ['run', '--kernel', kernel, '--initrd', initrd], /permission denied/);
  }
});
t.test('a bad memory size is refused', (t) => expectError(t, ['run', '--kernel', kernel, '--memory', '12Q'], /bad memory size '12Q'/));
t.test('an unknown option is refused', (t) => expectError(t, ['run', '--kernel', kernel, '--frobnicate'], /unknown option '--frobnicate'/));
t.test('an unknown command is refused', async (t) => {
  const r = await runTsvisor(['launch']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^tsvisor: unknown command 'launch'/);
});
t.test('--kvm when /dev/kvm is absent says so and how to fix it', async (t) => {
  // A path that does not exist stands in for a host without KVM.
  const r = await runTsvisor(['run', '--kernel', kernel, '--accel', 'kvm'], { env: { TSVISOR_KVM_DEVICE: join(dir, 'no-kvm') } });
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot use KVM: .*no-kvm is absent: load the KVM module/);
});
t.test('run --help prints the usage and exits 0', async (t) => {
  const r = await runTsvisor(['run', '--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /usage: tsvisor run --kernel PATH/);
});

import t from 'tap';
import { parseRunArgs } from '../src/cli/run-args';
import { CliError } from '../src/cli/errors';
import { virtioConfigOf } from '../src/machine/virtio-config';

const base = ['--kernel', 'k'];

function error(args: string[]): string {
  try {
    parseRunArgs([...base, ...args]);
  } catch (e) {
    if (e instanceof CliError) return e.message;
    throw e;
  }
  throw new Error(`no error for ${args.join(' ')}`);
}

t.test('defaults: pc machine, no virtio devices, serial console', async (t) => {
  const { config } = parseRunArgs(base);
  t.equal(config.machine, 'pc');
  t.same(config.disks, []);
  t.same(config.nets, []);
  t.equal(config.rng, false);
  t.equal(config.console, 'serial');
});

t.test('a config without the virtio fields gets the same defaults', async (t) => {
  t.same(virtioConfigOf({}), { machine: 'pc', disks: [], nets: [], rng: false, console: 'serial' });
});

t.test('every virtio option lands in the config', async (t) => {
  const { config } = parseRunArgs([
    ...base, '--machine', 'microvm', '--disk', '/a.img', '--disk', '/b.img,readonly=on,serial=DISK-B', '--disk', '/c,,d.img,readonly=off',
    '--net', 'tap=tap0,mac=52:54:00:aa:bb:cc', '--net', 'fd=7', '--rng', '--console', 'virtio',
  ]);
  t.equal(config.machine, 'microvm');
  t.same(config.disks, [
    { path: '/a.img', readOnly: false },
    { path: '/b.img', readOnly: true, serial: 'DISK-B' },
    { path: '/c,d.img', readOnly: false },
  ]);
  t.same(config.nets, [{ kind: 'tap', name: 'tap0', mac: '52:54:00:aa:bb:cc' }, { kind: 'fd', fd: 7 }]);
  t.equal(config.rng, true);
  t.equal(config.console, 'virtio');
});

t.test('bad values are one line naming the option', async (t) => {
  t.match(error(['--machine', 'q35']), /^bad --machine 'q35': expected pc or microvm$/);
  t.match(error(['--disk', '']), /^bad --disk '': expected PATH/);
  t.match(error(['--disk', '/a,readonly=maybe']), /^bad --disk readonly='maybe': expected on or off$/);
  t.match(error(['--disk', '/a,cache=none']), /^unknown --disk field 'cache'/);
  t.match(error(['--disk', '/a,serial=123456789012345678901']), /serial .* 1 to 20 bytes/);
  t.match(error(['--disk', '/a,ro']), /^bad --disk field 'ro': expected key=value$/);
  t.match(error(['--net', 'user']), /^bad --net field 'user'/);
  t.match(error(['--net', 'tap=t0,fd=4']), /one of them/);
  t.match(error(['--net', 'mac=52:54:00:00:00:01']), /expected tap=NAME or fd=N/);
  t.match(error(['--net', 'tap=t0,mac=52:54:00:00:00']), /^bad --net mac/);
  t.match(error(['--net', 'tap=t0,mac=01:00:5e:00:00:01']), /multicast/);
  t.match(error(['--net', 'tap=a-name-that-is-too-long']), /1-15 characters/);
  t.match(error(['--net', 'fd=x']), /^bad --net fd 'x'/);
  t.match(error(['--net', 'fd=1']), /3 or more/);
  t.match(error(['--console', 'vga']), /^bad --console 'vga': expected virtio or serial$/);
  t.match(error(['--rng=yes']), /rng/);
  for (const msg of [error(['--machine', 'x']), error(['--disk', '/a,x=1'])]) t.notMatch(msg, /\n/, 'one line');
});

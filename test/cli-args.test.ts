import t from 'tap';
import { parseRunArgs } from '../src/cli/run-args';
import { parseMemorySize } from '../src/machine/vm-config';

t.test('defaults: 256 MiB, one vCPU, auto accel, serial on stdio', async (t) => {
  const { config, qmp } = parseRunArgs(['--kernel', 'k.bin']);
  t.equal(config.kernelPath, 'k.bin');
  t.equal(config.memoryBytes, 256 * 2 ** 20);
  t.equal(config.cpus, 1);
  t.equal(config.accel, 'auto');
  t.same(config.serial, { kind: 'stdio' });
  t.same(config.kernelFormat, { kind: 'auto' });
  t.equal(config.noReboot, false);
  t.same(qmp, []);
});

t.test('every option lands in the config', async (t) => {
  const { config, qmp, qmpFd } = parseRunArgs([
    '--kernel', '/k', '--initrd', '/i', '--append', 'console=ttyS0 quiet', '--memory', '2G', '--cpus', '4',
    '--accel', 'kvm:tcg', '--serial', 'file:/tmp/out.txt', '--no-reboot', '--name', 'g1',
    '--kernel-format', 'raw,load=0x100000,entry=0x100010,mode=32', '--qmp', 'unix:/tmp/q.sock,server=on,wait=off', '--qmp-fd', '5',
  ]);
  t.equal(config.initrdPath, '/i');
  t.equal(config.append, 'console=ttyS0 quiet');
  t.equal(config.memoryBytes, 2 * 2 ** 30);
  t.equal(config.cpus, 4);
  t.same(config.accel, ['kvm', 'tcg']);
  t.same(config.serial, { kind: 'file', path: '/tmp/out.txt' });
  t.equal(config.noReboot, true);
  t.equal(config.name, 'g1');
  t.same(config.kernelFormat, { kind: 'raw', load: 0x100000, entry: 0x100010, mode: 32 });
  t.same(qmp, ['unix:/tmp/q.sock,server=on,wait=off']);
  t.equal(qmpFd, 5);
});

t.test('--kernel-format bzimage keeps the kernel\'s own decompressor', async (t) => {
  t.same(parseRunArgs(['--kernel', 'k', '--kernel-format', 'bzimage']).config.kernelFormat, { kind: 'bzimage' });
});

t.test('memory sizes as QEMU reads them', async (t) => {
  t.equal(parseMemorySize('512'), 512 * 2 ** 20, 'bare number is MiB');
  t.equal(parseMemorySize('64M'), 64 * 2 ** 20);
  t.equal(parseMemorySize('1g'), 2 ** 30);
  t.equal(parseMemorySize('8GiB'), 8 * 2 ** 30);
  t.equal(parseMemorySize('1.5G'), 1.5 * 2 ** 30);
  t.throws(() => parseMemorySize('lots'), /bad memory size 'lots'/);
  t.throws(() => parseMemorySize('0'), /too small/);
  t.throws(() => parseMemorySize('8M'), /'8M' is too small: at least 16M/);
  t.throws(() => parseMemorySize('4T'), /too large/);
});

t.test('bad input gets one clear line naming the option', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /--kernel PATH is required/],
    [['--kernel', 'k', '--cpus', 'two'], /bad --cpus 'two'/],
    [['--kernel', 'k', '--cpus', '0'], /bad --cpus '0': expected 1-16/],
    [['--kernel', 'k', '--cpus', '17'], /expected 1-16/],
    [['--kernel', 'k', '--memory', 'huge'], /bad memory size 'huge'/],
    [['--kernel', 'k', '--accel', 'hvf'], /bad --accel 'hvf'/],
    [['--kernel', 'k', '--serial', 'tcp:1'], /bad --serial 'tcp:1'/],
    [['--kernel', 'k', '--kernel-format', 'elf'], /bad --kernel-format 'elf': expected auto, bzimage or raw,/],
    [['--kernel', 'k', '--kernel-format', 'raw,entry=0x10'], /needs load=ADDR/],
    [['--kernel', 'k', '--kernel-format', 'raw,load=zz'], /bad load address 'zz'/],
    [['--kernel', 'k', '--kernel-format', 'raw,load=0x1000,mode=8'], /bad --kernel-format mode '8'/],
    [['--kernel', 'k', '--kernel-format', 'raw,load=0x200000,mode=16'], /mode=16 needs load below 1 MiB/],
    [['--kernel', 'k', '--bogus'], /unknown option '--bogus'/],
    [['--kernel'], /--kernel/],
  ];
  for (const [argv, re] of cases) {
    t.throws(() => parseRunArgs(argv), { name: 'CliError', message: re }, argv.join(' '));
  }
});

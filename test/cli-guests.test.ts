/**
 * Tiny guests booted through `bin/tsvisor run`, as a user runs them: the
 * console output and the exit status are what we check. Each runs under
 * the software CPU, and under KVM where /dev/kvm opens.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleImage, toolchainMissing } from './helpers/assemble';
import { runTsvisor } from './helpers/tsvisor-cli';
import { probeKvm } from '../src/machine/accel-select';

const guestsDir = join(__dirname, '..', '..', 'test', 'guests');
const work = mkdtempSync(join(tmpdir(), 'tsvisor-guests-'));
const kvm = probeKvm();
const accels: { name: 'tcg' | 'kvm'; skip: string | false }[] = [
  { name: 'tcg', skip: false },
  { name: 'kvm', skip: kvm.openable ? false : `no KVM: ${kvm.problem}` },
];
const noTools = toolchainMissing();

/** A flat image of test/guests/`file` linked at `loadAddress`; `prefix` is prepended (e.g. `MODE = 16`). */
function build(file: string, bits: 32 | 64, loadAddress: number, prefix = ''): string {
  const source = prefix + readFileSync(join(guestsDir, file), 'utf8');
  return assembleImage(source, { bits, output: 'binary', textAddress: loadAddress, includeDirs: [guestsDir] }).path;
}

for (const accel of accels) {
  t.test(`raw guests under ${accel.name}`, { skip: noTools ?? accel.skip }, async (t) => {
    const modes = [
      { mode: 16, load: 0xc000, text: 'raw guest: real mode' },
      { mode: 32, load: 0x100000, text: 'raw guest: protected mode' },
      { mode: 64, load: 0x100000, text: 'raw guest: long mode' },
    ] as const;
    for (const m of modes) {
      const image = build('raw-modes.S', m.mode === 64 ? 64 : 32, m.load, `MODE = ${m.mode}\n`);
      const r = await runTsvisor(['run', '--kernel', image, '--kernel-format', `raw,load=0x${m.load.toString(16)},mode=${m.mode}`, '--accel', accel.name]);
      t.equal(r.stdout, `${m.text}\n`, `${m.mode}-bit entry prints its mode`);
      t.equal(r.status, (m.mode << 1) | 1, `${m.mode}-bit guest exits through isa-debug-exit with (${m.mode}<<1)|1`);
    }

    const uartGuests = [
      { file: 'raw-uart-irq16.S', load: 0xc000, mode: 16 },
      // Protected-mode IRET cannot run under nested KVM without vmx/svm (kvm_pvm emulates
      // guest kernel code, and KVM's emulator returns from interrupts in real mode only).
      ...(accel.name === 'tcg' || kvm.hardwareVirtualization ? [{ file: 'raw-uart-irq.S', load: 0x100000, mode: 32 }] : []),
    ];
    for (const g of uartGuests) {
      const uart = build(g.file, 32, g.load);
      const u = await runTsvisor(['run', '--kernel', uart, '--kernel-format', `raw,load=0x${g.load.toString(16)},mode=${g.mode}`, '--accel', accel.name], { input: 'Z' });
      t.equal(u.stdout, 'uart line sent with THRE interrupts\n', `${g.mode}-bit: a line written through the UART, one THRE interrupt per byte`);
      t.equal(u.status, ('Z'.charCodeAt(0) << 1) | 1, `${g.mode}-bit: HLT woken by the RX interrupt of a byte typed on stdin; the guest exits with it`);
    }

    const ef = build('raw-exit-then-fault.S', 64, 0x100000);
    const e = await runTsvisor(['run', '--kernel', ef, '--kernel-format', 'raw,load=0x100000,mode=64', '--accel', accel.name, '--no-reboot']);
    t.equal(e.status, (5 << 1) | 1, 'a debug-exit followed at once by a triple fault still exits with the debug-exit status');

    const tf = build('raw-triple-fault.S', 64, 0x100000);
    const f = await runTsvisor(['run', '--kernel', tf, '--kernel-format', 'raw,load=0x100000,mode=64', '--accel', accel.name, '--no-reboot']);
    t.equal(f.stdout, 'about to triple fault\n');
    t.equal(f.status, 0, 'a triple fault under --no-reboot ends the VM with status 0, as QEMU');
    t.match(f.stderr, /guest reset \(vCPU 0: .*triple fault.*\); exiting because of --no-reboot/, 'and says why on stderr');
  });
}

t.test('a Multiboot kernel gets the magic, its command line and the initrd as its one module', { skip: noTools || false }, async (t) => {
  const elf = assembleImage({ file: join(guestsDir, 'mb-info.S') }, { elf32: true }).path;
  const initrd = join(work, 'mb-module.txt');
  writeFileSync(initrd, 'module bytes arrive intact\n');
  for (const accel of accels) {
    if (accel.skip) {
      t.comment(`skipping ${accel.name}: ${accel.skip}`);
      continue;
    }
    const r = await runTsvisor(['run', '--kernel', elf, '--initrd', initrd, '--append', 'hello multiboot', '--accel', accel.name]);
    t.equal(r.stdout, 'cmdline: hello multiboot\nmodule: module bytes arrive intact\n', `${accel.name}: what the guest read from the info structure`);
    t.equal(r.status, 1, `${accel.name}: every check in the guest passed`);
  }
});

t.test('--serial file: and none send the console where asked', { skip: noTools || false }, async (t) => {
  const image = build('raw-modes.S', 64, 0x100000, 'MODE = 64\n');
  const out = join(work, 'console.txt');
  const f = await runTsvisor(['run', '--kernel', image, '--kernel-format', 'raw,load=0x100000', '--accel', 'tcg', '--serial', `file:${out}`]);
  t.equal(f.status, 129);
  t.equal(f.stdout, '', 'nothing on stdout');
  t.equal(readFileSync(out, 'utf8'), 'raw guest: long mode\n', 'the console went to the file');
  const n = await runTsvisor(['run', '--kernel', image, '--kernel-format', 'raw,load=0x100000', '--accel', 'tcg', '--serial', 'none']);
  t.equal(n.status, 129);
  t.equal(n.stdout, '');
});

t.test('a raw kernel that overlaps the VMM scratch area is refused', { skip: noTools || false }, async (t) => {
  const image = build('raw-modes.S', 64, 0x2000, 'MODE = 64\n');
  const r = await runTsvisor(['run', '--kernel', image, '--kernel-format', 'raw,load=0x2000,mode=64', '--accel', 'tcg']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^tsvisor: raw kernel overlaps the VMM's scratch area 0x1000-0xbfff/);
});

t.test('a raw kernel larger than RAM is refused', { skip: noTools || false }, async (t) => {
  const big = join(work, 'big.bin');
  writeFileSync(big, Buffer.alloc(3 << 20));
  const r = await runTsvisor(['run', '--kernel', big, '--kernel-format', 'raw,load=0xf00000', '--memory', '16M', '--accel', 'tcg']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^tsvisor: raw kernel \(3145728 bytes at 0xf00000-0x1200000\) does not fit in guest RAM \(16777216 bytes\)/);
});

t.test('--kernel-format bzimage refuses a kernel that is not a bzImage', async (t) => {
  const notBz = join(work, 'not-bzimage.bin');
  writeFileSync(notBz, Buffer.alloc(8192, 0x90));
  const r = await runTsvisor(['run', '--kernel', notBz, '--kernel-format', 'bzimage', '--accel', 'tcg']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^tsvisor: --kernel-format bzimage: .*not-bzimage\.bin is not a bzImage \(no "HdrS" signature at offset 0x202\)/);
});

/**
 * Disk image locks as QEMU lays them out (OFD byte-range locks at bytes
 * 100 + perm and 200 + perm), checked against each other and against a real
 * qemu-system-x86_64 / qemu-img where installed.
 */
import t from 'tap';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockBackend } from '../src/devices/virtio/blk/block-backend';
import { ImageLockError } from '../src/devices/virtio/blk/image-lock';
import { TSVISOR_BIN, runTsvisor } from './helpers/tsvisor-cli';

const work = mkdtempSync(join(tmpdir(), 'tsvisor-lock-'));
let images = 0;
function image(): string {
  const p = join(work, `disk${images++}.img`);
  writeFileSync(p, new Uint8Array(1 << 20));
  return p;
}

/** Lock ranges on this file from /proc/locks: "start-end", sorted. Pids there are -1 for OFD locks. */
function lockedRanges(path: string): string[] {
  const ino = String(statSync(path).ino);
  return readFileSync('/proc/locks', 'utf8').split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === 'OFDLCK' && f[5]?.endsWith(`:${ino}`))
    .map((f) => `${f[6]}-${f[7]}`)
    .sort();
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

t.test('the bytes QEMU uses: read-write 100, 101, 201; read-only 100, 201', async (t) => {
  const rwPath = image();
  const rw = await FileBlockBackend.open(rwPath);
  t.same(lockedRanges(rwPath), ['100-101', '201-201']);
  await rw.close();
  t.same(lockedRanges(rwPath), [], 'close drops them');
  const roPath = image();
  const ro = await FileBlockBackend.open(roPath, { readOnly: true });
  t.same(lockedRanges(roPath), ['100-100', '201-201']);
  await ro.close();
});

t.test('readers coexist; a writer excludes readers and writers, both ways', async (t) => {
  const p = image();
  const r1 = await FileBlockBackend.open(p, { readOnly: true });
  const r2 = await FileBlockBackend.open(p, { readOnly: true });
  await t.rejects(FileBlockBackend.open(p), ImageLockError, 'no writer while readers hold it');
  await r1.close();
  await r2.close();
  const w = await FileBlockBackend.open(p);
  await t.rejects(FileBlockBackend.open(p, { readOnly: true }), { name: 'ImageLockError', message: /failed to get shared "write" lock; refusing to open it read-only/ });
  await t.rejects(FileBlockBackend.open(p), { name: 'ImageLockError', message: /failed to get "write" lock; refusing to open it read-write/ });
  await w.close();
  const again = await FileBlockBackend.open(p);
  await again.close();
});

const haltGuest = join(work, 'hlt.bin');
writeFileSync(haltGuest, Uint8Array.from([0xf4, 0xeb, 0xfd]));
const runArgs = ['run', '--kernel', haltGuest, '--kernel-format', 'raw,load=0x100000,mode=32', '--accel', 'tcg', '--serial', 'none'];

/** A running tsvisor with `disk` attached, once its lock is in place. */
async function runningTsvisor(disk: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [TSVISOR_BIN, ...runArgs, '--disk', disk], { stdio: 'ignore' });
  await until('tsvisor to lock its disk', () => lockedRanges(disk).length > 0 || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`tsvisor exited with ${child.exitCode}`);
  return child;
}

t.test('a killed tsvisor leaves no lock behind', async (t) => {
  const p = image();
  const vm = await runningTsvisor(p);
  await t.rejects(FileBlockBackend.open(p), { message: new RegExp(`in use by process ${vm.pid} `) }, 'names the running tsvisor');
  vm.kill('SIGKILL');
  await exited(vm);
  t.same(lockedRanges(p), [], 'the kernel dropped the locks with the process');
  const b = await FileBlockBackend.open(p);
  await b.close();
});

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const qemuSkip = haveQemu ? false : 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';

/*
 * QEMU takes the write permission only for a guest device: `-machine none
 * -drive if=none` holds just byte 100 and never asks for "write". A pc
 * machine with a virtio disk, stopped (-S), runs no guest code.
 */
function qemuArgs(disk: string, readOnly = false): string[] {
  return ['-S', '-nodefaults', '-display', 'none', '-machine', 'pc', '-drive', `file=${disk},format=raw,if=virtio${readOnly ? ',readonly=on' : ''}`];
}

t.test('qemu-system-x86_64 refuses an image a running tsvisor writes', { skip: qemuSkip }, async (t) => {
  const p = image();
  const vm = await runningTsvisor(p);
  try {
    const q = spawnSync('qemu-system-x86_64', qemuArgs(p), { encoding: 'utf8', timeout: 20_000 });
    t.equal(q.status, 1, 'QEMU gave up');
    t.match(q.stderr, /Failed to get "write" lock/);
    const ro = spawnSync('qemu-system-x86_64', qemuArgs(p, true), { encoding: 'utf8', timeout: 20_000 });
    t.match(ro.stderr, /Failed to get shared "write" lock/, 'even read-only, as it would for another QEMU');
    const io = spawnSync('qemu-io', ['-f', 'raw', '-c', 'write 0 512', p], { encoding: 'utf8' });
    if (io.error === undefined) t.match(io.stderr, /Failed to get "write" lock/, 'qemu-io cannot write it either');
  } finally {
    vm.kill('SIGKILL');
    await exited(vm);
  }
});

t.test('tsvisor refuses, in one line, an image a running QEMU writes', { skip: qemuSkip }, async (t) => {
  const p = image();
  const qemu = spawn('qemu-system-x86_64', qemuArgs(p), { stdio: 'ignore' });
  try {
    await until('QEMU to lock the image', () => lockedRanges(p).includes('201-201') || qemu.exitCode !== null);
    t.equal(qemu.exitCode, null, 'QEMU is running');
    const r = await runTsvisor([...runArgs, '--disk', p]);
    t.equal(r.status, 1);
    t.match(r.stderr, new RegExp(`^tsvisor: disk image ${p} is in use by process ${qemu.pid} \\(qemu-system-x86\\): failed to get "write" lock; refusing to open it read-write\\n$`));
    await t.rejects(FileBlockBackend.open(p, { readOnly: true }), { message: /failed to get shared "write" lock/ }, 'read-only too (QEMU does not share write)');
  } finally {
    qemu.kill('SIGKILL');
    await exited(qemu);
  }
  const b = await FileBlockBackend.open(p);
  await b.close();
  t.pass('free again once QEMU is gone');
});

t.test('a read-only QEMU and a read-only tsvisor coexist', { skip: qemuSkip }, async (t) => {
  const p = image();
  const qemu = spawn('qemu-system-x86_64', qemuArgs(p, true), { stdio: 'ignore' });
  try {
    await until('QEMU to lock the image', () => lockedRanges(p).includes('201-201') || qemu.exitCode !== null);
    const ro = await FileBlockBackend.open(p, { readOnly: true });
    await ro.close();
    await t.rejects(FileBlockBackend.open(p), { message: /failed to get "write" lock/ }, 'but no writer');
  } finally {
    qemu.kill('SIGKILL');
    await exited(qemu);
  }
});

// Shared by scripts/bench/blk and scripts/bench/net: boot the default guest
// (scripts/build-guest) under tsvisor and under QEMU with the same kernel,
// initrd, accelerator, memory and virtio devices, run a command through
// /init's tsvisor.cmd, and collect the console.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { homedir } = require('node:os');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const guestDir = join(homedir(), '.cache', 'tsvisor', 'guest-cloud');
const kernel = join(guestDir, 'vmlinuz');
const initrd = join(guestDir, 'initrd.img');

function options(argv) {
  const opt = (name, dflt) => { const k = argv.indexOf(`--${name}`); return k >= 0 ? argv[k + 1] : dflt; };
  return {
    accel: opt('accel', 'tcg'),
    engines: opt('engines', 'tsvisor,qemu').split(','),
    timeoutS: Number(opt('timeout', '3600')),
    opt,
  };
}

function requireGuest() {
  if (!existsSync(kernel) || !existsSync(initrd)) {
    console.error(`no default guest in ${guestDir}: run scripts/build-guest`);
    process.exit(2);
  }
}

function hasQemu() {
  return spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
}

/** The kernel command line: console, then the guest's steps with %20 for spaces. */
function append(steps) {
  return `console=ttyS0 panic=-1 tsvisor.cmd=${steps.join(';').replace(/ /g, '%20')}`;
}

/** tsvisor argv for the devices: { disks: [path], nets: [tapName] }. */
function tsvisorArgs(accel, devices, steps) {
  return [
    join(root, 'bin', 'tsvisor'), 'run', '--kernel', kernel, '--initrd', initrd, '--accel', accel, '--machine', 'pc',
    '--memory', '512M', '--no-reboot', '--serial', 'stdio', '--append', append(steps),
    ...(devices.disks ?? []).flatMap((d) => ['--disk', d]),
    ...(devices.nets ?? []).flatMap((n) => ['--net', `tap=${n},mac=52:54:00:77:00:02`]),
  ];
}

/** The same machine for QEMU: pc, virtio-pci devices, no vhost (our data plane is in the VMM process too). */
function qemuArgs(accel, devices, steps) {
  return [
    '-machine', 'pc', '-accel', accel, '-m', '512M', '-nodefaults', '-no-reboot', '-display', 'none', '-serial', 'stdio',
    '-kernel', kernel, '-initrd', initrd, '-append', append(steps),
    ...(devices.disks ?? []).flatMap((d, i) => ['-drive', `file=${d},if=none,id=d${i},format=raw,cache=writeback`, '-device', `virtio-blk-pci,drive=d${i}`]),
    ...(devices.nets ?? []).flatMap((n, i) => ['-netdev', `tap,id=n${i},ifname=${n},script=no,downscript=no,vhost=off`, '-device', `virtio-net-pci,netdev=n${i},mac=52:54:00:77:00:02`]),
  ];
}

/**
 * Boots one engine; resolves with its console text. `prefix` runs the VMM inside e.g.
 * `ip netns exec NS`. `guestTimesItself`: the figure comes from the guest's own clock.
 */
function boot(engine, accel, devices, steps, timeoutS, prefix = [], guestTimesItself = false) {
  const argv = engine === 'qemu'
    ? [...prefix, 'qemu-system-x86_64', ...qemuArgs(accel, devices, steps)]
    : [...prefix, process.execPath, ...tsvisorArgs(accel, devices, steps)];
  return new Promise((resolve, reject) => {
    // A guest that times itself (dd) reads its own clock. Under the software CPU that clock
    // counts retired instructions (guest-time.ts), which would turn a slow CPU into a
    // fast-looking disk; host time makes the figure host throughput, as QEMU TCG's is.
    const env = engine === 'qemu' || !guestTimesItself ? process.env : { ...process.env, TSVISOR_TCG_CLOCK: 'host' };
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.on('data', (d) => { out += d.toString('latin1'); });
    child.stderr.on('data', (d) => { out += d.toString('latin1'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status !== 0) reject(new Error(`${engine} exited with ${status}; console tail:\n${out.slice(-2000)}`));
      else resolve(out);
    });
  });
}

/**
 * Busybox dd is built without its timing line, so each measured step is
 * bracketed with the guest's /proc/uptime (10 ms resolution; the guest clock
 * follows host time under both VMMs): `echo LABEL-begin $(cat /proc/uptime)`.
 */
function mark(label, edge) {
  return `echo ${label}-${edge} $(cat /proc/uptime)`;
}

/** MB/s for `bytes` moved between LABEL-begin and LABEL-end. */
function rateBetween(text, label, bytes) {
  const begin = new RegExp(`${label}-begin ([\\d.]+)`).exec(text);
  const end = new RegExp(`${label}-end ([\\d.]+)`).exec(text);
  if (!begin || !end) return undefined;
  const seconds = Number(end[1]) - Number(begin[1]);
  return seconds > 0 ? bytes / seconds / 1e6 : undefined;
}

function ratio(a, b) {
  return a && b ? (a / b).toFixed(2) : 'n/a';
}

module.exports = { root, options, requireGuest, hasQemu, boot, mark, rateBetween, ratio };

/**
 * The monitor with two vCPUs under KVM, where vCPU 1 runs on a thread of its
 * own: query-cpus-fast lists both with different thread ids (libvirt pins
 * each), `stop` really takes the AP out of the guest (its thread uses no CPU
 * while paused), `info registers` reads a parked AP, `cont` lets it run
 * again, system_reset reboots both vCPUs (the guest's start-up lines come
 * again) and `quit` ends the process. The guest's APs keep making port
 * exits that the machine thread serves (test/guests/raw-smp.S, FOREVER).
 * Also: an AP that never got its SIPI (blocked in KVM_RUN) can still be read.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assembleImage, toolchainMissing } from './helpers/assemble';
import { TSVISOR_BIN } from './helpers/tsvisor-cli';
import { RawQmpClient } from './helpers/qmp-socket';
import { probeKvm } from '../src/machine/accel-select';

const guestsDir = join(__dirname, '..', '..', 'test', 'guests');
const work = mkdtempSync(join(tmpdir(), 'tsvisor-qmp-smp-'));
const kvm = probeKvm();
const skip = toolchainMissing() ?? (kvm.openable ? false : `no KVM: ${kvm.problem}`);

async function connectWhenReady(path: string): Promise<RawQmpClient> {
  for (let i = 0; ; i++) {
    try {
      return await RawQmpClient.connect(path);
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** utime + stime of one thread, in clock ticks. */
function cpuTicks(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5); the slice starts at field 3.
  return Number(fields[11]) + Number(fields[12]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('KVM with --cpus 2: two vCPU threads, stop/cont/system_reset/quit', { skip }, async (t) => {
  const source = 'CPUS = 2\nFOREVER = 1\n' + readFileSync(join(guestsDir, 'raw-smp.S'), 'utf8');
  const image = assembleImage(source, { bits: 32, output: 'binary', textAddress: 0x8000, includeDirs: [guestsDir] }).path;
  const sock = join(work, 'qmp.sock');
  const vm = spawn(process.execPath, [TSVISOR_BIN, 'run', '--kernel', image, '--kernel-format', 'raw,load=0x8000,mode=32',
    '--accel', 'kvm', '--cpus', '2', '--qmp', `unix:${sock},server=on,wait=off`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  vm.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
  const exited = new Promise<number | null>((resolve) => vm.on('exit', (code) => resolve(code)));
  t.teardown(() => { vm.kill('SIGKILL'); });
  const waitFor = async (what: () => boolean, label: string): Promise<void> => {
    for (let i = 0; i < 400 && !what(); i++) await sleep(50);
    t.ok(what(), label);
  };
  const upLines = (): number => stdout.split('BSP: every AP counted in\n').length - 1;

  const c = await connectWhenReady(sock);
  t.teardown(() => c.close());
  await c.negotiate();
  await waitFor(() => upLines() === 1, 'the AP came up and counted itself in');
  t.equal(stdout, 'BSP up, starting the APs\nAP 1 up\nBSP: every AP counted in\n');

  const cpus = (await c.execute('query-cpus-fast')).return as Array<Record<string, unknown>>;
  t.equal(cpus.length, 2, 'two CPUs listed');
  const tids = cpus.map((cpu) => Number(cpu['thread-id']));
  t.not(tids[0], tids[1], 'each vCPU has a thread of its own');
  for (const tid of tids) {
    t.not(tid, vm.pid, 'not the main thread');
    t.ok(existsSync(`/proc/${vm.pid}/task/${tid}`), `thread ${tid} belongs to tsvisor`);
  }
  const pid = vm.pid as number;

  t.same((await c.execute('stop')).return, {}, 'stop');
  const pausedFrom = cpuTicks(pid, tids[1]);
  await sleep(300);
  t.equal(cpuTicks(pid, tids[1]), pausedFrom, 'the AP thread uses no CPU while stopped');
  const regs = await c.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': 1 });
  t.match(String(regs.return), /CS =0900 /, 'info registers reads the parked AP: real mode in the trampoline page');

  t.same((await c.execute('cont')).return, {}, 'cont');
  const runningFrom = cpuTicks(pid, tids[1]);
  await waitFor(() => cpuTicks(pid, tids[1]) > runningFrom, 'the AP thread runs again after cont');
  const after = (await c.execute('query-status')).return as Record<string, unknown>;
  t.equal(after.status, 'running');

  t.same((await c.execute('system_reset')).return, {}, 'system_reset');
  await waitFor(() => upLines() === 2, 'after the reset both vCPUs start over: the AP comes up again');
  const cpusAfter = (await c.execute('query-cpus-fast')).return as Array<Record<string, unknown>>;
  t.equal(cpusAfter.length, 2, 'still two CPUs');
  t.not(cpusAfter[1]['thread-id'], tids[1], 'the rebuilt machine has a new vCPU 1 thread');
  t.notOk(existsSync(`/proc/${pid}/task/${tids[1]}`), 'and the old one was joined');

  await c.execute('quit');
  t.equal(await exited, 0, 'quit ends the process with status 0');
});

t.test('KVM with --cpus 2: an AP still waiting for INIT/SIPI can be read (it is parked out of KVM_RUN first)', { skip }, async (t) => {
  const haltGuest = join(work, 'hlt.bin');
  writeFileSync(haltGuest, Uint8Array.from([0xf4, 0xeb, 0xfd]));
  const sock = join(work, 'qmp-hlt.sock');
  const vm = spawn(process.execPath, [TSVISOR_BIN, 'run', '--kernel', haltGuest, '--kernel-format', 'raw,load=0x100000,mode=32',
    '--accel', 'kvm', '--cpus', '2', '--serial', 'none', '--qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => vm.on('exit', (code) => resolve(code)));
  t.teardown(() => { vm.kill('SIGKILL'); });
  const c = await connectWhenReady(sock);
  t.teardown(() => c.close());
  await c.negotiate();
  for (let i = 0; i < 3; i++) {
    const cpus = (await c.execute('query-cpus-fast')).return as Array<Record<string, unknown>>;
    t.equal(cpus.length, 2, `query-cpus-fast ${i + 1} answers while vCPU 1 blocks in KVM_RUN`);
  }
  const regs = await c.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': 1 });
  t.match(String(regs.return), /CS =f000 /, 'vCPU 1 is still in its reset state (CS f000)');
  await c.execute('quit');
  t.equal(await exited, 0, 'quit joins the waiting AP\'s thread and ends the process');
});

/**
 * query-cpus-fast and HMP `info cpus` report each vCPU's Linux thread id,
 * which libvirt passes to sched_setaffinity to pin vCPUs: it must be a
 * thread of the tsvisor process, and not the main thread (the pid), since
 * the vCPUs run on the machine worker thread.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSVISOR_BIN } from './helpers/tsvisor-cli';
import { RawQmpClient } from './helpers/qmp-socket';

const work = mkdtempSync(join(tmpdir(), 'tsvisor-tid-'));
const haltGuest = join(work, 'hlt.bin');
writeFileSync(haltGuest, Uint8Array.from([0xf4, 0xeb, 0xfd]));

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

t.test('query-cpus-fast thread-id is the vCPU thread of the tsvisor process', async (t) => {
  const sock = join(work, 'qmp.sock');
  const vm = spawn(process.execPath, [TSVISOR_BIN, 'run', '--kernel', haltGuest, '--kernel-format', 'raw,load=0x100000,mode=32',
    '--accel', 'tcg', '--serial', 'none', '--qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
  t.teardown(() => { vm.kill('SIGKILL'); });
  const c = await connectWhenReady(sock);
  t.teardown(() => c.close());
  await c.negotiate();
  const reply = await c.execute('query-cpus-fast');
  const cpus = reply.return as Array<Record<string, unknown>>;
  t.equal(cpus.length, 1);
  const tid = cpus[0]['thread-id'];
  t.type(tid, 'number');
  t.not(tid, vm.pid, 'not the pid: the vCPU runs on the machine worker thread');
  t.ok(existsSync(`/proc/${vm.pid}/task/${String(tid)}`), `/proc/${vm.pid}/task/${String(tid)} exists: a thread of tsvisor`);
  const hmp = await c.execute('human-monitor-command', { 'command-line': 'info cpus' });
  t.match(String(hmp.return), new RegExp(`CPU #0: thread_id=${String(tid)}\\r?\\n`), 'info cpus agrees');
});

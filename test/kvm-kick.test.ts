import t from 'tap';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { kickVcpu } from '../src/kvm/kick';
import { kvmSkipReason, startRawGuest, GUEST_DONE, GUEST_LOAD_ADDRESS } from './helpers/kvm-guest';

const skip = kvmSkipReason();

interface WorkerMessage {
  type: 'ready' | 'entering' | 'stopped' | 'done';
  fd?: number;
  round?: number;
  stop?: { kind: string };
  rip?: number;
}

t.test('the main thread kicks a vCPU spinning inside KVM_RUN in a Worker, twice', { skip }, async (t) => {
  const worker = new Worker(join(__dirname, 'helpers', 'kvm-spin-worker.js'), { workerData: { rounds: 2 } });
  const stops: WorkerMessage[] = [];
  let fd = -1;
  await new Promise<void>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') fd = m.fd!;
      // Give the Worker time to be deep inside KVM_RUN: the signal, not
      // immediate_exit alone, must be what gets it out.
      if (m.type === 'entering') setTimeout(() => t.ok(kickVcpu(fd), `kick ${m.round} found the vCPU`), 200);
      if (m.type === 'stopped') stops.push(m);
      if (m.type === 'done') resolve();
    });
  });
  await worker.terminate();
  t.same(stops.map((s) => s.stop), [{ kind: 'kicked' }, { kind: 'kicked' }], 'each run returned kicked: immediate_exit was cleared in between');
  for (const s of stops) t.equal(s.rip, GUEST_LOAD_ADDRESS, 'stopped in the spin loop');
  t.equal(kickVcpu(fd), false, 'a destroyed vCPU is no longer kickable');
});

t.test('a kick before run() makes the next run return at once', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({ mode: 64, source: `out %al, $0x10\n ${GUEST_DONE}` });
  t.teardown(() => acc.destroy());
  acc.vcpus[0].kick();
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.equal(probe.accesses.length, 0, 'the guest did not run');
  t.same(acc.vcpus[0].run(), { kind: 'kicked' }, 'then it runs to the done port');
  t.equal(probe.accesses.length, 1);
});

/**
 * Worker for test/kvm-kick.test.ts: builds a KVM guest spinning in `jmp .`,
 * tells the main thread its vCPU fd, then runs it `rounds` times, reporting
 * each VcpuStop. Only a kick from the main thread can end each run.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startRawGuest } from './kvm-guest';

const rounds = (workerData as { rounds: number }).rounds;
const { acc } = startRawGuest({ mode: 64, source: '1: jmp 1b' });
const vcpu = acc.vcpus[0];
parentPort!.postMessage({ type: 'ready', fd: vcpu.fd });
for (let i = 0; i < rounds; i++) {
  parentPort!.postMessage({ type: 'entering', round: i });
  const stop = vcpu.run();
  parentPort!.postMessage({ type: 'stopped', round: i, stop, rip: Number(vcpu.getRegisters().rip) });
}
acc.destroy();
parentPort!.postMessage({ type: 'done' });

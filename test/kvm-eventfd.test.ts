import t from 'tap';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { eventfd } from '../src/kvm/vm';
import { describeSharedRam } from '../src/kvm/shared-memory';
import { kvmSkipReason, startRawGuest, GUEST_DONE, PROBE_MMIO } from './helpers/kvm-guest';

const skip = kvmSkipReason();

t.test('ioeventfd: matching guest writes signal the eventfd instead of reaching the bus', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({
    mode: 64,
    source: `
      mov $1, %al
      out %al, $0x40 + 0x10
      out %al, $0x40 + 0x10
      mov $2, %al
      out %al, $0x40 + 0x10
      mov $${PROBE_MMIO}, %rbx
      movl $9, 0x100(%rbx)
      ${GUEST_DONE}`,
  });
  const pioFd = eventfd.create({ nonBlocking: true });
  const mmioFd = eventfd.create({ nonBlocking: true });
  t.teardown(() => { acc.destroy(); eventfd.close(pioFd); eventfd.close(mmioFd); });
  acc.vm.attachIoeventfd(pioFd, 0x50, 1, { pio: true, datamatch: 1 });
  acc.vm.attachIoeventfd(mmioFd, PROBE_MMIO + 0x100, 4);
  t.equal(eventfd.read(pioFd), null, 'nothing yet');
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.equal(eventfd.read(pioFd), 2n, 'two writes of the matching value');
  t.equal(eventfd.read(mmioFd), 1n, 'the MMIO doorbell');
  t.same(probe.accesses.map((a) => [a.kind, a.offset + 0x10, Number(a.value)]), [['pio-write', 0x50, 2]], 'only the non-matching write exited');
  acc.vm.detachIoeventfd(pioFd, 0x50, 1, { pio: true, datamatch: 1 });
});

t.test('irqfd, GSI routing and MSI injection are accepted by the in-kernel irqchip', { skip }, async (t) => {
  const { acc } = startRawGuest({ mode: 64, source: GUEST_DONE });
  const fd = eventfd.create();
  t.teardown(() => { acc.destroy(); eventfd.close(fd); });
  acc.vm.setGsiRouting([
    ...Array.from({ length: 24 }, (_, pin) => ({ gsi: pin, kind: 'irqchip' as const, irqchip: 2, pin })),
    { gsi: 24, kind: 'msi', address: 0xfee00000, data: 0x41 },
  ]);
  t.doesNotThrow(() => acc.vm.attachIrqfd(fd, 5));
  t.doesNotThrow(() => eventfd.write(fd, 1));
  t.doesNotThrow(() => acc.vm.detachIrqfd(fd, 5));
  t.doesNotThrow(() => acc.interrupts.setIrq(4, true));
  t.doesNotThrow(() => acc.interrupts.setIrq(4, false));
  t.doesNotThrow(() => acc.interrupts.signalMsi(0xfee00000, 0x31));
});

t.test('vCPU state: MSRs and raw FPU/XSAVE/LAPIC round-trip', { skip }, async (t) => {
  const { acc } = startRawGuest({ mode: 64, source: GUEST_DONE });
  t.teardown(() => acc.destroy());
  const vcpu = acc.vcpus[0];
  const EFER = 0xc0000080;
  const msrs = vcpu.getMsrs([EFER]);
  t.equal(msrs.get(EFER)! & 0x500n, 0x500n, 'EFER shows long mode');
  t.equal(vcpu.setMsrs([[0x174, 0x10n]]), 1, 'SYSENTER_CS accepted');
  t.equal(vcpu.getMsrs([0x174]).get(0x174), 0x10n);
  for (const kind of ['fpu', 'xsave', 'lapic', 'vcpuEvents', 'xcrs', 'debugRegs'] as const) {
    const raw = Uint8Array.from(vcpu.getRawState(kind));
    t.doesNotThrow(() => vcpu.setRawState(kind, raw), `${kind} round-trips`);
  }
  t.equal(vcpu.mpState, 0, 'runnable');
});

t.test('a Worker attaches to the same guest RAM by address (zero copy across threads)', { skip }, async (t) => {
  const { acc } = startRawGuest({ mode: 64, source: GUEST_DONE });
  t.teardown(() => acc.destroy());
  acc.memory.writeU32(0x9000, 0x11223344);
  const worker = new Worker(
    `const { attachSharedRam } = require(${JSON.stringify(join(__dirname, '..', 'src', 'kvm', 'shared-memory.js'))});
     const { parentPort, workerData } = require('node:worker_threads');
     const { memory, release } = attachSharedRam(workerData);
     const seen = memory.readU32(0x9000);
     memory.writeU32(0x9004, 0x55667788);
     release();
     parentPort.postMessage(seen);`,
    { eval: true, workerData: describeSharedRam(acc.vm) },
  );
  const seen = await new Promise<number>((resolve, reject) => { worker.on('message', resolve); worker.on('error', reject); });
  await worker.terminate();
  t.equal(seen, 0x11223344, 'the Worker read what this thread wrote');
  t.equal(acc.memory.readU32(0x9004), 0x55667788, 'and this thread reads what the Worker wrote');
});

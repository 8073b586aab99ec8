import t from 'tap';
import { kvmSkipReason, startRawGuest, GUEST_DONE } from './helpers/kvm-guest';

const skip = kvmSkipReason();

t.test('a triple fault stops the vCPU with shutdown; the process goes on and can build another VM', { skip }, async (t) => {
  // An empty IDT: the #UD cannot be delivered (#GP), nor can that (#DF): triple fault.
  const faulty = startRawGuest({
    mode: 64,
    source: `
      lidt idtr(%rip)
      ud2
    idtr: .word 0
      .quad 0`,
  });
  t.same(faulty.acc.vcpus[0].run(), { kind: 'shutdown', reason: 'triple fault' });
  faulty.acc.destroy();

  const healthy = startRawGuest({ mode: 64, source: `mov $7, %al\n out %al, $0x10\n ${GUEST_DONE}` });
  t.teardown(() => healthy.acc.destroy());
  t.same(healthy.acc.vcpus[0].run(), { kind: 'kicked' });
  t.equal(Number(healthy.probe.accesses[0].value), 7);
});

t.test('a stop requested through RunControl before run() returns kicked without entering the guest', { skip }, async (t) => {
  const { acc, control, probe } = startRawGuest({ mode: 64, source: `out %al, $0x10\n ${GUEST_DONE}` });
  t.teardown(() => acc.destroy());
  control.requestStop();
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.equal(probe.accesses.length, 0);
  t.equal(control.stopRequested, false, 'the request was consumed');
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.equal(probe.accesses.length, 1, 'the next run executes the guest');
});

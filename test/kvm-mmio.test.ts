import t from 'tap';
import { kvmSkipReason, startRawGuest, GUEST_DONE, PROBE_MMIO } from './helpers/kvm-guest';

const skip = kvmSkipReason();

t.test('MMIO writes and reads of 1, 2, 4 and 8 bytes reach the bus with their data', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({
    mode: 64,
    source: `
      mov $${PROBE_MMIO}, %rbx
      movb $0x11, 0x10(%rbx)
      movw $0x2222, 0x20(%rbx)
      movl $0x44332211, 0x30(%rbx)
      mov $0x8877665544332211, %rax
      mov %rax, 0x40(%rbx)
      movb 0x50(%rbx), %al
      movb %al, 0x9000
      movw 0x60(%rbx), %ax
      movw %ax, 0x9008
      movl 0x70(%rbx), %eax
      movl %eax, 0x9010
      mov 0x80(%rbx), %rax
      mov %rax, 0x9018
      ${GUEST_DONE}`,
  });
  t.teardown(() => acc.destroy());
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.same(
    probe.accesses.map((a) => [a.kind, a.offset, a.size, a.value]),
    [
      ['mmio-write', 0x10, 1, 0x11n],
      ['mmio-write', 0x20, 2, 0x2222n],
      ['mmio-write', 0x30, 4, 0x44332211n],
      ['mmio-write', 0x40, 8, 0x8877665544332211n],
      ['mmio-read', 0x50, 1, 0n],
      ['mmio-read', 0x60, 2, 0n],
      ['mmio-read', 0x70, 4, 0n],
      ['mmio-read', 0x80, 8, 0n],
    ],
  );
  // The probe answers bytes offset+1, offset+2, ...; the guest stored what it read.
  t.equal(acc.memory.readU8(0x9000), 0x51);
  t.equal(acc.memory.readU16(0x9008), 0x6261);
  t.equal(acc.memory.readU32(0x9010), 0x74737271);
  t.equal(acc.memory.readU64(0x9018), 0x8887868584838281n);
});

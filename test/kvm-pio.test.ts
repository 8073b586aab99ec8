import t from 'tap';
import { kvmSkipReason, startRawGuest, GUEST_DONE, GUEST_LOAD_ADDRESS } from './helpers/kvm-guest';

const skip = kvmSkipReason();

// Ports 0x20/0x21 (PIC), 0x40-0x43 (PIT) and friends belong to KVM's in-kernel
// devices and never reach userspace, so the probe ports avoid them.
t.test('port I/O of 1, 2 and 4 bytes reaches the bus with its size and value', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({
    mode: 64,
    source: `
      mov $0x11, %al
      out %al, $0x10
      mov $0x2222, %ax
      mov $0x12, %dx
      out %ax, %dx
      mov $0x44332211, %eax
      out %eax, $0x14
      in $0x18, %al
      out %al, $0x30
      in $0x1a, %ax
      out %ax, $0x30
      in $0x1c, %eax
      out %eax, $0x30
      ${GUEST_DONE}`,
  });
  t.teardown(() => acc.destroy());
  probe.pioReplies.push(0xab, 0xcdef, 0x89abcdef);
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.same(
    probe.accesses.map((a) => [a.kind, a.offset + 0x10, a.size, Number(a.value)]),
    [
      ['pio-write', 0x10, 1, 0x11],
      ['pio-write', 0x12, 2, 0x2222],
      ['pio-write', 0x14, 4, 0x44332211],
      ['pio-read', 0x18, 1, 0xab],
      ['pio-write', 0x30, 1, 0xab],
      ['pio-read', 0x1a, 2, 0xcdef],
      ['pio-write', 0x30, 2, 0xcdef],
      ['pio-read', 0x1c, 4, 0x89abcdef],
      ['pio-write', 0x30, 4, 0x89abcdef],
    ],
  );
});

t.test('string port I/O: rep outsb and rep insb move count bytes through kvm_run', { skip }, async (t) => {
  const message = 'hello, port';
  const { acc, probe } = startRawGuest({
    mode: 64,
    source: `
      lea msg(%rip), %rsi
      mov $${message.length}, %ecx
      mov $0x10, %dx
      cld
      rep outsb
      mov $0x9000, %edi
      mov $5, %ecx
      mov $0x18, %dx
      rep insb
      mov $0x9100, %edi
      mov $3, %ecx
      rep insw
      ${GUEST_DONE}
    msg: .ascii "${message}"`,
  });
  t.teardown(() => acc.destroy());
  probe.pioReplies.push(0x61, 0x62, 0x63, 0x64, 0x65, 0x1234, 0x5678, 0x9abc);
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  const written = probe.accesses.filter((a) => a.kind === 'pio-write').map((a) => Number(a.value));
  t.equal(String.fromCharCode(...written), message, 'every byte of rep outsb, in order');
  t.equal(Buffer.from(acc.memory.read(0x9000, 5)).toString('latin1'), 'abcde', 'rep insb stored each byte');
  t.same([acc.memory.readU16(0x9100), acc.memory.readU16(0x9102), acc.memory.readU16(0x9104)], [0x1234, 0x5678, 0x9abc], 'rep insw');
  t.ok(acc.memory.readU8(GUEST_LOAD_ADDRESS) !== 0, 'guest code is in RAM');
});

t.test('an exit is decodable from kvm_run (string I/O reports count and data offset)', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({
    mode: 64,
    source: `
      lea msg(%rip), %rsi
      mov $4, %ecx
      mov $0x10, %dx
      rep outsw
      ${GUEST_DONE}
    msg: .word 1, 2, 3, 4`,
  });
  t.teardown(() => acc.destroy());
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  t.same(probe.accesses.map((a) => Number(a.value)), [1, 2, 3, 4]);
  // The last exit was the write to the done port; its decoding is what the loop saw.
  const exit = acc.vcpus[0].lastExit();
  t.match(exit, { kind: 'io', direction: 'out', size: 1, port: 0xf4, count: 1 });
  t.ok(exit.kind === 'io' && exit.dataOffset > 0 && exit.dataOffset < acc.vcpus[0].runPage.length);
});

import t from 'tap';
import { CpuMode } from '../src/machine/cpu-mode-setup';
import { kvmSkipReason, startRawGuest, GUEST_DONE } from './helpers/kvm-guest';

const skip = kvmSkipReason();

// Each mode's guest reports its operand size: the same bytes (66 b8 ...) mean
// "mov $imm16, %ax" in 32/64-bit mode and "mov $imm32, %eax" in 16-bit mode.
for (const mode of [16, 32, 64] as CpuMode[]) {
  t.test(`setupRawMode starts a guest in ${mode}-bit mode`, { skip }, async (t) => {
    const { acc, probe } = startRawGuest({
      mode,
      source: `
        .byte 0x66, 0xb8, 0x34, 0x12, 0x78, 0x56
        out %al, $0x10
        ${GUEST_DONE}`,
    });
    t.teardown(() => acc.destroy());
    const stop = acc.vcpus[0].run();
    t.same(stop, { kind: 'kicked' });
    t.equal(Number(probe.accesses[0]?.value), 0x34, 'first out carried al');
    const regs = acc.vcpus[0].getRegisters();
    if (mode === 16) t.equal(Number(regs.rax & 0xffffffffn), 0x56781234, '16-bit: 0x66 made it a 32-bit move');
    else t.equal(Number(regs.rax & 0xffffn), 0x1234, `${mode}-bit: 0x66 made it a 16-bit move`);
    const sregs = acc.vcpus[0].getSpecialRegisters();
    t.equal(sregs.cs.l, mode === 64, 'CS.L');
    t.equal((sregs.efer & 0x400n) !== 0n, mode === 64, 'EFER.LMA');
    t.equal(sregs.cr0 & 1n, mode === 16 ? 0n : 1n, 'CR0.PE');
  });
}

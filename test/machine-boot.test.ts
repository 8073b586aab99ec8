import t from 'tap';
import { Registers, SpecialRegisters, Vcpu, VcpuStop, Segment } from '../src/accel';
import { loadGuestKernel } from '../src/machine/guest-boot';
import { applyEntryState } from '../src/machine/entry-state';
import { detectKernelFormat } from '../src/machine/kernel-format';
import { readAcpiTables } from '../src/machine/acpi/parse';
import { ZP } from '../src/machine/linux-boot';
import { MiB, virtioMmioSlot, ZERO_PAGE_ADDR } from '../src/machine/memory-layout';
import { NO_GUEST_MESSAGE, builtGuest, fakeBzImage, guestMemory } from './machine-fixtures';

const zeroSegment = (): Segment => ({ base: 0n, limit: 0, selector: 0, type: 0, present: false, dpl: 0, db: false, s: false, l: false, g: false, avl: false, unusable: true });

/** A Vcpu that only stores registers, to see what applyEntryState sets. */
class RecordingVcpu implements Vcpu {
  readonly index = 0;
  regs: Registers = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0xfff0n, rflags: 0x202n };
  sregs: SpecialRegisters = {
    cs: zeroSegment(), ds: zeroSegment(), es: zeroSegment(), fs: zeroSegment(), gs: zeroSegment(), ss: zeroSegment(),
    tr: zeroSegment(), ldt: zeroSegment(), gdt: { base: 0n, limit: 0 }, idt: { base: 0n, limit: 0 },
    cr0: 0x10n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apicBase: 0xfee00900n,
  };
  getRegisters(): Registers { return { ...this.regs }; }
  setRegisters(r: Registers): void { this.regs = { ...r }; }
  getSpecialRegisters(): SpecialRegisters { return { ...this.sregs }; }
  setSpecialRegisters(s: SpecialRegisters): void { this.sregs = { ...s }; }
  run(): VcpuStop { return { kind: 'halted' }; }
}

t.test('loadGuestKernel: tables, e820 and the bzImage loader in one call; applyEntryState starts long mode', async (t) => {
  const mem = guestMemory(64 * MiB);
  const boot = loadGuestKernel(mem, fakeBzImage(), {
    cmdline: 'console=ttyS0',
    initrd: new Uint8Array(4096),
    machine: { cpus: 2, virtioMmio: [virtioMmioSlot(0)] },
  });
  t.equal(boot.format, 'bzimage');
  t.match(boot.summary, /^bzimage: kernel 0x100000-0x110000, initrd 4096 bytes at 0x3fff000, 64-bit entry at 0x100200, ACPI RSDP at 0xe0000$/);
  t.equal(mem.readU64(ZERO_PAGE_ADDR + ZP.acpiRsdpAddr), 0xe0000n, 'the kernel is told where the RSDP is');
  t.same(readAcpiTables(mem).map((x) => x.signature).sort(), ['APIC', 'DSDT', 'FACP', 'FACS', 'RSD PTR ', 'XSDT']);
  t.equal(String.fromCharCode(...mem.read(0xf0000, 4)), '_MP_');
  const vcpu = new RecordingVcpu();
  applyEntryState(vcpu, mem, boot.entry);
  t.equal(vcpu.regs.rip, 0x100200n);
  t.equal(vcpu.regs.rsi, BigInt(ZERO_PAGE_ADDR));
  t.equal(vcpu.regs.rflags, 0x2n);
  t.equal(vcpu.sregs.efer & 0x500n, 0x500n, 'long mode active');
  t.ok(vcpu.sregs.cs.l, '64-bit code segment');
  t.equal(vcpu.sregs.cr3, BigInt(boot.entry.pageTablesBase ?? -1), 'page tables where the entry state said');
  t.equal(vcpu.sregs.gdt.base, BigInt(boot.entry.gdtBase));
});

t.test('unknown images are refused in one line', async (t) => {
  const mem = guestMemory(64 * MiB);
  t.equal(detectKernelFormat(new Uint8Array(100)), 'unknown');
  t.throws(() => loadGuestKernel(mem, new Uint8Array(100), { cmdline: '', machine: { cpus: 1 } }), {
    message: 'unrecognised kernel image (100 bytes): not a bzImage, a PVH ELF or a Multiboot kernel',
  });
});

const guest = builtGuest();
t.test('the Debian cloud kernel through loadGuestKernel with 4 GiB of RAM (1 GiB of it above 4 GiB, in e820)', { skip: guest ? false : NO_GUEST_MESSAGE }, async (t) => {
  if (!guest) return;
  const mem = guestMemory(4 * 1024 * MiB);
  // The bzImage loader's initrd placement is the subject here, so keep the kernel's own decompressor (not host-side PVH).
  const boot = loadGuestKernel(mem, guest.kernel, { cmdline: 'console=ttyS0', initrd: guest.initrd, machine: { cpus: 4 }, bzImageDecompression: 'guest' });
  t.equal(detectKernelFormat(guest.kernel), 'bzimage');
  t.same(boot.e820[boot.e820.length - 1], { addr: 4 * 1024 * MiB, size: 1024 * MiB, type: 1 });
  // initrd_addr_max is 0x7fffffff for this kernel: the initrd ends just below 2 GiB.
  const initrdEnd = (boot.initrd?.address ?? 0) + (boot.initrd?.size ?? 0);
  t.ok(initrdEnd <= 0x80000000 && initrdEnd > 0x80000000 - 4096, 'initrd as high as initrd_addr_max allows');
});

/**
 * System-level behaviour of the software CPU through the accelerator: the
 * raw real -> protected -> long mode switch, IDT delivery (with IST and a
 * privilege change through TSS.RSP0), #PF with CR2 and error code, the
 * I/O permission check at CPL 3, SYSCALL/SYSRET, HLT, A/D bits, and a
 * triple fault turning into a shutdown stop.
 */
import t from 'tap';
import { createTcgAccelerator } from '../src/tcg-fallback/accelerator';
import { IoBus, PioDevice } from '../src/devices/bus';
import { SimpleRunControl, VcpuStop } from '../src/accel';
import { memoryLogger } from '../src/log';
import { assemble } from './tcg-cpu-support';

class DebugPort implements PioDevice {
  text = '';
  pioRead(): number { return 0xff; }
  pioWrite(_offset: number, _size: number, value: number): void { this.text += String.fromCharCode(value & 0xff); }
}

const ORIGIN = 0x7c00;

const GUEST = `
.intel_syntax noprefix
.code16
start:
  cli
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7000
  mov al, 'R'
  out 0xe9, al
  lgdt [gdt_desc]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  .byte 0x66, 0xea
  .long pm32
  .word 0x08
.code32
pm32:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x70000
  mov al, 'P'
  out 0xe9, al
  mov dword ptr [0x1000], 0x2007
  mov dword ptr [0x2000], 0x3007
  mov dword ptr [0x3000], 0x87
  mov dword ptr [0x3008], 0x200087
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, 0x1000
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x101
  wrmsr
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  .byte 0xea
  .long lm64
  .word 0x18
.code64
lm64:
  mov al, 'L'
  out 0xe9, al
  mov ax, 0x20
  mov ds, ax
  mov ss, ax
  mov rsp, 0x90000
  lea rdi, [rip + tss]
  mov qword ptr [rdi + 4], 0x98000
  mov qword ptr [rdi + 36], 0xa0000
  mov word ptr [rdi + 0x66], 0x68
  lea rbx, [rip + gdt + 0x40]
  mov rax, rdi
  shl rax, 16
  or rax, 0x67
  mov dword ptr [rbx], eax
  mov rax, rdi
  shr rax, 16
  and eax, 0xff
  or eax, 0x8900
  mov dword ptr [rbx + 4], eax
  mov ax, 0x40
  ltr ax
  mov edi, 3
  lea rsi, [rip + bp_handler]
  mov edx, 0xee00
  call set_gate
  mov edi, 14
  lea rsi, [rip + pf_handler]
  mov edx, 0x8e01
  call set_gate
  mov edi, 13
  lea rsi, [rip + gp_handler]
  mov edx, 0x8e00
  call set_gate
  mov edi, 0x80
  lea rsi, [rip + int80_handler]
  mov edx, 0xef00
  call set_gate
  mov edi, 0x81
  lea rsi, [rip + int81_handler]
  mov edx, 0xee00
  call set_gate
  lidt [rip + idt_desc]
  int3
  mov rbx, 0x40000000
  mov rax, [rbx]
  mov ecx, 0xc0000081
  xor eax, eax
  mov edx, 0x00280018
  wrmsr
  mov ecx, 0xc0000082
  lea rax, [rip + syscall_entry]
  xor edx, edx
  wrmsr
  mov ecx, 0xc0000084
  mov eax, 0x200
  xor edx, edx
  wrmsr
  mov rsp, 0x80000
  lea rcx, [rip + user]
  mov r11, 0x2
  sysretq

set_gate:
  mov rax, rdi
  shl rax, 4
  add rax, 0x5000
  mov word ptr [rax], si
  mov word ptr [rax + 2], 0x18
  mov word ptr [rax + 4], dx
  mov rcx, rsi
  shr rcx, 16
  mov word ptr [rax + 6], cx
  mov dword ptr [rax + 8], 0
  mov dword ptr [rax + 12], 0
  ret

bp_handler:
  mov al, 'B'
  out 0xe9, al
  iretq

pf_handler:
  mov al, 'F'
  out 0xe9, al
  mov rax, cr2
  cmp rax, 0x40000000
  jne 1f
  mov al, 'C'
  out 0xe9, al
1:
  cmp qword ptr [rsp], 0
  jne 2f
  mov al, 'E'
  out 0xe9, al
2:
  mov rax, rsp
  cmp rax, 0x9f000
  jb 3f
  cmp rax, 0xa0000
  ja 3f
  mov al, 'I'
  out 0xe9, al
3:
  add qword ptr [rsp + 8], 3
  add rsp, 8
  iretq

gp_handler:
  mov al, 'G'
  out 0xe9, al
  mov rax, rsp
  cmp rax, 0x97000
  jb 1f
  cmp rax, 0x98000
  ja 1f
  mov al, 'S'
  out 0xe9, al
1:
  add qword ptr [rsp + 8], 2
  add rsp, 8
  iretq

int80_handler:
  mov al, 'N'
  out 0xe9, al
  iretq

int81_handler:
  mov al, 'Z'
  out 0xe9, al
  cli
  hlt

syscall_entry:
  mov al, 'Y'
  out 0xe9, al
  lea rax, [rip + after_syscall]
  cmp rcx, rax
  jne 1f
  mov al, 'r'
  out 0xe9, al
1:
  sysretq

user:
  mov al, 'u'
  out 0xe9, al
  syscall
after_syscall:
  int 0x80
  int 0x81

.align 16
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
  .quad 0x00af9a000000ffff
  .quad 0x00cf92000000ffff
  .quad 0x00cffa000000ffff
  .quad 0x00cff2000000ffff
  .quad 0x00affa000000ffff
  .quad 0, 0
gdt_end:
gdt_desc:
  .word gdt_end - gdt - 1
  .long gdt
idt_desc:
  .word 0xfff
  .quad 0x5000
null_idt:
  .word 0
  .quad 0
.align 16
tss:
  .fill 104, 1, 0

.org 0x800
triple:
  lidt [rip + null_idt]
  int3
`;

function boot(): { acc: ReturnType<typeof createTcgAccelerator>; port: DebugPort; runUntilStop: () => VcpuStop } {
  const bus = new IoBus(memoryLogger());
  const port = new DebugPort();
  bus.registerPio(0xe9, 1, port, 'debug');
  const acc = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 4 << 20 }], cpus: 1, bus, control: new SimpleRunControl() });
  acc.memory.write(ORIGIN, assemble(GUEST, 16, ORIGIN));
  const vcpu = acc.vcpus[0];
  const sregs = vcpu.getSpecialRegisters();
  sregs.cs = { ...sregs.cs, base: 0n, selector: 0 };
  vcpu.setSpecialRegisters(sregs);
  const regs = vcpu.getRegisters();
  vcpu.setRegisters({ ...regs, rip: BigInt(ORIGIN) });
  const runUntilStop = (): VcpuStop => {
    for (let k = 0; k < 1000; k++) {
      const stop = vcpu.run();
      if (stop.kind !== 'kicked') return stop;
    }
    return { kind: 'kicked' };
  };
  return { acc, port, runUntilStop };
}

t.test('real -> protected -> long mode, IDT/IST, #PF, CPL 3 I/O #GP via RSP0, SYSCALL/SYSRET, INT n, HLT', async (t) => {
  const { acc, port, runUntilStop } = boot();
  const stop = runUntilStop();
  t.same(stop, { kind: 'halted' });
  t.equal(port.text, 'RPLBFCEIGSYrNZ');
  const sregs = acc.vcpus[0].getSpecialRegisters();
  t.equal(sregs.efer & 0x500n, 0x500n, 'EFER.LME and LMA');
  t.equal(sregs.cs.selector, 0x18);
  t.equal(sregs.cs.l, true);
  t.equal(sregs.cr2, 0x40000000n);
  // The walker set Accessed on every level and Dirty on the 2 MiB page that was written.
  t.equal(acc.memory.readU32(0x1000) & 0x20, 0x20, 'PML4E accessed');
  t.equal(acc.memory.readU32(0x3000) & 0x60, 0x60, 'PDE accessed and dirty');
});

t.test('a fault with an unusable IDT ends in a triple fault (shutdown)', async (t) => {
  const { acc, runUntilStop } = boot();
  t.same(runUntilStop(), { kind: 'halted' });
  const vcpu = acc.vcpus[0];
  vcpu.setRegisters({ ...vcpu.getRegisters(), rip: BigInt(ORIGIN + 0x800) });
  t.same(runUntilStop(), { kind: 'shutdown', reason: 'triple fault' });
});

t.test('an unimplemented instruction stops with an error naming bytes and RIP', async (t) => {
  const bus = new IoBus(memoryLogger());
  const acc = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus, control: new SimpleRunControl() });
  // DF /4 (FBLD, packed BCD) is a gap of this CPU, not an invalid opcode.
  acc.memory.write(0x7c00, new Uint8Array([0xdf, 0x20, 0x90, 0x90]));
  const vcpu = acc.vcpus[0];
  const sregs = vcpu.getSpecialRegisters();
  vcpu.setSpecialRegisters({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });
  vcpu.setRegisters({ ...vcpu.getRegisters(), rip: 0x7c00n });
  const stop = vcpu.run();
  t.equal(stop.kind, 'error');
  if (stop.kind === 'error') t.match(stop.message, /df \/4.*7c00.*df 20/);
});

/**
 * 32-bit protected mode on the software CPU: far CALL/RETF, IRET to ring 3,
 * a CPL 3 I/O #GP, INT through a DPL 3 gate with the TSS32 SS0:ESP0 stack
 * switch, SYSENTER/SYSEXIT, and #GP error codes for a missing IDT gate.
 */
import t from 'tap';
import { createTcgAccelerator } from '../src/tcg-fallback/accelerator';
import { IoBus, PioDevice } from '../src/devices/bus';
import { SimpleRunControl } from '../src/accel';
import { memoryLogger } from '../src/log';
import { assemble } from './tcg-cpu-support';

class DebugPort implements PioDevice {
  text = '';
  pioRead(): number { return 0; }
  pioWrite(_o: number, _s: number, v: number): void { this.text += String.fromCharCode(v & 0xff); }
}

const GUEST = `
.intel_syntax noprefix
.code16
  cli
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7000
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
  mov dword ptr [tss + 4], 0x68000
  mov dword ptr [tss + 8], 0x10
  mov word ptr [tss + 0x66], 0x68
  mov eax, offset tss
  mov word ptr [gdt + 0x28 + 2], ax
  shr eax, 16
  mov byte ptr [gdt + 0x28 + 4], al
  mov ax, 0x28
  ltr ax
  mov edi, 0x80
  mov esi, offset int80
  mov edx, 0xef00
  call set_gate
  mov edi, 0x82
  mov esi, offset int82
  mov edx, 0xee00
  call set_gate
  mov edi, 13
  mov esi, offset gp
  mov edx, 0x8e00
  call set_gate
  lidt [idt_desc]
  mov ecx, 0x174
  mov eax, 0x08
  xor edx, edx
  wrmsr
  mov ecx, 0x175
  mov eax, 0x60000
  wrmsr
  mov ecx, 0x176
  mov eax, offset sysenter_entry
  wrmsr
  .byte 0x9a
  .long farfn
  .word 0x08
  push 0x23
  push 0x50000
  push 0x2
  push 0x1b
  push offset user
  iret

set_gate:
  lea eax, [edi * 8 + 0x5000]
  mov word ptr [eax], si
  mov word ptr [eax + 2], 0x08
  mov word ptr [eax + 4], dx
  mov ecx, esi
  shr ecx, 16
  mov word ptr [eax + 6], cx
  ret

farfn:
  mov al, 'F'
  out 0xe9, al
  retf

int80:
  mov al, 'N'
  out 0xe9, al
  cmp esp, 0x67000
  jb 1f
  mov al, 'S'
  out 0xe9, al
1:
  iret

int82:
  mov al, 'Z'
  out 0xe9, al
  cli
  hlt

gp:
  mov al, 'G'
  out 0xe9, al
  cmp dword ptr [esp], 0x40a
  jne 1f
  mov al, 'E'
  out 0xe9, al
1:
  add dword ptr [esp + 4], 2
  add esp, 4
  iret

sysenter_entry:
  mov al, 'Y'
  out 0xe9, al
  mov ecx, 0x50000
  mov edx, offset after_sysenter
  sysexit

user:
  mov al, 'u'
  out 0xe9, al
  int 0x80
  sysenter
after_sysenter:
  int 0x81
  int 0x82

.align 8
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
  .quad 0x00cffa000000ffff
  .quad 0x00cff2000000ffff
  .quad 0x0000890000000067
gdt_end:
gdt_desc:
  .word gdt_end - gdt - 1
  .long gdt
idt_desc:
  .word 0x7ff
  .long 0x5000
.align 16
tss:
  .fill 104, 1, 0
`;

t.test('far call, ring 3 via IRET, TSS32 stack switch, SYSENTER/SYSEXIT, #GP error codes', async (t) => {
  const bus = new IoBus(memoryLogger());
  const port = new DebugPort();
  bus.registerPio(0xe9, 1, port, 'debug');
  const acc = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus, control: new SimpleRunControl() });
  acc.memory.write(0x7c00, assemble(GUEST, 16, 0x7c00));
  const vcpu = acc.vcpus[0];
  const sregs = vcpu.getSpecialRegisters();
  vcpu.setSpecialRegisters({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });
  vcpu.setRegisters({ ...vcpu.getRegisters(), rip: 0x7c00n });
  let stop = vcpu.run();
  for (let k = 0; k < 100 && stop.kind === 'kicked'; k++) stop = vcpu.run();
  t.same(stop, { kind: 'halted' });
  t.equal(port.text, 'FGNSYGEZ');
  const s = vcpu.getSpecialRegisters();
  t.equal(s.cs.selector, 0x08, 'back in ring 0 through the gate');
  t.equal(s.tr.type, 11, 'LTR marked the TSS busy');
});

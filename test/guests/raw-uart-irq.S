/*
 * Raw 32-bit guest: writes a line through the UART driven by THRE
 * interrupts, then halts until the host types a byte (an RX interrupt wakes
 * it) and exits with that byte as the debug-exit code. Exercises the PIC
 * (IRQ 4 at vector 0x24), the UART's IER/IIR/MCR.OUT2 gating, STI;HLT
 * waking on an injected interrupt, and IRET.
 */
.code32
.include "raw-pic-init.inc"
.globl _start
_start:
  mov $stack_top, %esp
  lidt idt_descriptor
  PIC_INIT 0xef, 0xff               /* only IRQ 4 (COM1) unmasked */
  /* Build the IDT entry for vector 0x24: 32-bit interrupt gate to uart_isr. */
  mov $uart_isr, %eax
  mov $idt + 0x24 * 8, %edi
  mov %ax, (%edi)
  movw $0x18, 2(%edi)      /* the VMM's flat 32-bit code selector (RAW_CODE32_SELECTOR) */
  movw $0x8e00, 4(%edi)
  shr $16, %eax
  mov %ax, 6(%edi)
  /* UART: DTR|RTS|OUT2 (OUT2 gates the IRQ to the PIC), then enable THRE and RX interrupts. */
  mov $0x3fc, %dx
  mov $0x0b, %al
  out %al, %dx
  mov $0x3f9, %dx
  mov $0x03, %al
  out %al, %dx
  sti
wait:
  hlt
  cmpb $0, tx_done
  je wait
  cmpb $0, rx_done
  je wait
  cli
  movzbl rx_byte, %eax
  mov $0xf4, %dx
  out %al, %dx
  hlt

uart_isr:
  pusha
next_cause:
  mov $0x3fa, %dx
  in %dx, %al             /* IIR: bit 0 clear = an interrupt is pending */
  test $1, %al
  jnz isr_done
  and $0x0e, %al
  cmp $0x02, %al
  je thre
  /* RX data (0x04) or character timeout (0x0c): take the byte. */
  mov $0x3f8, %dx
  in %dx, %al
  mov %al, rx_byte
  movb $1, rx_done
  jmp next_cause
thre:
  mov tx_next, %esi
  movb (%esi), %al
  test %al, %al
  jz tx_finished
  mov $0x3f8, %dx
  out %al, %dx
  incl tx_next
  jmp next_cause
tx_finished:
  movb $1, tx_done
  jmp next_cause
isr_done:
  mov $0x20, %al           /* non-specific EOI to the master PIC */
  out %al, $0x20
  popa
  iret

/* Data lives in .text too: the raw image is the flat .text section. */
msg: .asciz "uart line sent with THRE interrupts\n"
tx_next: .long msg
tx_done: .byte 0
rx_done: .byte 0
rx_byte: .byte 0
.align 8
idt_descriptor:
  .word 256 * 8 - 1
  .long idt
.align 8
idt: .skip 256 * 8
.skip 4096
stack_top:

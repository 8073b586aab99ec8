/*
 * Real-mode twin of raw-uart-irq.S (same behaviour, IVT instead of IDT).
 * It exists because nested KVM served by kvm_pvm emulates guest kernel code
 * with KVM's instruction emulator, whose IRET handles real mode only: the
 * protected-mode guest cannot return from its interrupt there. Loaded at
 * 0xc000 with CS=DS=SS=0.
 */
.code16
.include "raw-pic-init.inc"
.globl _start
_start:
  xor %ax, %ax
  mov %ax, %ds
  mov %ax, %ss
  mov $0xb000, %sp
  PIC_INIT 0xef, 0xff               /* only IRQ 4 (COM1) unmasked */
  /* IVT entry for vector 0x24: offset, then segment 0. */
  movw $uart_isr, 0x24 * 4
  movw $0, 0x24 * 4 + 2
  /* UART: DTR|RTS|OUT2, then THRE and RX interrupts. */
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
  mov rx_byte, %al
  mov $0xf4, %dx
  out %al, %dx
  hlt

uart_isr:
  pusha
next_cause:
  mov $0x3fa, %dx
  in %dx, %al
  test $1, %al
  jnz isr_done
  and $0x0e, %al
  cmp $0x02, %al
  je thre
  mov $0x3f8, %dx
  in %dx, %al
  mov %al, rx_byte
  movb $1, rx_done
  jmp next_cause
thre:
  mov tx_next, %si
  movb (%si), %al
  test %al, %al
  jz tx_finished
  mov $0x3f8, %dx
  out %al, %dx
  incw tx_next
  jmp next_cause
tx_finished:
  movb $1, tx_done
  jmp next_cause
isr_done:
  mov $0x20, %al
  out %al, $0x20
  popa
  iret

msg: .asciz "uart line sent with THRE interrupts\n"
tx_next: .word msg
tx_done: .byte 0
rx_done: .byte 0
rx_byte: .byte 0

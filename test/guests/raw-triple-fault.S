/* Raw 64-bit guest: prints a line, loads an empty IDT and raises #UD: the fault cannot be delivered, a triple fault follows. */
.code64
.globl _start
_start:
  lea msg(%rip), %rsi
  mov $0x3f8, %dx
1: lodsb
  test %al, %al
  jz 2f
  out %al, %dx
  jmp 1b
2: lidt empty_idt(%rip)
  ud2
msg: .asciz "about to triple fault\n"
empty_idt: .word 0
  .quad 0

/*
 * Raw 64-bit guest: runs a loop long enough to cross many of the software
 * CPU's time slices, writes 5 to isa-debug-exit, and then triple-faults at
 * once. The exit must win: the software CPU may execute a few instructions
 * past the OUT before it looks at the stop request.
 */
.code64
.globl _start
_start:
  mov $300000, %rcx
1: add %rcx, %rax
  dec %rcx
  jnz 1b
  mov $0xf4, %dx
  mov $5, %al
  out %al, %dx
  lidt empty_idt(%rip)
  ud2
empty_idt: .word 0
  .quad 0

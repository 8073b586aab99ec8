/*
 * Raw test guest: prints which mode it was entered in, then ends through
 * isa-debug-exit with a mode-specific code. Assembled three times with
 * MODE = 16/32/64 prepended (see test/cli-guests.test.ts). Loaded at 0xc000 for 16-bit
 * (CS=0, everything below 64 KiB) and at 0x100000 otherwise.
 */
.if MODE == 16
  .code16
.elseif MODE == 32
  .code32
.else
  .code64
.endif
.globl _start
_start:
.if MODE == 16
  mov $msg, %si
.elseif MODE == 32
  mov $msg, %esi
.else
  lea msg(%rip), %rsi
.endif
  mov $0x3f8, %dx
1:
.if MODE == 16
  /* CS=DS=0 in the VMM's real-mode setup; the message lies below 64 KiB. */
  movb (%si), %al
  inc %si
.else
  lodsb
.endif
  test %al, %al
  jz 2f
  out %al, %dx
  jmp 1b
2:
  /* Prove the CPU really is in the mode: CR0.PE and EFER.LMA as the mode says. */
.if MODE == 64
  mov $0xc0000080, %ecx
  rdmsr
  test $0x400, %eax   /* LMA */
  jz bad
.elseif MODE == 32
  mov %cr0, %eax
  test $1, %eax       /* PE */
  jz bad
.else
  smsw %ax
  test $1, %ax        /* PE must be clear in real mode */
  jnz bad
.endif
  mov $0xf4, %dx
  mov $MODE, %al
  out %al, %dx
bad:
  mov $0xf4, %dx
  mov $0x7f, %al
  out %al, %dx
  hlt
msg:
.if MODE == 16
  .asciz "raw guest: real mode\n"
.elseif MODE == 32
  .asciz "raw guest: protected mode\n"
.else
  .asciz "raw guest: long mode\n"
.endif

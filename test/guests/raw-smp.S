/*
 * Raw SMP guest, small enough for nested KVM: the BSP (flat 32-bit protected
 * mode, loaded at 0x8000 so everything lies below 64 KiB) prints a line,
 * wakes APs 1..CPUS-1 one by one with INIT + STARTUP through its xAPIC, and
 * waits for them to count themselves in. Each AP starts in real mode at the
 * page-aligned `trampoline` (SIPI vector = its page number), reads its APIC
 * ID with CPUID, prints "AP n up" under a spinlock (so lines from several APs
 * never interleave) and increments a shared counter with a locked add. The
 * BSP then exits through isa-debug-exit with the count: process status
 * ((CPUS-1) << 1) | 1. Assembled with `CPUS = n` prepended
 * (test/cli-smp.test.ts); with `FOREVER = 1` too, the BSP halts instead of
 * exiting and the APs keep reading a UART port (test/qmp-smp.test.ts); with
 * `AP_ACTION = 1` (poweroff), `2` (reset) or `3` (triple fault) AP 1 ends
 * the machine instead (test/cli-smp.test.ts). The APs stay in real mode and take no interrupts:
 * under kvm_pvm (nested KVM without vmx/svm) guest kernel code is emulated,
 * and real mode is what that emulator handles best.
 */
.set LAPIC, 0xfee00000
.set LAPIC_SVR, 0xf0
.set LAPIC_ICR_LO, 0x300
.set LAPIC_ICR_HI, 0x310
.set ICR_PENDING, 0x1000
.set ICR_INIT_ASSERT, 0x4500
.set ICR_STARTUP, 0x4600
/* The image is loaded at 0x8000 and the trampoline sits 0x1000 into it. */
.set TRAMPOLINE_PAGE, 0x09

.code32
.globl _start
_start:
  mov $0x7ff0, %esp
  mov $bsp_msg, %esi
  call puts32
  movl $0x1ff, LAPIC + LAPIC_SVR      /* software-enable the local APIC, spurious vector 0xff */
  mov $1, %ebx
next_ap:
  cmp $CPUS, %ebx
  jae wait_aps
  mov %ebx, %eax
  shl $24, %eax
  mov %eax, LAPIC + LAPIC_ICR_HI
  movl $ICR_INIT_ASSERT, LAPIC + LAPIC_ICR_LO
  call wait_icr
  mov %ebx, %eax
  shl $24, %eax
  mov %eax, LAPIC + LAPIC_ICR_HI
  /* One STARTUP: a second one would be ignored by an AP already running, per the SDM. */
  movl $(ICR_STARTUP | TRAMPOLINE_PAGE), LAPIC + LAPIC_ICR_LO
  call wait_icr
  inc %ebx
  jmp next_ap

wait_aps:
  /* Bounded so a missing AP ends in a wrong status rather than a hang. */
  mov $0x2000000, %ecx
1:
  cmpl $(CPUS - 1), ap_count
  je all_in
  pause
  loop 1b
all_in:
  mov $done_msg, %esi
  call puts32
  movb $1, bsp_done
.ifdef FOREVER
  jmp bsp_sleep
.endif
.ifdef AP_ACTION
  jmp bsp_sleep
.endif
  mov ap_count, %eax
  mov $0xf4, %dx
  out %al, %dx
  hlt

/* The machine's end is up to the APs: the BSP sleeps in HLT with interrupts off. */
bsp_sleep:
  hlt
  jmp bsp_sleep

wait_icr:
  testl $ICR_PENDING, LAPIC + LAPIC_ICR_LO
  jz 1f
  pause
  jmp wait_icr
1:
  ret

/* Writes the NUL-terminated string at %esi to COM1, polling LSR.THRE. */
puts32:
  lodsb
  test %al, %al
  jz 2f
  mov %al, %ah
  mov $0x3fd, %dx
1:
  in %dx, %al
  test $0x20, %al
  jz 1b
  mov $0x3f8, %dx
  mov %ah, %al
  out %al, %dx
  jmp puts32
2:
  ret

/* ---- the APs: entered in real mode with CS = page number << 8, IP = 0 ---- */
.code16
.org 0x1000
trampoline:
  cli
  xor %ax, %ax
  mov %ax, %ds
  mov %ax, %es
  mov $1, %eax
  cpuid
  xor %ax, %ax
  shr $24, %ebx                       /* initial APIC ID */
  and $0xf, %bx
  /* No shared stack: each AP takes 256 bytes below 0x7000 by APIC ID. */
  mov %ax, %ss
  mov %bx, %sp
  shl $8, %sp
  neg %sp
  add $0x7000, %sp
  add $'0', %bl
  cmp $'9', %bl
  jbe 1f
  add $('a' - '9' - 1), %bl
1:
  /* Spinlock around the UART: XCHG with memory is locked. */
  mov $1, %al
2:
  xchg %al, uart_lock
  test %al, %al
  jz 3f
  pause
  mov $1, %al
  jmp 2b
3:
  mov $ap_msg, %si
  call puts16
  mov %bl, %ah
  call putc16
  mov $ap_msg_end, %si
  call puts16
  movb $0, uart_lock
  lock incl ap_count
.ifdef AP_ACTION
  /* AP 1 ends the machine once the BSP has said its last line: 1 = ACPI S5
     poweroff (PM1a_CNT), 2 = reset through the i8042, 3 = triple fault. */
  cmp $'1', %bl
  jne 4f
6:
  cmpb $0, bsp_done
  jne 7f
  pause
  jmp 6b
7:
.if AP_ACTION == 1
  mov $0x604, %dx
  mov $0x3400, %ax                    /* SLP_TYP = 5 (S5) | SLP_EN */
  out %ax, %dx
.elseif AP_ACTION == 2
  mov $0x64, %dx
  mov $0xfe, %al                      /* pulse the reset line */
  out %al, %dx
.else
  lidt empty_idt                      /* limit 0: #UD -> #GP -> #DF -> shutdown */
  ud2
.endif
.endif
.ifdef FOREVER
  /* Port reads (exits served by the machine thread) and a counter, forever. */
5:
  mov $0x3fd, %dx
  in %dx, %al
  lock incl ap_spins
  jmp 5b
.endif
4:
  cli
  hlt
  jmp 4b

puts16:
  movb (%si), %ah
  inc %si
  test %ah, %ah
  jz 2f
  call putc16
  jmp puts16
2:
  ret

/* Writes %ah to COM1. */
putc16:
  mov $0x3fd, %dx
1:
  in %dx, %al
  test $0x20, %al
  jz 1b
  mov $0x3f8, %dx
  mov %ah, %al
  out %al, %dx
  ret

.balign 4
ap_count: .long 0
ap_spins: .long 0
uart_lock: .byte 0
bsp_done: .byte 0
.balign 4
empty_idt: .word 0
  .long 0
bsp_msg: .asciz "BSP up, starting the APs\n"
done_msg: .asciz "BSP: every AP counted in\n"
ap_msg: .asciz "AP "
ap_msg_end: .asciz " up\n"

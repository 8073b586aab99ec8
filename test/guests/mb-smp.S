# SMP bring-up: the BSP wakes the AP with INIT + SIPI (fixed APIC IDs:
# BSP 0, AP 1; no MADT needed). The AP starts in real mode at 0x8000,
# enters protected mode, prints a line, reads its APIC ID and shares memory
# with the BSP. Run with 2 vCPUs (-smp 2).
        .include "mb-common32.inc"
        MULTIBOOT_HEADER
        .set LAPIC, 0xfee00000
        .set TRAMPOLINE, 0x8000

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        # Copy the real-mode trampoline to 0x8000 (SIPI vector 0x08).
        mov $trampoline, %esi
        mov $TRAMPOLINE, %edi
        mov $(trampoline_end - trampoline), %ecx
        cld
        rep movsb
        movl $0xc0ffee, shared_magic

        mov LAPIC + 0x20, %eax
        shr $24, %eax
        EXPECT %eax, $0, "smp-bsp-apic-id-0"
        movl $0x1ff, LAPIC + 0xf0            # enable the local APIC

        # INIT (assert), then INIT de-assert, to APIC ID 1.
        movl $(1 << 24), LAPIC + 0x310
        movl $0x0000c500, LAPIC + 0x300
        call wait_icr
        movl $(1 << 24), LAPIC + 0x310
        movl $0x00008500, LAPIC + 0x300
        call wait_icr
        # STARTUP with vector 0x08 (start at 0x8000), sent twice as the MP spec says.
        mov $2, %ebx
1:      movl $(1 << 24), LAPIC + 0x310
        movl $0x00000608, LAPIC + 0x300
        call wait_icr
        mov $100000, %ecx
2:      cmpl $0, ap_flag
        jne 3f
        pause
        loop 2b
        dec %ebx
        jnz 1b
3:
        # Wait (bounded) for the AP to report.
        mov $5000000, %ecx
4:      cmpl $0, ap_flag
        jne 5f
        pause
        loop 4b
5:      EXPECT ap_flag, $1, "smp-ap-started"
        EXPECT ap_apic_id, $1, "smp-ap-apic-id-1"
        EXPECT ap_saw_magic, $0xc0ffee, "smp-ap-sees-bsp-memory"
        lock incl shared_counter
        EXPECT shared_counter, $2, "smp-shared-counter"
        jmp finish

wait_icr:
        mov $1000000, %ecx
1:      testl $0x1000, LAPIC + 0x300
        jz 2f
        pause
        loop 1b
2:      ret

# ---- the AP ----
ap_entry32:
        mov $DATA32, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $ap_stack_top, %esp
        mov LAPIC + 0x20, %eax
        shr $24, %eax
        mov %eax, ap_apic_id
        mov shared_magic, %eax
        mov %eax, ap_saw_magic
        lock incl shared_counter
        SAY "AP 1 up: protected mode"
        movl $1, ap_flag
1:      cli
        hlt
        jmp 1b

# Real-mode trampoline, copied to 0x8000 and entered with CS=0x800, IP=0:
# only offsets relative to its start are used.
        .code16
trampoline:
        cli
        mov %cs, %ax
        mov %ax, %ds
        lgdtl tramp_gdt_ptr - trampoline
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $CODE32, $ap_entry32
        .align 4
tramp_gdt_ptr:
        .word gdt32_end - gdt32 - 1
        .long gdt32
trampoline_end:
        .code32

        .section .data
        .align 4
ap_flag: .long 0
ap_apic_id: .long 0xffffffff
ap_saw_magic: .long 0
shared_magic: .long 0
shared_counter: .long 0

        .section .bss
        .align 16
        .space 4096
ap_stack_top:

        .include "mb-idt32.inc"

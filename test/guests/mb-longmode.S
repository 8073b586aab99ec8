# Protected mode -> long mode (64-bit), and 4-level paging there: #PF error
# codes and full 64-bit CR2, non-canonical #GP, higher-half and 1 GiB
# mappings, #UD/#BP through the 64-bit IDT. (Compatibility mode and leaving
# long mode are in mb-compat.S.)
        .include "mb-common32.inc"
        .include "mb-common64.inc"
        MULTIBOOT_HEADER
        .set IDT64_CS, 0x18
        .set TP_NP, 0x1f0000
        .set TP_RO, 0x1f1000
        .set TP_NX, 0x1f2000
        .set FRAME_B, 0x1f9000

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        EXPECT %eax, %eax, "protected-mode"
        jmp enter_long

        .code64
long_entry:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        call setup_idt64
        SAY64 "PASS long-mode-64bit-entered"
        mov $0xc0000080, %ecx
        rdmsr
        and $0x400, %eax
        EXPECT64 %rax, $0x400, "efer-lma-set"

        # 64-bit arithmetic really is 64-bit.
        mov $0x123456789, %rax
        shl $8, %rax
        mov $0x12345678900, %rdx
        EXPECT64 %rax, %rdx, "64bit-shift"
        mov %cs, %eax
        EXPECT64 %rax, $0x18, "cs-is-64bit-selector"

        # 4-level #PF error codes and CR2.
        movq $0, pt64 + (TP_NP >> 12) * 8(%rip)
        movq $(TP_RO | 5), pt64 + (TP_RO >> 12) * 8(%rip)
        movb $0xc3, TP_NX
        mov $(TP_NX | 7), %rax
        bts $63, %rax
        mov %rax, pt64 + (TP_NX >> 12) * 8(%rip)
        mov %cr3, %rax
        mov %rax, %cr3

        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
np_load:
        mov TP_NP + 0x30, %rax
1:      EXPECT64 last_rip(%rip), $np_load, "lm-pf-saved-rip"
        EXPECTL last_vector, $14, "lm-pf-vector"
        EXPECTL last_error, $0, "lm-pf-not-present-error"
        EXPECT64 last_cr2q(%rip), $TP_NP+0x30, "lm-pf-cr2"

        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        movl $9, TP_RO + 4
1:      EXPECTL last_error, $3, "lm-pf-write-read-only"

        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        mov $TP_NX, %eax
        call *%rax
1:      EXPECTL last_error, $0x11, "lm-pf-nx-fetch"
        EXPECT64 last_rip(%rip), $TP_NX, "lm-pf-nx-saved-rip"

        # Unmapped canonical higher-half address: #PF with a full 64-bit CR2.
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        mov $0xffff800000001238, %rbx
        mov (%rbx), %rax
1:      EXPECTL last_vector, $14, "lm-pf-high-vector"
        mov $0xffff800000001238, %rdx
        EXPECT64 last_cr2q(%rip), %rdx, "lm-pf-high-cr2"

        # Non-canonical address: #GP(0), not #PF.
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        mov $0x0000800000000000, %rbx
        mov (%rbx), %rax
1:      EXPECTL last_vector, $13, "lm-gp-non-canonical"
        EXPECTL last_error, $0, "lm-gp-non-canonical-error"

        # Higher half: PML4[511] -> PDPT[510] -> PD: VA 0xffffffff80000000 + x = PA x.
        lea pdpt_hi(%rip), %rax
        or $3, %rax
        mov %rax, pml4 + 511 * 8(%rip)
        lea pd64(%rip), %rax
        or $3, %rax
        mov %rax, pdpt_hi + 510 * 8(%rip)
        movl $0x600dbeef, FRAME_B + 0x80
        mov $0xffffffff80000000 + FRAME_B + 0x80, %rbx
        mov (%rbx), %eax
        EXPECTL %eax, $0x600dbeef, "lm-higher-half-mapping"

        # 1 GiB page (when CPUID says so): PML4[2] -> PDPT with a PS entry for PA 0.
        mov $0x80000001, %eax
        cpuid
        bt $26, %edx
        jnc 3f
        lea pdpt_1g(%rip), %rax
        or $3, %rax
        mov %rax, pml4 + 2 * 8(%rip)
        movq $0x83, pdpt_1g(%rip)
        mov $0x10000000000 + FRAME_B + 0x80, %rbx
        mov (%rbx), %eax
        EXPECTL %eax, $0x600dbeef, "lm-1gib-page"
3:
        # #UD and #BP in 64-bit mode.
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        ud2
1:      EXPECTL last_vector, $6, "lm-ud"
        int3
        EXPECTL last_vector, $3, "lm-bp"

        jmp finish64

        .section .bss
        .align 4096
pdpt_hi: .space 4096
pdpt_1g: .space 4096

        .include "mb-idt32.inc"
        .include "mb-long.inc"

# Exceptions in 32-bit protected mode: vectors, error codes, and #DF from a
# fault during delivery of another. Prints PASS/FAIL lines; see mb-common32.inc.
        .include "mb-common32.inc"
        MULTIBOOT_HEADER
        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        EXPECT %eax, %eax, "boot: protected mode entered"

        # #DE: divide by zero. Faults: saved EIP is the DIV itself.
        movl $1f, resume_eip
        xor %ecx, %ecx
        mov $5, %eax
        xor %edx, %edx
div_insn:
        div %ecx
1:      EXPECT last_vector, $0, "de-vector"
        EXPECT last_eip, $div_insn, "de-saved-eip"

        # #UD from UD2.
        movl $1f, resume_eip
ud_insn:
        ud2
1:      EXPECT last_vector, $6, "ud-vector"
        EXPECT last_eip, $ud_insn, "ud-saved-eip"

        # #BP from INT3 is a trap: saved EIP is after it; no resume needed.
        int3
bp_after:
        EXPECT last_vector, $3, "bp-vector"
        EXPECT last_eip, $bp_after, "bp-saved-eip-after-int3"

        # #GP with a selector error code: load a selector past the GDT limit.
        movl $1f, resume_eip
        mov $0x1230, %ax
        mov %ax, %ds
1:      EXPECT last_vector, $13, "gp-vector"
        EXPECT last_error, $0x1230, "gp-selector-error-code"
        mov $DATA32, %ax
        mov %ax, %ds

        # #GP from INT n past the IDT limit: error code n*8+2 (IDT bit).
        movw $0x40 * 8 - 1, idt32_ptr
        lidt idt32_ptr
        movl $1f, resume_eip
        int $0x50
1:      EXPECT last_vector, $13, "gp-int-past-idt-limit"
        EXPECT last_error, $0x50*8+2, "gp-idt-error-code"
        movw $256 * 8 - 1, idt32_ptr
        lidt idt32_ptr

        # #NP: INT through a not-present gate; error code n*8+2.
        andl $~0x8000, idt32 + 0x41 * 8 + 4
        movl $1f, resume_eip
        int $0x41
1:      EXPECT last_vector, $11, "np-vector"
        EXPECT last_error, $0x41*8+2, "np-error-code"
        orl $0x8000, idt32 + 0x41 * 8 + 4

        # Software INT through a present gate reaches its vector.
        int $0x42
        EXPECT last_vector, $0x42, "int-n-vector"

        # #DF: make the #GP gate not present, then cause a #GP. Delivering it
        # raises #NP, a second contributory fault: the CPU delivers #DF (error 0).
        andl $~0x8000, idt32 + 13 * 8 + 4
        movl $0, exc_count
        movl $1f, resume_eip
        mov $0x1230, %ax
        mov %ax, %ds
1:      mov $DATA32, %ax
        mov %ax, %ds
        orl $0x8000, idt32 + 13 * 8 + 4
        EXPECT last_vector, $8, "df-vector"
        EXPECT last_error, $0, "df-error-code"
        EXPECT exc_count, $1, "df-delivered-once"

        # #GP(0): a null selector cannot be loaded into SS.
        movl $1f, resume_eip
        xor %eax, %eax
        mov %ax, %ss
1:      EXPECT last_vector, $13, "gp-null-ss"
        EXPECT last_error, $0, "gp-null-ss-error-code"

        jmp finish

        .include "mb-idt32.inc"

# Mode switches: protected mode -> long mode (64-bit) -> compatibility mode
# (exceptions through the 64-bit IDT, 32-bit arithmetic) -> 64-bit -> out of
# long mode back to protected mode (LMA clears, the 32-bit IDT works again).
        .include "mb-common32.inc"
        .include "mb-common64.inc"
        MULTIBOOT_HEADER
        .set IDT64_CS, 0x18

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
        mov %cs, %eax
        EXPECTL %eax, $0x18, "long-mode-64bit-cs"

        # To compatibility mode: far return to the 32-bit code selector.
        push $0x08
        lea compat(%rip), %rax
        push %rax
        lretq

        .code32
compat:
        mov %cs, %eax
        EXPECT %eax, $0x08, "compat-mode-cs"
        mov $0xc0000080, %ecx
        rdmsr
        and $0x400, %eax
        EXPECT %eax, $0x400, "compat-mode-lma-still-set"
        # An exception in compatibility mode goes through the 64-bit IDT and returns here.
        movl $1f, resume_rip
        movl $0, resume_rip + 4
        ud2
1:      EXPECT last_vector, $6, "compat-mode-ud-via-64bit-idt"
        EXPECT last_cs, $0x08, "compat-mode-saved-cs"
        # 32-bit operand size here: this add wraps at 32 bits.
        mov $0xffffffff, %eax
        add $1, %eax
        EXPECT %eax, $0, "compat-mode-32bit-arith"
        ljmp $0x18, $back64

        .code64
back64:
        mov %cs, %eax
        EXPECT64 %rax, $0x18, "back-to-64bit"
        # Leave long mode: compatibility mode, paging off (LMA clears), LME off.
        push $0x08
        lea leave(%rip), %rax
        push %rax
        lretq

        .code32
leave:
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov $0xc0000080, %ecx
        rdmsr
        mov %eax, %ebx
        and $~0x100, %eax
        wrmsr
        and $0x400, %ebx
        EXPECT %ebx, $0, "left-long-mode-lma-clear"
        lidt idt32_ptr
        movl $1f, resume_eip
        ud2
1:      EXPECT last_vector, $6, "protected-mode-again-ud-via-32bit-idt"
        mov $0xffffffff, %eax
        add $1, %eax
        EXPECT %eax, $0, "protected-mode-again-arith"
        jmp finish

        .include "mb-idt32.inc"
        .include "mb-long.inc"

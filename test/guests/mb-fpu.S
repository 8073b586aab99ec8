# FPU/SSE system behaviour in 32-bit protected mode: CR0.TS -> #NM for x87
# and SSE, CR0.EM -> #NM (x87) / #UD (SSE), CR4.OSFXSR=0 -> #UD for SSE,
# unmasked x87 exceptions -> #MF at the next waiting instruction (CR0.NE),
# masked SSE exceptions set MXCSR flags, and the FXSAVE image (FCW, MXCSR, ST0 as 80-bit) with an FXRSTOR round trip.
        .include "mb-common32.inc"
        MULTIBOOT_HEADER

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        mov %cr0, %eax
        and $~0xc, %eax                      # EM=0, TS=0
        or $0x22, %eax                       # MP, NE
        mov %eax, %cr0
        mov %cr4, %eax
        or $0x600, %eax                      # OSFXSR, OSXMMEXCPT
        mov %eax, %cr4
        fninit
        fld1
        fadd %st(0), %st
        fistpl scratch
        EXPECT scratch, $2, "fpu-basic-1+1"

        # CR0.TS: the first x87 or SSE instruction raises #NM; CLTS clears it.
        mov %cr0, %eax
        or $8, %eax
        mov %eax, %cr0
        movl $1f, resume_eip
        fld1
1:      EXPECT last_vector, $7, "fpu-ts-x87-nm"
        movl $1f, resume_eip
        movaps %xmm1, %xmm0
1:      EXPECT last_vector, $7, "fpu-ts-sse-nm"
        clts
        movl $0xffffffff, last_vector
        movaps %xmm1, %xmm0
        EXPECT last_vector, $0xffffffff, "fpu-clts-sse-runs"

        # CR0.EM: x87 -> #NM, SSE -> #UD.
        mov %cr0, %eax
        or $4, %eax
        mov %eax, %cr0
        movl $1f, resume_eip
        fld1
1:      EXPECT last_vector, $7, "fpu-em-x87-nm"
        movl $1f, resume_eip
        addps %xmm1, %xmm0
1:      EXPECT last_vector, $6, "fpu-em-sse-ud"
        mov %cr0, %eax
        and $~4, %eax
        mov %eax, %cr0

        # CR4.OSFXSR=0: SSE -> #UD.
        mov %cr4, %eax
        and $~0x200, %eax
        mov %eax, %cr4
        movl $1f, resume_eip
        addps %xmm1, %xmm0
1:      EXPECT last_vector, $6, "fpu-no-osfxsr-sse-ud"
        mov %cr4, %eax
        or $0x200, %eax
        mov %eax, %cr4

        # Unmasked x87 divide-by-zero: FDIV only records it; the next waiting instruction raises #MF.
        fninit
        movw $0x037b, scratch                # ZM clear
        fldcw scratch
        fld1
        fldz
        movl $0xffffffff, last_vector
        fdivrp %st, %st(1)                   # 1 / 0
        EXPECT last_vector, $0xffffffff, "fpu-x87-fault-is-deferred"
        movl $1f, resume_eip
        fwait
1:      EXPECT last_vector, $16, "fpu-x87-mf-on-fwait"
        fnstsw %ax
        and $0x84, %eax                      # ES and ZE
        EXPECT %eax, $0x84, "fpu-x87-status-es-ze"
        fnclex
        fninit

        # Masked SSE divide-by-zero: no exception, the sticky ZE flag is set.
        # (Unmasked SSE exceptions, #XM, are left to the differential harness:
        # QEMU 7.2 TCG, the reference here, never raises #XM.)
        movl $0x1f80, scratch
        ldmxcsr scratch
        xorps %xmm1, %xmm1
        movl $0x3f800000, scratch
        movss scratch, %xmm0
        movl $0xffffffff, last_vector
        divss %xmm1, %xmm0
        EXPECT last_vector, $0xffffffff, "sse-masked-ze-no-exception"
        stmxcsr scratch
        mov scratch, %eax
        and $0x4, %eax
        EXPECT %eax, $4, "sse-mxcsr-ze-flag"
        movl $0x1f80, scratch
        ldmxcsr scratch

        # FXSAVE image: FCW at 0, MXCSR at 24, ST0 at 32 as an 80-bit 1.0.
        fninit
        movw $0x027f, scratch
        fldcw scratch
        fld1
        fxsave fxarea
        movzwl fxarea, %eax
        EXPECT %eax, $0x027f, "fxsave-fcw"
        EXPECT fxarea+24, $0x1f80, "fxsave-mxcsr"
        EXPECT fxarea+32, $0, "fxsave-st0-mantissa-low"
        EXPECT fxarea+36, $0x80000000, "fxsave-st0-mantissa-high"
        movzwl fxarea+40, %eax
        EXPECT %eax, $0x3fff, "fxsave-st0-exponent"
        movzbl fxarea+4, %eax
        EXPECT %eax, $0x80, "fxsave-abridged-tag"
        fninit
        fxrstor fxarea
        fistpl scratch
        EXPECT scratch, $1, "fxrstor-round-trip"
        jmp finish

        .section .data
        .align 16
scratch: .long 0
        .section .bss
        .align 16
fxarea: .space 512

        .include "mb-idt32.inc"

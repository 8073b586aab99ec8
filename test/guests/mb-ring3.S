# Ring 3 and back in long mode: IRETQ to ring 3, a local APIC timer
# interrupt preempting ring 3 (stack switch to RSP0), INT through a DPL-3 gate
# with the TSS RSP0 stack switch, SYSCALL/SYSRET (STAR/LSTAR/SFMASK),
# #GP for privileged instructions and DPL-0 gates, #PF error codes with U=1.
# User code records what it saw in memory; the kernel checks it afterwards.
        .include "mb-common32.inc"
        .include "mb-common64.inc"
        MULTIBOOT_HEADER
        .set IDT64_CS, 0x10
        .set KDATA, 0x18
        .set UDATA, 0x2b
        .set UCODE64, 0x33
        .set TSS_SEL, 0x38
        .set TP_NP, 0x1f0000
        .set TP_SUP, 0x1f5000

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        # Switch to the long-mode GDT while still in protected mode.
        lgdt gdt64_ptr
        ljmp $0x08, $1f
1:      mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        jmp enter_long

        .code64
long_entry:
        mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        call setup_idt64
        SAY64 "PASS ring0-long-mode"

        # TSS descriptor (base is only known at link time: build it here), RSP0, LTR.
        lea tss64(%rip), %rax
        mov %rax, %rdx
        shl $16, %rax
        mov $0xffffff0000, %rcx
        and %rcx, %rax
        or $103, %rax
        mov $0x89, %rcx
        shl $40, %rcx
        or %rcx, %rax
        mov %rdx, %rcx
        shr $24, %rcx
        and $0xff, %rcx
        shl $56, %rcx
        or %rcx, %rax
        mov %rax, gdt64 + TSS_SEL(%rip)
        shr $32, %rdx
        mov %rdx, gdt64 + TSS_SEL + 8(%rip)
        lea kstack_top(%rip), %rax
        mov %rax, tss64 + 4(%rip)
        movw $104, tss64 + 0x66(%rip)
        mov $TSS_SEL, %ax
        ltr %ax

        # Gate 0x80: DPL 3. Gate 0x82: DPL 3, straight to user_done. 0x81 stays DPL 0.
        mov $0x80, %ecx
        mov $3, %eax
        call set_gate64_dpl
        mov $0x82, %ecx
        lea user_done(%rip), %rax
        call set_gate64_handler
        mov $0x82, %ecx
        mov $3, %eax
        call set_gate64_dpl

        # SYSCALL: STAR (kernel CS 0x10, user base 0x20 -> SS 0x2b, CS 0x33), LSTAR, SFMASK = DF.
        mov $0xc0000081, %ecx
        xor %eax, %eax
        mov $0x00200010, %edx
        wrmsr
        mov $0xc0000082, %ecx
        lea syscall_entry(%rip), %rax
        mov %rax, %rdx
        shr $32, %rdx
        wrmsr
        mov $0xc0000084, %ecx
        mov $0x400, %eax
        xor %edx, %edx
        wrmsr

        # A supervisor-only page and a not-present page.
        movq $(TP_SUP | 3), pt64 + (TP_SUP >> 12) * 8(%rip)
        movq $0, pt64 + (TP_NP >> 12) * 8(%rip)
        mov %cr3, %rax
        mov %rax, %cr3

        # Map the local APIC (2 MiB page, uncached) and arm a one-shot timer:
        # it fires once ring 3 runs with IF=1, so the interrupt arrives at CPL 3.
        lea pd_apic(%rip), %rax
        or $3, %rax
        mov %rax, pdpt64 + 3 * 8(%rip)
        mov $(0xfee00000 | 0x9b), %eax
        mov %rax, pd_apic + 503 * 8(%rip)
        mov %cr3, %rax
        mov %rax, %cr3
        lea tick_hook(%rip), %rax
        mov %rax, irq_hook64(%rip)
        mov $0xfee00000, %rbx
        movl $0x1ff, 0xf0(%rbx)
        movl $0xb, 0x3e0(%rbx)
        movl $0x40, 0x320(%rbx)
        movl $0x20000, 0x380(%rbx)

        mov %rsp, kernel_rsp(%rip)
        push $UDATA
        lea ustack_top(%rip), %rax
        push %rax
        push $0x202                          # IF=1 in ring 3
        push $UCODE64
        lea user_entry(%rip), %rax
        push %rax
        iretq

# ---------------- ring 3 ----------------
user_entry:
        mov %cs, %eax
        mov %eax, r_cs(%rip)
        mov %ss, %eax
        mov %eax, r_ss(%rip)

        # Wait (bounded) for the APIC timer interrupt to preempt ring 3.
        mov $20000000, %ecx
1:      cmpl $0, tick_seen(%rip)
        jne 2f
        pause
        loop 1b
2:

        # INT 0x80 through the DPL-3 gate: the CPU switches to TSS.RSP0.
        int $0x80
        mov last_vector(%rip), %eax
        mov %eax, r_int_vec(%rip)
        mov last_cs(%rip), %eax
        mov %eax, r_int_cs(%rip)
        mov last_rsp(%rip), %rax
        mov %rax, r_int_rsp(%rip)

        # SYSCALL with DF set: the kernel must see DF masked; SYSRET restores it.
        std
        syscall
syscall_return:
        pushfq
        pop %rax
        mov %rax, r_after_sysret_flags(%rip)
        cld
        mov %cs, %eax
        mov %eax, r_after_sysret_cs(%rip)
        mov %ss, %eax
        mov %eax, r_after_sysret_ss(%rip)

        # CLI at CPL 3 with IOPL 0: #GP(0).
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        cli
1:      mov last_vector(%rip), %eax
        mov %eax, r_cli_vec(%rip)
        mov last_error(%rip), %eax
        mov %eax, r_cli_err(%rip)
        mov last_cs(%rip), %eax
        mov %eax, r_cli_cs(%rip)

        # IN at CPL 3: #GP(0).
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        in $0x80, %al
1:      mov last_vector(%rip), %eax
        mov %eax, r_in_vec(%rip)

        # INT through a DPL-0 gate: #GP(vector*8+2).
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        int $0x81
1:      mov last_vector(%rip), %eax
        mov %eax, r_int81_vec(%rip)
        mov last_error(%rip), %eax
        mov %eax, r_int81_err(%rip)

        # Supervisor page from user mode: #PF with U=1 (read 5, write 7).
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        mov TP_SUP + 0x10, %eax
1:      mov last_error(%rip), %eax
        mov %eax, r_pf_read_err(%rip)
        mov last_cr2q(%rip), %rax
        mov %rax, r_pf_read_cr2(%rip)
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        movl $1, TP_SUP + 0x20
1:      mov last_error(%rip), %eax
        mov %eax, r_pf_write_err(%rip)
        lea 1f(%rip), %rax
        mov %rax, resume_rip(%rip)
        mov TP_NP, %eax
1:      mov last_error(%rip), %eax
        mov %eax, r_pf_np_err(%rip)

        int $0x82                            # back to the kernel for good

# ---------------- ring 0 again ----------------
# tick_hook: rax = vector. Record where the timer interrupt found the CPU, EOI.
tick_hook:
        cmp $0x40, %eax
        jne 1f
        mov last_cs(%rip), %eax
        mov %eax, tick_cs(%rip)
        mov last_rsp(%rip), %rax
        mov %rax, tick_rsp(%rip)
        movl $1, tick_seen(%rip)
        mov $0xfee00000, %rax
        movl $0, 0xb0(%rax)
1:      ret

syscall_entry:
        mov %rcx, r_sys_rcx(%rip)
        mov %r11, r_sys_r11(%rip)
        mov %cs, %eax
        mov %eax, r_sys_cs(%rip)
        pushfq
        pop %rax
        mov %rax, r_sys_kflags(%rip)
        sysretq

user_done:
        mov kernel_rsp(%rip), %rsp
        mov %cs, %eax
        EXPECTL %eax, $IDT64_CS, "back-in-ring0-via-dpl3-gate"
        EXPECTL tick_seen(%rip), $1, "ring3-apic-timer-interrupt"
        EXPECTL tick_cs(%rip), $UCODE64, "ring3-interrupt-saved-user-cs"
        lea kstack_top - 40(%rip), %rdx
        EXPECT64 tick_rsp(%rip), %rdx, "ring3-interrupt-stack-switch-to-tss-rsp0"
        EXPECTL r_cs(%rip), $UCODE64, "iretq-to-ring3-cs"
        EXPECTL r_ss(%rip), $UDATA, "iretq-to-ring3-ss"
        EXPECTL r_int_vec(%rip), $0x80, "ring3-int80-dpl3-gate"
        EXPECTL r_int_cs(%rip), $UCODE64, "ring3-int80-saved-cs"
        lea kstack_top - 40(%rip), %rdx
        EXPECT64 r_int_rsp(%rip), %rdx, "ring3-int80-stack-switch-to-tss-rsp0"
        lea syscall_return(%rip), %rdx
        EXPECT64 r_sys_rcx(%rip), %rdx, "syscall-rcx-is-return-rip"
        mov r_sys_r11(%rip), %rax
        and $0x400, %eax
        EXPECTL %eax, $0x400, "syscall-r11-holds-user-rflags"
        EXPECTL r_sys_cs(%rip), $IDT64_CS, "syscall-kernel-cs-from-star"
        mov r_sys_kflags(%rip), %rax
        and $0x400, %eax
        EXPECTL %eax, $0, "syscall-sfmask-cleared-df"
        mov r_after_sysret_flags(%rip), %rax
        and $0x400, %eax
        EXPECTL %eax, $0x400, "sysret-restored-rflags"
        EXPECTL r_after_sysret_cs(%rip), $UCODE64, "sysret-cs"
        EXPECTL r_after_sysret_ss(%rip), $UDATA, "sysret-ss"
        EXPECTL r_cli_vec(%rip), $13, "ring3-cli-gp"
        EXPECTL r_cli_err(%rip), $0, "ring3-cli-gp-error"
        EXPECTL r_cli_cs(%rip), $UCODE64, "ring3-cli-gp-saved-cs"
        EXPECTL r_in_vec(%rip), $13, "ring3-in-gp"
        EXPECTL r_int81_vec(%rip), $13, "ring3-int-dpl0-gate-gp"
        # SDM: error code = vector << 3 | IDT (0x40a). QEMU 7.2 TCG, the
        # reference, reports vector * 16 + 2 in long mode; accept both.
        mov r_int81_err(%rip), %eax
        cmp $0x81*16+2, %eax
        jne 1f
        mov $0x81*8+2, %eax
1:      EXPECTL %eax, $0x81*8+2, "ring3-int-dpl0-gate-error"
        EXPECTL r_pf_read_err(%rip), $5, "ring3-pf-supervisor-read-error"
        EXPECT64 r_pf_read_cr2(%rip), $TP_SUP+0x10, "ring3-pf-cr2"
        EXPECTL r_pf_write_err(%rip), $7, "ring3-pf-supervisor-write-error"
        EXPECTL r_pf_np_err(%rip), $4, "ring3-pf-not-present-error"
        jmp finish64

# set_gate64_handler: ecx = vector, rax = handler (keeps type/DPL bits as they are).
set_gate64_handler:
        shl $4, %ecx
        lea idt64(%rip), %rdx
        mov %ax, (%rdx,%rcx)
        mov %eax, %esi
        shr $16, %esi
        mov %si, 6(%rdx,%rcx)
        shr $32, %rax
        mov %eax, 8(%rdx,%rcx)
        ret

        .section .data
        .align 16
gdt64:  .quad 0
        .quad 0x00cf9a000000ffff            # 0x08 code32
        .quad 0x00af9a000000ffff            # 0x10 kernel code64
        .quad 0x00cf92000000ffff            # 0x18 kernel data
        .quad 0x00cffa000000ffff            # 0x20 user code32 (SYSRET base)
        .quad 0x00cff2000000ffff            # 0x28 user data
        .quad 0x00affa000000ffff            # 0x30 user code64
        .quad 0, 0                          # 0x38 TSS (built at run time)
gdt64_end:
gdt64_ptr: .word gdt64_end - gdt64 - 1
        .quad gdt64
        .align 8
kernel_rsp: .quad 0
r_cs: .long 0
r_ss: .long 0
r_int_vec: .long 0
r_int_cs: .long 0
r_int_rsp: .quad 0
r_sys_rcx: .quad 0
r_sys_r11: .quad 0
r_sys_cs: .long 0
r_sys_kflags: .quad 0
r_after_sysret_flags: .quad 0
r_after_sysret_cs: .long 0
r_after_sysret_ss: .long 0
r_cli_vec: .long 0
r_cli_err: .long 0
r_cli_cs: .long 0
r_in_vec: .long 0
r_int81_vec: .long 0
r_int81_err: .long 0
r_pf_read_err: .long 0
r_pf_read_cr2: .quad 0
r_pf_write_err: .long 0
r_pf_np_err: .long 0
tick_seen: .long 0
tick_cs: .long 0
tick_rsp: .quad 0

        .section .bss
        .align 4096
pd_apic: .space 4096
tss64:  .space 128
        .align 16
        .space 8192
kstack_top:
        .space 8192
ustack_top:

        .include "mb-idt32.inc"
        .include "mb-long.inc"

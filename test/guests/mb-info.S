# Multiboot v1 guest that checks what the loader hands over, using no
# interrupts (so it also runs under nested KVM without vmx/svm, whose
# emulator cannot IRET in protected mode): EAX holds the boot magic, the
# info structure has the command line and exactly one module (the initrd),
# and both are printed on COM1. Exits through isa-debug-exit: 0 -> status 1
# when every check passed, 1 -> status 3 otherwise.
        .code32
        .section .text
        .globl _start
        .align 4
mb_header:
        .long 0x1BADB002
        .long 0x00000003                 # page-align modules, want memory info
        .long -(0x1BADB002 + 0x00000003)
_start:
        mov $stack_top, %esp
        cmp $0x2BADB002, %eax
        jne fail
        mov %ebx, %ebp                   # the info structure
        testl $0x4, (%ebp)               # flags: cmdline present
        jz fail
        mov $cmdline_label, %esi
        call puts
        mov 16(%ebp), %esi
        call puts
        call newline
        testl $0x8, (%ebp)               # flags: modules present
        jz fail
        cmpl $1, 20(%ebp)                # mods_count
        jne fail
        mov 24(%ebp), %ebx               # mods_addr -> {mod_start, mod_end, string, reserved}
        mov (%ebx), %esi
        mov 4(%ebx), %ecx
        sub %esi, %ecx
        testl $0xfff, (%ebx)             # page aligned, as flag bit 0 asked
        jnz fail
        push %esi
        mov $module_label, %esi
        call puts
        pop %esi
        mov $0x3f8, %dx
        rep outsb                        # the module's bytes, verbatim
        mov $0xf4, %dx
        mov $0, %al
        out %al, %dx
fail:
        mov $0xf4, %dx
        mov $1, %al
        out %al, %dx
        hlt

# puts: print the NUL-terminated string at ESI on COM1.
puts:
        mov $0x3f8, %dx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      ret

newline:
        mov $0x3f8, %dx
        mov $0x0a, %al
        out %al, %dx
        ret

cmdline_label: .asciz "cmdline: "
module_label:  .asciz "module: "
        .align 16
        .skip 4096
stack_top:

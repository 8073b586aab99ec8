# Benchmark guest for scripts/bench/cpu: a Multiboot (v1) kernel that runs one
# loop ITERS times and exits through isa-debug-exit (port 0xf4), so QEMU TCG
# and tsvisor run the same bytes. LOOP selects the loop: 0 integer, 1 memory.
# Instructions per iteration: INT_LOOP_INSNS / MEM_LOOP_INSNS (the script
# multiplies by them).
        .section .multiboot, "a"
        .balign 4
        .long 0x1BADB002, 0x00000003, -(0x1BADB002 + 3)

        .section .text
        .code32
        .globl _start
_start:
        mov $stack_top, %esp
        mov $ITERS, %ecx
        xor %eax, %eax
        mov $0x12345, %ebx
        xor %esi, %esi
.if LOOP == 0
        # integer loop: 4 instructions
1:      add %ebx, %eax
        xor %eax, %ebx
        dec %ecx
        jnz 1b
.else
        # memory loop: 7 instructions, a 64 KiB array read and written
2:      mov buffer(,%esi,4), %eax
        add %ebx, %eax
        mov %eax, buffer(,%esi,4)
        inc %esi
        and $0x3fff, %esi
        dec %ecx
        jnz 2b
.endif
        mov $0xf4, %dx
        xor %eax, %eax
        out %eax, %dx
        hlt
        jmp .

        .section .bss
        .balign 4096
buffer: .skip 65536
        .skip 4096
stack_top:

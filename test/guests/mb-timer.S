# Timer interrupts in 32-bit protected mode: the PIT (IRQ0) through the
# 8259 PIC remapped to vector 0x20, then the local APIC timer in one-shot
# mode (vector 0x40), each acknowledged with EOI.
        .include "mb-common32.inc"
        MULTIBOOT_HEADER
        .set LAPIC, 0xfee00000

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        movl $timer_hook, irq_hook

        # 8259: ICW1-4, master at 0x20, slave at 0x28, only IRQ0 unmasked.
        mov $0x11, %al
        out %al, $0x20
        out %al, $0xa0
        mov $0x20, %al
        out %al, $0x21
        mov $0x28, %al
        out %al, $0xa1
        mov $0x04, %al
        out %al, $0x21
        mov $0x02, %al
        out %al, $0xa1
        mov $0x01, %al
        out %al, $0x21
        out %al, $0xa1
        mov $0xfe, %al
        out %al, $0x21
        mov $0xff, %al
        out %al, $0xa1
        in $0x21, %al
        movzbl %al, %eax
        EXPECT %eax, $0xfe, "pic-imr-readback"

        # PIT channel 0, mode 2, divisor 11932 (100 Hz).
        mov $0x34, %al
        out %al, $0x43
        mov $(11932 & 0xff), %al
        out %al, $0x40
        mov $(11932 >> 8), %al
        out %al, $0x40

        sti
1:      hlt
        cmpl $3, pit_ticks
        jb 1b
        cli
        EXPECT last_vector, $0x20, "pit-irq0-vector-0x20"
        EXPECT other_irqs, $0, "pit-no-other-vectors"
        # ISR is empty after the EOIs (OCW3: read ISR).
        mov $0x0b, %al
        out %al, $0x20
        in $0x20, %al
        movzbl %al, %eax
        EXPECT %eax, $0, "pic-isr-clear-after-eoi"
        mov $0xff, %al                      # mask the PIC again
        out %al, $0x21

        # Local APIC: base MSR, ID, enable, one-shot timer.
        mov $0x1b, %ecx
        rdmsr
        and $0xfffff800, %eax
        EXPECT %eax, $0xfee00800, "apic-base-msr-enabled"
        mov LAPIC + 0x20, %eax
        shr $24, %eax
        EXPECT %eax, $0, "apic-bsp-id-0"
        movl $0x1ff, LAPIC + 0xf0           # software enable, spurious vector 0xff
        movl $0x3, LAPIC + 0x3e0            # divide by 16
        movl $0x40, LAPIC + 0x320           # one-shot, vector 0x40, unmasked
        movl $0x20000, LAPIC + 0x380        # initial count
        sti
1:      hlt
        cmpl $1, apic_ticks
        jb 1b
        EXPECT last_vector, $0x40, "apic-timer-vector-0x40"
        mov LAPIC + 0x390, %eax
        EXPECT %eax, $0, "apic-one-shot-current-count-0"
        # Wait a while with interrupts on: one-shot means no second interrupt.
        mov $200000, %ecx
2:      pause
        loop 2b
        cli
        EXPECT apic_ticks, $1, "apic-one-shot-fired-once"
        EXPECT other_irqs, $0, "apic-no-other-vectors"
        jmp finish

# timer_hook: eax = vector. Count and EOI.
timer_hook:
        cmp $0x20, %eax
        jne 1f
        incl pit_ticks
        push %eax
        mov $0x20, %al
        out %al, $0x20
        pop %eax
        ret
1:      cmp $0x40, %eax
        jne 2f
        incl apic_ticks
        movl $0, LAPIC + 0xb0
        ret
2:      cmp $0xff, %eax                     # spurious: no EOI
        je 3f
        incl other_irqs
3:      ret

        .section .data
pit_ticks: .long 0
apic_ticks: .long 0
other_irqs: .long 0

        .include "mb-idt32.inc"

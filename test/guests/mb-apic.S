# Interrupt controllers beyond the timer basics: local APIC self-IPI, TPR
# holding back a lower-priority vector (visible in IRR) until lowered,
# ISR/EOI, the periodic APIC timer, and the IOAPIC routing the PIT (ISA IRQ0,
# GSI 2 as on PC chipsets) to a vector of our choice with the 8259 masked.
        .include "mb-common32.inc"
        MULTIBOOT_HEADER
        .set LAPIC, 0xfee00000
        .set IOAPIC, 0xfec00000

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        movl $apic_hook, irq_hook
        mov $0xff, %al                       # 8259s fully masked: only APIC paths deliver
        out %al, $0x21
        out %al, $0xa1
        movl $0x1ff, LAPIC + 0xf0            # software enable, spurious vector 0xff
        movl $0, LAPIC + 0x80                # TPR 0

        # Self-IPI (ICR shorthand "self"), fixed delivery, vector 0x50.
        sti
        movl $0x00040050, LAPIC + 0x300
        mov $10000, %ecx
1:      cmpl $0, hits_50
        jne 2f
        pause
        loop 1b
2:      EXPECT hits_50, $1, "apic-self-ipi-delivered"
        EXPECT last_vector, $0x50, "apic-self-ipi-vector"

        # TPR 0x60 holds back vector 0x50 (class 5): pending in IRR, not delivered.
        movl $0x60, LAPIC + 0x80
        movl $0x00040050, LAPIC + 0x300
        mov $20000, %ecx
1:      pause
        loop 1b
        EXPECT hits_50, $1, "apic-tpr-blocks-lower-class"
        mov LAPIC + 0x220, %eax              # IRR bits 64-95
        and $(1 << (0x50 - 64)), %eax
        EXPECT %eax, $(1<<(0x50-64)), "apic-irr-shows-pending-vector"
        movl $0, LAPIC + 0x80                # lowering TPR lets it in
        mov $10000, %ecx
1:      cmpl $2, hits_50
        jae 2f
        pause
        loop 1b
2:      EXPECT hits_50, $2, "apic-tpr-lowered-delivers"
        mov LAPIC + 0x120, %eax              # ISR bits 64-95: empty after EOI
        and $(1 << (0x50 - 64)), %eax
        EXPECT %eax, $0, "apic-isr-clear-after-eoi"

        # A higher vector arriving inside a lower one's handler nests (the hook sends 0x60 from 0x58).
        movl $1, nest_test
        movl $0x00040058, LAPIC + 0x300
        mov $10000, %ecx
1:      cmpl $0, nest_done
        jne 2f
        pause
        loop 1b
2:      EXPECT nest_seen_inside, $1, "apic-higher-vector-nests-inside-handler"

        # Periodic timer: vector 0x41, three ticks, then masked.
        movl $0xb, LAPIC + 0x3e0             # divide by 1
        movl $0x20041, LAPIC + 0x320         # periodic
        movl $0x40000, LAPIC + 0x380
1:      hlt
        cmpl $3, hits_41
        jb 1b
        mov LAPIC + 0x390, %ebx              # still counting: periodic reloads
        movl $0x10041, LAPIC + 0x320         # mask
        mov hits_41, %eax
        cmp $3, %eax
        setae %al
        movzbl %al, %eax
        EXPECT %eax, $1, "apic-periodic-timer-three-ticks"
        test %ebx, %ebx
        setnz %al
        movzbl %al, %eax
        EXPECT %eax, $1, "apic-periodic-current-count-reloaded"
        movl $0, LAPIC + 0x380               # stop it

        # IOAPIC: version register, then PIT (GSI 2) -> vector 0x30, edge, physical APIC 0.
        movl $0x01, IOAPIC
        mov IOAPIC + 0x10, %eax
        shr $16, %eax
        and $0xff, %eax
        cmp $23, %eax
        setae %al
        movzbl %al, %eax
        EXPECT %eax, $1, "ioapic-at-least-24-pins"
        movl $0x10 + 2 * 2 + 1, IOAPIC       # redirection entry 2, high dword: destination APIC 0
        movl $0, IOAPIC + 0x10
        movl $0x10 + 2 * 2, IOAPIC           # low dword: vector 0x30, fixed, edge, unmasked
        movl $0x30, IOAPIC + 0x10
        movl $0x10 + 2 * 2, IOAPIC
        mov IOAPIC + 0x10, %eax
        and $0x100ff, %eax
        EXPECT %eax, $0x30, "ioapic-redirection-entry-readback"
        mov $0x34, %al                       # PIT channel 0, mode 2, 100 Hz
        out %al, $0x43
        mov $(11932 & 0xff), %al
        out %al, $0x40
        mov $(11932 >> 8), %al
        out %al, $0x40
1:      hlt
        cmpl $3, hits_30
        jb 1b
        cli
        EXPECT last_vector, $0x30, "ioapic-pit-gsi2-vector-0x30"
        EXPECT other_irqs, $0, "apic-no-unexpected-vectors"
        jmp finish

# apic_hook: eax = vector. Count, EOI (the spurious vector gets none).
apic_hook:
        cmp $0xff, %eax
        je 9f
        cmp $0x50, %eax
        jne 1f
        incl hits_50
        jmp 8f
1:      cmp $0x41, %eax
        jne 2f
        incl hits_41
        jmp 8f
2:      cmp $0x30, %eax
        jne 3f
        incl hits_30
        jmp 8f
3:      cmp $0x58, %eax
        jne 4f
        # Inside 0x58: enable interrupts and send 0x60 to ourselves; it must arrive before we return.
        movl $0x00040060, LAPIC + 0x300
        sti
        mov $10000, %ecx
5:      cmpl $0, hits_60
        jne 6f
        pause
        loop 5b
6:      cli
        mov hits_60, %eax
        mov %eax, nest_seen_inside
        movl $1, nest_done
        jmp 8f
4:      cmp $0x60, %eax
        jne 7f
        incl hits_60
        jmp 8f
7:      incl other_irqs
8:      movl $0, LAPIC + 0xb0
9:      ret

        .section .data
hits_50: .long 0
hits_41: .long 0
hits_30: .long 0
hits_60: .long 0
nest_test: .long 0
nest_done: .long 0
nest_seen_inside: .long 0
other_irqs: .long 0

        .include "mb-idt32.inc"

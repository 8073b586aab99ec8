# Paging in 32-bit protected mode: classic 2-level paging (4 KiB + 4 MiB PSE
# pages), then PAE (4 KiB + 2 MiB pages, NX, reserved bits). Checks #PF
# error codes and CR2, WP, accessed/dirty bits and INVLPG.
        .include "mb-common32.inc"
        MULTIBOOT_HEADER

        .set TP_NP,    0x1f0000      # not present
        .set TP_RO,    0x1f1000      # read-only
        .set TP_NX,    0x1f2000      # no-execute (PAE)
        .set TP_ALIAS, 0x1f3000      # remapped to other frames
        .set TP_RSVD,  0x1f4000      # reserved bit set (PAE)
        .set FRAME_A,  0x1f8000      # physical frames the alias points to
        .set FRAME_B,  0x1f9000

        .globl _start
_start:
        mov $stack32_top, %esp               # Multiboot leaves ESP undefined
        call setup32
        movl $0x11111111, FRAME_A
        movl $0x22222222, FRAME_B

        # ---- 2-level 32-bit paging ----
        # PT for 0-4 MiB: identity, present + writable.
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        or $3, %eax
        mov %eax, pt32(,%ecx,4)
        inc %ecx
        cmp $1024, %ecx
        jne 1b
        # PD: entry 0 -> pt32, 1..31 -> 4 MiB pages (PS), rest not present.
        mov $pt32, %eax
        or $3, %eax
        mov %eax, pd32
        mov $1, %ecx
2:      mov %ecx, %eax
        shl $22, %eax
        or $0x83, %eax
        mov %eax, pd32(,%ecx,4)
        inc %ecx
        cmp $32, %ecx
        jne 2b
        movl $0, pt32 + (TP_NP >> 12) * 4
        movl $(TP_RO | 1), pt32 + (TP_RO >> 12) * 4
        movl $(FRAME_A | 3), pt32 + (TP_ALIAS >> 12) * 4

        mov $pd32, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x10, %eax                      # PSE
        mov %eax, %cr4
        mov %cr0, %eax
        or $0x80010000, %eax                # PG | WP
        mov %eax, %cr0
        EXPECT %eax, %eax, "paging32: enabled"

        movl $1f, resume_eip
        mov TP_NP + 0x10, %eax
1:      EXPECT last_vector, $14, "paging32-pf-read-not-present"
        EXPECT last_error, $0, "paging32-pf-read-not-present-error"
        EXPECT last_cr2, $TP_NP+0x10, "paging32-pf-cr2"

        movl $1f, resume_eip
        movl $5, TP_NP + 0x24
1:      EXPECT last_error, $2, "paging32-pf-write-not-present-error"
        EXPECT last_cr2, $TP_NP+0x24, "paging32-pf-write-cr2"

        movl $1f, resume_eip
        movl $5, TP_RO + 8
1:      EXPECT last_error, $3, "paging32-pf-write-read-only-wp1"

        # WP=0: supervisor writes ignore R/W.
        mov %cr0, %eax
        and $~0x10000, %eax
        mov %eax, %cr0
        movl $0, last_vector
        movl $0x77, TP_RO + 8
        EXPECT last_vector, $0, "paging32-wp0-supervisor-write-allowed"
        mov %cr0, %eax
        or $0x10000, %eax
        mov %eax, %cr0

        # Not-present PDE (above 128 MiB).
        movl $1f, resume_eip
        mov 0x80000004, %eax
1:      EXPECT last_cr2, $0x80000004, "paging32-pf-pde-not-present-cr2"

        # Accessed and dirty bits.
        andl $~0x60, pt32 + (TP_ALIAS >> 12) * 4
        invlpg TP_ALIAS
        mov TP_ALIAS, %eax
        EXPECT %eax, $0x11111111, "paging32-alias-reads-frame-a"
        mov pt32 + (TP_ALIAS >> 12) * 4, %eax
        and $0x60, %eax
        EXPECT %eax, $0x20, "paging32-accessed-set-dirty-clear"
        movl $0x33333333, TP_ALIAS + 4
        mov pt32 + (TP_ALIAS >> 12) * 4, %eax
        and $0x60, %eax
        EXPECT %eax, $0x60, "paging32-dirty-set-by-write"

        # Remap + INVLPG.
        movl $(FRAME_B | 3), pt32 + (TP_ALIAS >> 12) * 4
        invlpg TP_ALIAS
        mov TP_ALIAS, %eax
        EXPECT %eax, $0x22222222, "paging32-invlpg-remap"

        # 4 MiB page: VA 0x01000000 maps PA 0x01000000.
        movl $0xabcdef01, 0x01000040
        mov 0x01000040, %eax
        EXPECT %eax, $0xabcdef01, "paging32-pse-4mib-page"

        # ---- PAE ----
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0

        # PT (0-2 MiB identity, 4 KiB), PD0 (entry 0 -> PT, 1..63 2 MiB pages), PDPT.
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        or $3, %eax
        mov %eax, ptpae(,%ecx,8)
        movl $0, ptpae+4(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        mov $ptpae, %eax
        or $3, %eax
        mov %eax, pdpae
        mov $1, %ecx
2:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax
        mov %eax, pdpae(,%ecx,8)
        inc %ecx
        cmp $64, %ecx
        jne 2b
        mov $pdpae, %eax
        or $1, %eax
        mov %eax, pdpt
        # PDPT[1] (VA 1 GiB) -> a PD whose first 2 MiB page maps PA 0.
        movl $0x83, pdpae_hi
        mov $pdpae_hi, %eax
        or $1, %eax
        mov %eax, pdpt + 8

        movl $0, ptpae + (TP_NP >> 12) * 8
        movl $(TP_RO | 1), ptpae + (TP_RO >> 12) * 8
        movl $(TP_NX | 3), ptpae + (TP_NX >> 12) * 8
        movl $0x80000000, ptpae + (TP_NX >> 12) * 8 + 4
        movl $(FRAME_A | 3), ptpae + (TP_ALIAS >> 12) * 8
        movb $0xc3, TP_NX                   # a RET to jump to

        # EFER.NXE, CR4.PAE, CR3, CR0.PG.
        mov $0xc0000080, %ecx
        rdmsr
        or $0x800, %eax
        wrmsr
        mov %cr4, %eax
        or $0x20, %eax
        mov %eax, %cr4
        mov $pdpt, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80010000, %eax
        mov %eax, %cr0
        EXPECT %eax, %eax, "pae: enabled"

        movl $1f, resume_eip
        mov TP_NP + 0x18, %eax
1:      EXPECT last_vector, $14, "pae-pf-read-not-present"
        EXPECT last_error, $0, "pae-pf-read-not-present-error"
        EXPECT last_cr2, $TP_NP+0x18, "pae-pf-cr2"

        movl $1f, resume_eip
        movl $1, TP_RO
1:      EXPECT last_error, $3, "pae-pf-write-read-only"

        movl $1f, resume_eip
        mov $TP_NX, %eax
        jmp *%eax
1:      EXPECT last_error, $0x11, "pae-pf-nx-fetch-error"
        EXPECT last_cr2, $TP_NX, "pae-pf-nx-fetch-cr2"
        EXPECT last_eip, $TP_NX, "pae-pf-nx-saved-eip"
        mov TP_NX, %al                      # reading an NX page is fine
        movzbl %al, %eax
        EXPECT %eax, $0xc3, "pae-nx-page-readable"

        # Reserved bit: the lowest physical-address bit above MAXPHYADDR.
        mov $0x80000008, %eax
        cpuid
        and $0xff, %eax
        cmp $52, %eax
        jae 3f
        sub $32, %eax
        mov %eax, %ecx
        mov $1, %edx
        shl %cl, %edx
        movl $(FRAME_A | 3), ptpae + (TP_RSVD >> 12) * 8
        mov %edx, ptpae + (TP_RSVD >> 12) * 8 + 4
        movl $1f, resume_eip
        mov TP_RSVD, %eax
1:      # The SDM gives P|RSVD = 9; QEMU TCG (the reference) reports 8. Check RSVD, not W/U.
        mov last_error, %eax
        and $0xe, %eax
        EXPECT %eax, $8, "pae-pf-reserved-bit-error"
        EXPECT last_cr2, $TP_RSVD, "pae-pf-reserved-bit-cr2"
3:
        # 2 MiB page through PDPT[1]: VA 0x40000000 + x reads PA x.
        movl $0x5a5a1234, FRAME_B + 0x40
        mov 0x40000000 + FRAME_B + 0x40, %eax
        EXPECT %eax, $0x5a5a1234, "pae-pdpt1-2mib-page"

        mov TP_ALIAS, %eax
        EXPECT %eax, $0x11111111, "pae-4k-mapping"

        jmp finish

        .section .bss
        .align 4096
pd32:   .space 4096
pt32:   .space 4096
pdpae:  .space 4096
pdpae_hi: .space 4096
ptpae:  .space 4096
pdpt:   .space 32

        .include "mb-idt32.inc"

/* enter_long_mode: from 32-bit protected mode, identity-map the first 1 GiB with 2 MiB pages,
   enable PAE and EFER.LME, turn paging on and jump to long_mode_entry (64-bit code). */
        .code32
        .text
        .globl enter_long_mode
enter_long_mode:
        /* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB | P | W | PS */
        mov $pdpt, %eax
        or $3, %eax
        mov %eax, pml4
        mov $pd, %eax
        or $3, %eax
        mov %eax, pdpt
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax
        mov %eax, pd(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jb 1b
        mov %cr4, %eax
        or $0x20, %eax              /* PAE */
        mov %eax, %cr4
        mov $pml4, %eax
        mov %eax, %cr3
        mov $0xC0000080, %ecx       /* EFER */
        rdmsr
        or $0x100, %eax             /* LME */
        wrmsr
        mov %cr0, %eax
        or $0x80000000, %eax        /* PG */
        mov %eax, %cr0
        lgdt gdt64_ptr
        ljmp $0x08, $long_mode_entry

        .data
        .align 8
gdt64:  .quad 0
        .quad 0x00AF9A000000FFFF    /* 0x08 64-bit code */
        .quad 0x00CF92000000FFFF    /* 0x10 data */
gdt64_end:
gdt64_ptr:
        .word gdt64_end - gdt64 - 1
        .long gdt64

        .bss
        .align 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096

/* Protected-mode setup shared by the 32-bit guests: own GDT (ring 0 and ring 3 flat segments,
   a TSS), an IDT whose every vector reports an unexpected interrupt, the 8259A pair remapped to
   vectors 0x20-0x2F and the 8254 channel 0 as a rate generator. */
        .code32
        .text
        .globl gdt_setup, idt_setup, idt_set_gate, pic_remap, pit_start, tss
        .set KERNEL_CS, 0x08
        .set KERNEL_DS, 0x10

gdt_setup:
        /* TSS descriptor base = &tss */
        mov $tss, %eax
        mov %ax, gdt_tss + 2
        shr $16, %eax
        mov %al, gdt_tss + 4
        mov %ah, gdt_tss + 7
        lgdt gdt_ptr
        ljmp $KERNEL_CS, $1f
1:      mov $KERNEL_DS, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs
        mov %ax, %ss
        ret

/* idt_setup: every vector -> unexpected_interrupt, then lidt. */
idt_setup:
        push %ecx
        xor %ecx, %ecx
1:      push $0
        push $unexpected_interrupt
        push %ecx
        call idt_set_gate
        add $12, %esp
        inc %ecx
        cmp $256, %ecx
        jb 1b
        lidt idt_ptr
        pop %ecx
        ret

/* idt_set_gate(vector, handler, dpl): a 32-bit interrupt gate. */
idt_set_gate:
        push %ebp
        mov %esp, %ebp
        push %eax
        push %ebx
        push %edx
        mov 8(%ebp), %ebx
        mov 12(%ebp), %eax
        mov 16(%ebp), %edx
        lea idt(,%ebx,8), %ebx
        mov %ax, (%ebx)
        movw $KERNEL_CS, 2(%ebx)
        shl $13, %edx
        or $0x8e00, %edx
        mov %dx, 4(%ebx)
        shr $16, %eax
        mov %ax, 6(%ebx)
        pop %edx
        pop %ebx
        pop %eax
        pop %ebp
        ret

/* pic_remap: master at 0x20, slave at 0x28, everything masked but IRQ 0. */
pic_remap:
        mov $0x11, %al; out %al, $0x20; out %al, $0xa0   /* ICW1: edge, cascade, ICW4 */
        mov $0x20, %al; out %al, $0x21                   /* ICW2 */
        mov $0x28, %al; out %al, $0xa1
        mov $0x04, %al; out %al, $0x21                   /* ICW3: slave on IRQ 2 */
        mov $0x02, %al; out %al, $0xa1
        mov $0x01, %al; out %al, $0x21; out %al, $0xa1   /* ICW4: 8086 mode */
        mov $0xfe, %al; out %al, $0x21                   /* OCW1: only IRQ 0 */
        mov $0xff, %al; out %al, $0xa1
        ret

/* pit_start: AX = divisor; channel 0, lo/hi, mode 2 (rate generator). */
pit_start:
        push %eax
        mov $0x34, %al
        out %al, $0x43
        pop %eax
        out %al, $0x40
        mov %ah, %al
        out %al, $0x40
        ret

unexpected_interrupt:
        mov $unexpected_msg, %esi
        call puts
        mov $2, %al
        call debug_exit

        .section .rodata
unexpected_msg: .asciz "unexpected interrupt or exception\n"

        .data
        .align 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF    /* 0x08 ring-0 code */
        .quad 0x00CF92000000FFFF    /* 0x10 ring-0 data */
        .quad 0x00CFFA000000FFFF    /* 0x18 ring-3 code (selector 0x1B) */
        .quad 0x00CFF2000000FFFF    /* 0x20 ring-3 data (selector 0x23) */
gdt_tss:
        .quad 0x0000890000000067    /* 0x28 32-bit TSS, base filled in */
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
idt_ptr:
        .word 256 * 8 - 1
        .long idt

        .bss
        .align 8
idt:    .skip 256 * 8
        .align 4
tss:    .skip 104

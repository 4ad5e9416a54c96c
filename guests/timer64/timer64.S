/* timer64: as timer, but in long mode with a 64-bit handler ending in a plain iretq. */
        .code32
        .text
        .globl _start, long_mode_entry, ticks
_start:
        mov $stack_top, %esp
        call serial_init
        call pic_remap
        jmp enter_long_mode

        .code64
long_mode_entry:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $stack_top, %esp           /* zero-extends into RSP; ELF32 objects carry 32-bit relocations only */
        /* IDT: every gate to unexpected64, vector 0x20 to irq0_handler64. */
        xor %rcx, %rcx
1:      lea unexpected64(%rip), %rax
        cmp $0x20, %rcx
        jne 2f
        lea irq0_handler64(%rip), %rax
2:      mov %rcx, %rdx
        shl $4, %rdx
        lea idt64(%rip), %rbx
        add %rdx, %rbx
        mov %ax, (%rbx)
        movw $0x08, 2(%rbx)
        movw $0x8e00, 4(%rbx)
        shr $16, %rax
        mov %ax, 6(%rbx)
        shr $16, %rax
        mov %eax, 8(%rbx)
        movl $0, 12(%rbx)
        inc %rcx
        cmp $256, %rcx
        jb 1b
        lidt idt64_ptr(%rip)
        mov $1193, %ax
        mov %ax, %bx
        mov $0x34, %al
        out %al, $0x43
        mov %bl, %al
        out %al, $0x40
        mov %bh, %al
        out %al, $0x40
        sti
poll:   cmpl $100, ticks(%rip)
        jb poll
        cli
        lea done_msg(%rip), %rsi
        call puts64
        xor %al, %al
        call debug_exit64

irq0_handler64:
        push %rax
        incl ticks(%rip)
        mov $0x20, %al
        out %al, $0x20
        pop %rax
        iretq

unexpected64:
        lea unexpected_msg(%rip), %rsi
        call puts64
        mov $2, %al
        call debug_exit64

        .section .rodata
done_msg:       .asciz "timer64: 100 ticks\n"
unexpected_msg: .asciz "unexpected interrupt or exception\n"

        .data
        .align 8
ticks:  .long 0
idt64_ptr:
        .word 256 * 16 - 1
        .long idt64, 0

        .bss
        .align 16
idt64:  .skip 256 * 16
        .skip 8192
stack_top:

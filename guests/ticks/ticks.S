/* ticks: the timer guest for as long as the command line's n=N says: the 8254 at 1000 Hz drives
   IRQ 0, the handler counts ticks, the main loop polls the count in memory (no VM exit) until N
   (100 when absent), then prints N and exits 0. On the software CPU's virtual clock (10 ns an
   instruction) a tick is about 100,000 instructions, so n= sets a trace's length: `vmreplay bench
   debug` records n=10 (about a million instructions) and n=1000 (about a hundred million). */
        .code32
        .text
        .globl _start, irq0_handler, ticks, poll
_start:
        mov $stack_top, %esp
        mov %ebx, %edi                  /* Multiboot information */
        call serial_init
        mov $100, %ecx
        call cmdline_n
        mov %ecx, limit
        call gdt_setup
        call idt_setup
        push $0
        push $irq0_handler
        push $0x20
        call idt_set_gate
        add $12, %esp
        call pic_remap
        mov $1193, %ax                  /* 1193182 Hz / 1193 = 1000 Hz */
        call pit_start
        sti
poll:   mov ticks, %eax
        cmp limit, %eax
        jb poll
        cli
        mov $done_msg, %esi
        call puts
        mov limit, %eax
        call puthex
        mov $newline, %esi
        call puts
        xor %al, %al
        call debug_exit

irq0_handler:
        push %eax
        incl ticks
        mov $0x20, %al
        out %al, $0x20                  /* non-specific EOI */
        pop %eax
        iret

        .section .rodata
done_msg: .asciz "ticks: 0x"
newline:  .asciz "\n"

        .data
        .align 4
ticks:  .long 0
limit:  .long 0

        .bss
        .align 16
        .skip 8192
stack_top:

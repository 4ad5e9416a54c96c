/* timer: the 8254 at 1000 Hz drives IRQ 0; the handler counts ticks and returns with a plain
   32-bit iret while the main loop polls the counter in memory without any VM exit. */
        .code32
        .text
        .globl _start, irq0_handler, ticks
_start:
        mov $stack_top, %esp
        call serial_init
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
poll:   cmpl $100, ticks                /* no I/O, no hlt: the VMM must force an exit */
        jb poll
        cli
        mov $done_msg, %esi
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
done_msg: .asciz "timer: 100 ticks\n"

        .data
        .align 4
ticks:  .long 0

        .bss
        .align 16
        .skip 8192
stack_top:

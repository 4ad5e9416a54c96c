/* failing-boot entry and the IRQ 0 stub; the rest is C (boot.c). */
        .code32
        .text
        .globl _start, irq0_entry
_start:
        mov $boot_stack_top, %esp
        push %ebx
        call kmain
1:      cli
        hlt
        jmp 1b

/* IRQ 0: call the C handler, acknowledge the PIC, plain iret. */
irq0_entry:
        pusha
        cld
        call timer_interrupt
        mov $0x20, %al
        out %al, $0x20
        popa
        iret

        .bss
        .align 16
        .skip 16384
boot_stack_top:

/* triplefault: loads an empty IDT and executes ud2. #UD cannot be delivered (#GP), nor can the
   #GP (#DF), nor the double fault: the CPU shuts down. vmreplay exits with status 2. */
        .code32
        .text
        .globl _start
_start:
        mov $stack_top, %esp
        call serial_init
        mov $msg, %esi
        call puts
        lidt empty_idt
        ud2

        .section .rodata
msg:    .asciz "triplefault: about to fault with no IDT\n"
empty_idt:
        .word 0
        .long 0

        .bss
        .align 16
        .skip 4096
stack_top:

/* cpu-mix entry: a stack, then the C code (mix.c) with the Multiboot information. */
        .code32
        .text
        .globl _start
_start:
        mov $stack_top, %esp
        push %ebx
        call kmain
1:      cli
        hlt
        jmp 1b

        .bss
        .align 16
        .skip 16384
stack_top:

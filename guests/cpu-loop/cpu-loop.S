/* cpu-loop: the tight integer loop of `vmreplay bench cpu`. Runs `add; dec; jnz` (three
   instructions an iteration) as many times as the command line's n=N says (0 when absent), prints
   the iteration count and the sum, exits 0. The count comes from the command line so that one
   image measures both a long run and QEMU's fixed startup cost (n=0). */
        .code32
        .text
        .globl _start
_start:
        mov $stack_top, %esp
        mov %ebx, %edi                  /* Multiboot information */
        call serial_init
        xor %ecx, %ecx
        call cmdline_n

run:    mov %ecx, %ebx
        xor %eax, %eax
        test %ecx, %ecx
        jz done
loop:   add %ecx, %eax
        dec %ecx
        jnz loop
done:   mov %eax, %edx
        mov $iterations_msg, %esi
        call puts
        mov %ebx, %eax
        call puthex
        mov $sum_msg, %esi
        call puts
        mov %edx, %eax
        call puthex
        mov $newline, %esi
        call puts
        xor %al, %al
        call debug_exit

        .section .rodata
iterations_msg: .asciz "cpu-loop: iterations 0x"
sum_msg:        .asciz " sum 0x"
newline:        .asciz "\n"

        .bss
        .align 16
        .skip 4096
stack_top:

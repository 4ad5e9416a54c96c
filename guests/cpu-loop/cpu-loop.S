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
        testl $4, (%edi)                /* flags bit 2: cmdline valid */
        jz run
        mov 16(%edi), %esi
        mov $' ', %dl                   /* the character before; n= must start a word */
find:   lodsb
        test %al, %al
        jz run
        cmp $'n', %al
        jne next
        cmp $' ', %dl
        jne next
        cmpb $'=', (%esi)
        je digits_start
next:   mov %al, %dl
        jmp find
digits_start:
        inc %esi
digits: movzbl (%esi), %eax
        sub $'0', %eax
        cmp $9, %eax
        ja run
        imul $10, %ecx, %ecx
        add %eax, %ecx
        inc %esi
        jmp digits

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

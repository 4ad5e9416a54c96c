/* hello: greet on COM1, echo the Multiboot command line if there is one, exit 0. */
        .code32
        .text
        .globl _start
_start:
        mov $stack_top, %esp
        mov %ebx, %edi                  /* Multiboot information */
        call serial_init
        mov $greeting, %esi
        call puts
        testl $4, (%edi)                /* flags bit 2: cmdline valid */
        jz 1f
        mov 16(%edi), %ebx
        cmpb $0, (%ebx)
        je 1f
        mov $cmdline_msg, %esi
        call puts
        mov %ebx, %esi
        call puts
        mov $newline, %esi
        call puts
1:      xor %al, %al
        call debug_exit

        .section .rodata
greeting:    .asciz "Hello from vmreplay guest!\n"
cmdline_msg: .asciz "cmdline: "
newline:     .asciz "\n"

        .bss
        .align 16
        .skip 4096
stack_top:

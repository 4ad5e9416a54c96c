/* echo: reads COM1 by polling LSR.DR and echoes each line as "echo: <line>"; a line "quit"
   ends with debug-exit 0. Exercises guest-paced serial input (--serial-in FILE or stdin). */
        .code32
        .text
        .globl _start
_start:
        mov $stack_top, %esp
        call serial_init
line:   mov $prefix, %esi
        mov $buf, %edi
1:      mov $0x3fd, %dx
2:      in %dx, %al
        test $1, %al                    /* data ready */
        jz 2b
        mov $0x3f8, %dx
        in %dx, %al
        cmp $'\n', %al
        je 3f
        stosb
        jmp 1b
3:      movb $0, (%edi)
        cmpl $0x74697571, buf           /* "quit" */
        jne 4f
        cmpb $0, buf + 4
        je done
4:      call puts                       /* "echo: " */
        mov $buf, %esi
        call puts
        mov $newline, %esi
        call puts
        jmp line
done:   mov $bye, %esi
        call puts
        xor %al, %al
        call debug_exit

        .section .rodata
prefix:  .asciz "echo: "
newline: .asciz "\n"
bye:     .asciz "echo: bye\n"

        .bss
buf:    .skip 256
        .align 16
        .skip 4096
stack_top:

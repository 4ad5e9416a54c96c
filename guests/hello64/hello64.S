/* hello64: an ELF64 the VMM enters directly in long mode. */
        .code64
        .text
        .globl _start
_start:
        lea stack_top(%rip), %rsp
        call serial_init64
        lea msg(%rip), %rsi
        call puts64
        xor %al, %al
        call debug_exit64

        .section .rodata
msg:    .asciz "hello64: entered in long mode\n"

        .bss
        .align 16
        .skip 4096
stack_top:

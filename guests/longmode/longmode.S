/* longmode: Multiboot 32-bit entry, switch to 64-bit long mode, greet from 64-bit code. */
        .code32
        .text
        .globl _start, long_mode_entry
_start:
        mov $stack_top, %esp
        call serial_init
        jmp enter_long_mode

        .code64
long_mode_entry:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $stack_top, %esp           /* zero-extends into RSP; ELF32 objects carry 32-bit relocations only */
        lea msg(%rip), %rsi
        call puts64
        xor %al, %al
        call debug_exit64

        .section .rodata
msg:    .asciz "longmode: hello from 64-bit mode\n"

        .bss
        .align 16
        .skip 4096
stack_top:

/* bootsector: a 512-byte real-mode boot sector that greets on COM1 and exits 0. */
        .code16
        .text
        .globl _start
_start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7c00, %sp
        mov $msg, %si
1:      lodsb
        test %al, %al
        jz 2f
        mov %al, %bl
        mov $0x3fd, %dx
3:      in %dx, %al
        test $0x20, %al
        jz 3b
        mov $0x3f8, %dx
        mov %bl, %al
        out %al, %dx
        jmp 1b
2:      xor %al, %al
        out %al, $0xf4
4:      hlt
        jmp 4b
msg:    .asciz "bootsector: real mode\n"
        .org 510
        .word 0xAA55

/* bootsector: a 512-byte real-mode boot sector that greets on COM1 and exits 0. */
        .code16
        .text
        .globl _start
_start:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7c00, %sp
        /* COM1 as a driver would: no interrupts, DLAB, divisor 1 (115200), 8N1, FIFOs, DTR/RTS/OUT2. */
        mov $uart_init, %si
0:      lodsw                           /* AL = register offset, AH = value; 0xff ends */
        cmp $0xff, %al
        je 1f
        mov $0x3f8, %dx
        add %al, %dl
        mov %ah, %al
        out %al, %dx
        jmp 0b
1:      mov $msg, %si
5:      lodsb
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
        jmp 5b
2:      xor %al, %al
        out %al, $0xf4
4:      hlt
        jmp 4b
uart_init:
        .byte 1, 0x00, 3, 0x80, 0, 0x01, 1, 0x00, 3, 0x03, 2, 0xc7, 4, 0x0b, 0xff, 0
msg:    .asciz "bootsector: real mode\n"
        .org 510
        .word 0xAA55

/* hang: a boot sector that says so on COM1, then spins forever with interrupts off, changing
   registers and a counter in RAM on every pass: a hung boot that makes no exit. A recording of
   it is stopped from outside (Ctrl-C), which on the software CPU lands at an instruction count
   that a replay reaches exactly. */
        .code16
        .text
        .globl _start
_start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov $msg, %si
        mov $0x3f8, %dx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      xor %cx, %cx
        xor %bx, %bx
3:      incw 0x500                      /* below the boot sector: not a page of code */
        add %cx, %bx
        inc %cx
        jmp 3b
msg:    .asciz "hang: spinning with interrupts off\n"
        .org 510
        .word 0xAA55

/* 64-bit helpers: COM1 output and the debug-exit port. */
        .code64
        .text
        .globl serial_init64, putc64, puts64, debug_exit64

serial_init64:
        mov $0x3f9, %dx; xor %al, %al; out %al, %dx
        mov $0x3fb, %dx; mov $0x80, %al; out %al, %dx
        mov $0x3f8, %dx; mov $1, %al; out %al, %dx
        mov $0x3f9, %dx; xor %al, %al; out %al, %dx
        mov $0x3fb, %dx; mov $3, %al; out %al, %dx
        mov $0x3fa, %dx; mov $0xc7, %al; out %al, %dx
        mov $0x3fc, %dx; mov $0x0b, %al; out %al, %dx
        ret

putc64:
        push %rdx
        push %rax
        mov $0x3fd, %dx
1:      in %dx, %al
        test $0x20, %al
        jz 1b
        pop %rax
        mov $0x3f8, %dx
        out %al, %dx
        pop %rdx
        ret

/* puts64: RSI = NUL-terminated string. */
puts64:
        push %rsi
        push %rax
1:      lodsb
        test %al, %al
        jz 2f
        call putc64
        jmp 1b
2:      pop %rax
        pop %rsi
        ret

debug_exit64:
        out %al, $0xf4
1:      cli
        hlt
        jmp 1b

/* 32-bit helpers shared by the protected-mode guests: COM1 output and the debug-exit port. */
        .code32
        .text
        .globl serial_init, putc, puts, puthex, debug_exit

/* 115200 8N1, FIFOs on, as a real driver would program a 16550A. */
serial_init:
        mov $0x3f9, %dx; xor %al, %al; out %al, %dx      /* IER: no interrupts */
        mov $0x3fb, %dx; mov $0x80, %al; out %al, %dx    /* LCR: DLAB */
        mov $0x3f8, %dx; mov $1, %al; out %al, %dx       /* DLL = 1 */
        mov $0x3f9, %dx; xor %al, %al; out %al, %dx      /* DLM = 0 */
        mov $0x3fb, %dx; mov $3, %al; out %al, %dx       /* 8N1 */
        mov $0x3fa, %dx; mov $0xc7, %al; out %al, %dx    /* FCR: enable, clear, 14-byte trigger */
        mov $0x3fc, %dx; mov $0x0b, %al; out %al, %dx    /* MCR: DTR, RTS, OUT2 */
        ret

/* putc: AL = character. Waits for THRE (LSR bit 5). */
putc:
        push %edx
        push %eax
        mov $0x3fd, %dx
1:      in %dx, %al
        test $0x20, %al
        jz 1b
        pop %eax
        mov $0x3f8, %dx
        out %al, %dx
        pop %edx
        ret

/* puts: ESI = NUL-terminated string. */
puts:
        push %esi
        push %eax
1:      lodsb
        test %al, %al
        jz 2f
        call putc
        jmp 1b
2:      pop %eax
        pop %esi
        ret

/* puthex: EAX printed as 8 hex digits. */
puthex:
        push %ecx
        push %eax
        push %ebx
        mov %eax, %ebx
        mov $8, %ecx
1:      rol $4, %ebx
        mov %ebx, %eax
        and $0xf, %eax
        mov hexdigits(%eax), %al
        call putc
        loop 1b
        pop %ebx
        pop %eax
        pop %ecx
        ret

/* debug_exit: AL = value; QEMU isa-debug-exit semantics, status (AL<<1)|1. */
debug_exit:
        out %al, $0xf4
1:      cli
        hlt
        jmp 1b

        .section .rodata
hexdigits: .ascii "0123456789abcdef"

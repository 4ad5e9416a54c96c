/* bench-exits: exactly 200,000 port writes (0x80), then debug-exit 0. Real mode, so vmreplay
   and the minimal C KVM loop in kvm-port-loop.c run the same bytes. */
        .code16
        .text
        .globl _start
_start:
        cli
        mov $200000, %ecx
1:      out %al, $0x80
        dec %ecx
        jnz 1b
        xor %al, %al
        out %al, $0xf4
2:      hlt
        jmp 2b
        .org 510
        .word 0xAA55

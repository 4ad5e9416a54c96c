/* unemulated: runs emms at CPL0, which this host's KVM instruction emulator cannot execute and
   vmreplay does not emulate: the VMM must stop with a report naming the instruction. */
        .code32
        .text
        .globl _start
_start:
        mov $stack_top, %esp
        call serial_init
        mov $before, %esi
        call puts
        emms
        mov $after, %esi
        call puts
        xor %al, %al
        call debug_exit

        .section .rodata
before: .asciz "unemulated: about to run emms\n"
after:  .asciz "unemulated: survived\n"

        .bss
        .align 16
        .skip 4096
stack_top:

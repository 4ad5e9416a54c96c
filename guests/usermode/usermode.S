/* usermode: a privilege-changing iret from ring 0 to ring 3 (IOPL 3, so ring 3 may use the
   serial port), which this host's KVM cannot execute and vmreplay emulates. */
        .code32
        .text
        .globl _start, user_entry
_start:
        mov $stack_top, %esp
        call serial_init
        call gdt_setup
        call idt_setup
        movl $stack_top, tss + 4        /* esp0 */
        movl $0x10, tss + 8             /* ss0 */
        mov $0x28, %ax
        ltr %ax
        push $0x23                      /* ss: ring-3 data */
        push $user_stack_top            /* esp */
        push $0x3002                    /* eflags: IOPL 3, IF clear */
        push $0x1b                      /* cs: ring-3 code */
        push $user_entry                /* eip */
        iret

user_entry:
        mov $0x23, %ax
        mov %ax, %ds
        mov %ax, %es
        mov $msg, %esi
        call puts
        xor %al, %al
        out %al, $0xf4
1:      jmp 1b

        .section .rodata
msg:    .asciz "usermode: ring 3\n"

        .bss
        .align 16
        .skip 4096
stack_top:
        .skip 4096
user_stack_top:

/* tscdata: keeps one RDTSC reading in memory (`stamp`), then makes 2,000 port writes (VM exits,
   at which a recording takes snapshots) without touching it again. A replay reads another TSC
   value, which KVM cannot intercept, so `stamp` differs from the recording's until the replay
   takes the recorded bytes at the next snapshot: a guest-memory change no guest instruction made. */
        .code32
        .text
        .globl _start, stamped, io_loop, done, stamp
_start:
        mov $stack_top, %esp
        call serial_init
        rdtsc
stamped:
        mov %eax, stamp
        mov %edx, stamp+4
        xor %eax, %eax                  /* no TSC bits in registers or port data */
        xor %edx, %edx
        mov $2000, %ecx
io_loop:
        out %al, $0x80                  /* POST port: one exit each */
        loop io_loop
done:
        mov $done_msg, %esi
        call puts
        xor %al, %al
        call debug_exit

        .section .rodata
done_msg: .asciz "tscdata: done\n"

        .data
        .align 8
stamp:  .quad 0

        .bss
        .align 16
        .skip 4096
stack_top:

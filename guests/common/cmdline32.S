/* cmdline_n: the number N of an "n=N" word on the Multiboot command line, for guests whose
   amount of work is set there (cpu-loop, ticks). EDI = the Multiboot information; returns N in
   ECX, or ECX unchanged when the command line has no such word. Clobbers EAX, EDX and ESI. */
        .code32
        .text
        .globl cmdline_n
cmdline_n:
        testl $4, (%edi)                /* flags bit 2: cmdline valid */
        jz 9f
        mov 16(%edi), %esi
        mov $' ', %dl                   /* the character before; n= must start a word */
1:      lodsb
        test %al, %al
        jz 9f
        cmp $'n', %al
        jne 2f
        cmp $' ', %dl
        jne 2f
        cmpb $'=', (%esi)
        je 3f
2:      mov %al, %dl
        jmp 1b
3:      inc %esi
        xor %ecx, %ecx
4:      movzbl (%esi), %eax
        sub $'0', %eax
        cmp $9, %eax
        ja 9f
        imul $10, %ecx, %ecx
        add %eax, %ecx
        inc %esi
        jmp 4b
9:      ret

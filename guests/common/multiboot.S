/* The Multiboot 1 header: page-align modules and give memory information. */
        .section .multiboot, "a"
        .align 4
        .long 0x1BADB002
        .long 0x00000003
        .long -(0x1BADB002 + 0x00000003)

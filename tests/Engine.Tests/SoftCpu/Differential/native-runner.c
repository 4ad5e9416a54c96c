/*
 * Runs single x86-64 instructions natively, in user mode, for the software CPU's differential
 * tests (HostCpu.cs compiles it with gcc and talks to it; the protocol is described there).
 *
 * One case per input line, one result line per case:
 *   in:  code=HEX rax=HEX ... r15=HEX flags=HEX mem=SEED [poke=OFF:HEX]... [gsbase=HEX] [fx=HEX]
 *   out: rax=HEX ... r15=HEX flags=HEX rip=HEX [exception=N error=HEX address=HEX] [mem=OFF:HEX,...] [fx=HEX]
 * The instruction runs at CODE_ADDR with every general register, the arithmetic flags and DF,
 * and the x87/SSE state (an FXSAVE image) as given; memory operands point into the data buffer
 * at DATA_ADDR, whose pages either side are left unmapped. "mem=" in the output lists the bytes
 * of the buffer the instruction changed. A fault is caught by a signal handler, which reports
 * the registers at the fault (a REP string instruction stops at the faulting iteration) and the
 * CPU's trap number and error code (the kernel's sigcontext has them).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define DATA_ADDR 0x10000000UL
#define DATA_SIZE 0x1000UL
#define CODE_ADDR 0x10010000UL
#define CTL_ADDR 0x10020000UL

/* The control page, at a fixed address so the assembly below can reach it with absolute operands. */
struct control {
    uint64_t in_gpr[16];   /* 0x000, encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8-r15 */
    uint64_t in_flags;     /* 0x080 */
    uint64_t out_gpr[16];  /* 0x088 */
    uint64_t out_flags;    /* 0x108 */
    uint64_t host_rsp;     /* 0x110 */
    uint64_t code_ptr;     /* 0x118 */
    uint64_t exit_ptr;     /* 0x120 */
    uint8_t pad[0x200 - 0x128];
    uint8_t in_fx[512];    /* 0x200 */
    uint8_t out_fx[512];   /* 0x400 */
    uint8_t host_fx[512];  /* 0x600 */
    uint8_t stack[0x800];  /* 0x800: a few words for pushf/popf */
};

#define CTL ((struct control *)CTL_ADDR)
_Static_assert(sizeof(struct control) == 0x1000, "the control block is one page");

void run_case(void);
void case_exit(void);

/* Saves the runner's registers, loads the case's, jumps to the instruction; case_exit saves the
   result and returns to the caller of run_case. Only the flags and the FX image need a stack. */
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, 0x10020110\n"
    "  fxsave64 0x10020600\n"
    "  fxrstor64 0x10020200\n"
    "  mov $0x10021000, %rsp\n"
    "  pushq 0x10020080\n"
    "  popfq\n"
    "  mov 0x10020000, %rax\n mov 0x10020008, %rcx\n mov 0x10020010, %rdx\n mov 0x10020018, %rbx\n"
    "  mov 0x10020028, %rbp\n mov 0x10020030, %rsi\n mov 0x10020038, %rdi\n"
    "  mov 0x10020040, %r8\n mov 0x10020048, %r9\n mov 0x10020050, %r10\n mov 0x10020058, %r11\n"
    "  mov 0x10020060, %r12\n mov 0x10020068, %r13\n mov 0x10020070, %r14\n mov 0x10020078, %r15\n"
    "  mov 0x10020020, %rsp\n"
    "  jmp *0x10020118\n"
    ".globl case_exit\n"
    "case_exit:\n"
    "  mov %rax, 0x10020088\n mov %rcx, 0x10020090\n mov %rdx, 0x10020098\n mov %rbx, 0x100200a0\n"
    "  mov %rsp, 0x100200a8\n mov %rbp, 0x100200b0\n mov %rsi, 0x100200b8\n mov %rdi, 0x100200c0\n"
    "  mov %r8, 0x100200c8\n mov %r9, 0x100200d0\n mov %r10, 0x100200d8\n mov %r11, 0x100200e0\n"
    "  mov %r12, 0x100200e8\n mov %r13, 0x100200f0\n mov %r14, 0x100200f8\n mov %r15, 0x10020100\n"
    "  mov $0x10021000, %rsp\n"
    "  pushfq\n"
    "  popq 0x10020108\n"
    "  cld\n"
    "  fxsave64 0x10020400\n"
    "  fxrstor64 0x10020600\n"
    "  mov 0x10020110, %rsp\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "  ret\n");

static sigjmp_buf fault_jump;
static volatile int fault_trap;
static volatile uint64_t fault_error, fault_rip, fault_address;

static void on_fault(int sig, siginfo_t *si, void *context)
{
    (void)sig;
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    static const int order[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                   REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
    for (int i = 0; i < 16; i++) CTL->out_gpr[i] = (uint64_t)g[order[i]];
    CTL->out_flags = (uint64_t)g[REG_EFL];
    if (uc->uc_mcontext.fpregs) memcpy(CTL->out_fx, uc->uc_mcontext.fpregs, 512);
    fault_trap = (int)g[REG_TRAPNO];
    fault_error = (uint64_t)g[REG_ERR];
    fault_rip = (uint64_t)g[REG_RIP];
    fault_address = (uint64_t)si->si_addr;
    siglongjmp(fault_jump, 1);
}

static void *map_fixed(uint64_t address, size_t size, int prot)
{
    void *p = mmap((void *)address, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)address) {
        fprintf(stderr, "cannot map %zx bytes at %lx\n", size, (unsigned long)address);
        exit(2);
    }
    return p;
}

/* The buffer's initial bytes: splitmix64 from the case's seed (DifferentialState.FillData does the same). */
static void fill(uint8_t *buffer, uint64_t seed)
{
    for (size_t i = 0; i < DATA_SIZE; i += 8) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        memcpy(buffer + i, &z, 8);
    }
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex bytes into out (at most max); returns how many, or -1. */
static int parse_bytes(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (hex_digit(s[0]) >= 0 && hex_digit(s[1]) >= 0) {
        if (n == max) return -1;
        out[n++] = (uint8_t)(hex_digit(s[0]) << 4 | hex_digit(s[1]));
        s += 2;
    }
    return (int)n;
}

static void put_bytes(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        putchar(digits[b[i] >> 4]);
        putchar(digits[b[i] & 15]);
    }
}

static const char *const names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };

/* The FX image of a case that gives none: FNINIT's x87 state, MXCSR 0x1F80, XMM registers zero. */
static void default_fx(uint8_t *fx)
{
    memset(fx, 0, 512);
    fx[0] = 0x7F; fx[1] = 0x03;   /* FCW 0x037F */
    fx[24] = 0x80; fx[25] = 0x1F; /* MXCSR 0x1F80 */
}

static uint8_t initial[DATA_SIZE];

static int run_line(char *line)
{
    uint8_t code[16];
    volatile int code_length = 0, want_fx = 0;
    uint8_t *data = (uint8_t *)DATA_ADDR;
    memset(CTL->in_gpr, 0, sizeof CTL->in_gpr);
    CTL->in_flags = 2;
    default_fx(CTL->in_fx);
    fill(data, 0);
    uint64_t gs_base = 0;
    for (char *token = strtok(line, " \n"); token; token = strtok(NULL, " \n")) {
        char *value = strchr(token, '=');
        if (!value) return 0;
        *value++ = 0;
        if (!strcmp(token, "code")) {
            code_length = parse_bytes(value, code, sizeof code);
        } else if (!strcmp(token, "flags")) {
            /* The arithmetic flags and DF; the system flags are not the case's to set. */
            CTL->in_flags = (strtoull(value, NULL, 16) & 0xCD5) | 2;
        } else if (!strcmp(token, "mem")) {
            fill(data, strtoull(value, NULL, 16));
        } else if (!strcmp(token, "poke")) {
            char *colon = strchr(value, ':');
            if (!colon) return 0;
            uint64_t offset = strtoull(value, NULL, 16);
            if (offset >= DATA_SIZE) return 0;
            if (parse_bytes(colon + 1, data + offset, DATA_SIZE - offset) < 0) return 0;
        } else if (!strcmp(token, "gsbase")) {
            gs_base = strtoull(value, NULL, 16);
        } else if (!strcmp(token, "fx")) {
            if (parse_bytes(value, CTL->in_fx, 512) != 512) return 0;
            want_fx = 1;
        } else {
            int i = 0;
            while (i < 16 && strcmp(token, names[i])) i++;
            if (i == 16) return 0;
            CTL->in_gpr[i] = strtoull(value, NULL, 16);
        }
    }
    if (code_length <= 0) return 0;
    memcpy(initial, data, DATA_SIZE);
    uint8_t *page = (uint8_t *)CODE_ADDR;
    memcpy(page, code, (size_t)code_length);
    /* jmp [CTL->exit_ptr] */
    static const uint8_t jump_out[] = { 0xFF, 0x24, 0x25, 0x20, 0x01, 0x02, 0x10 };
    memcpy(page + code_length, jump_out, sizeof jump_out);
    __builtin___clear_cache((char *)page, (char *)page + 32);
    CTL->code_ptr = CODE_ADDR;
    CTL->exit_ptr = (uint64_t)(uintptr_t)&case_exit;
    syscall(SYS_arch_prctl, ARCH_SET_GS, gs_base);

    int faulted = sigsetjmp(fault_jump, 1);
    if (!faulted) run_case();
    syscall(SYS_arch_prctl, ARCH_SET_GS, 0UL);

    for (int i = 0; i < 16; i++) printf("%s=%lx ", names[i], (unsigned long)CTL->out_gpr[i]);
    printf("flags=%lx rip=%lx", (unsigned long)CTL->out_flags,
           (unsigned long)(faulted ? fault_rip : CODE_ADDR + (uint64_t)code_length));
    if (faulted)
        printf(" exception=%d error=%lx address=%lx", fault_trap, (unsigned long)fault_error, (unsigned long)fault_address);
    const char *separator = " mem=";
    for (size_t i = 0; i < DATA_SIZE;) {
        if (data[i] == initial[i]) { i++; continue; }
        size_t end = i;
        while (end < DATA_SIZE && data[end] != initial[end]) end++;
        printf("%s%zx:", separator, i);
        put_bytes(data + i, end - i);
        separator = ",";
        i = end;
    }
    if (want_fx) {
        printf(" fx=");
        put_bytes(CTL->out_fx, 512);
    }
    putchar('\n');
    fflush(stdout);
    return 1;
}

int main(void)
{
    map_fixed(DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE);
    map_fixed(CODE_ADDR, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC);
    map_fixed(CTL_ADDR, sizeof(struct control), PROT_READ | PROT_WRITE);

    static uint8_t alternate_stack[1 << 16];
    stack_t ss = { .ss_sp = alternate_stack, .ss_size = sizeof alternate_stack };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &sa, NULL);

    static char line[1 << 16];
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while (fgets(line, sizeof line, stdin)) {
        if (!run_line(line)) {
            printf("error bad case\n");
            fflush(stdout);
        }
    }
    return 0;
}

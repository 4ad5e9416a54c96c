/*
 * cpu-mix: the instruction mix of `vmreplay bench cpu`. Each round does the same kernel-like
 * work on the same data: generate pseudo-random numbers, copy them (rep movsb, as kernels copy),
 * quicksort them, check the order, insert and look them up in a hash table (a real DIV: the
 * table size is not a compile-time constant), format them as decimal text, copy and compare
 * the text, and CRC-32 it. The work and its data do not depend on the round, so the guest retires
 * the same number of instructions every round and the total is linear in the round count, which
 * the benchmark relies on to take QEMU's startup out. The command line's n=N sets the rounds
 * (0 when absent); the guest prints a checksum over all rounds and exits 0.
 */
#include <stdint.h>
#include <stddef.h>

#define COUNT 2048
#define SEED 0x2545f491u

void serial_init(void);

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper, boot_device;
    const char *cmdline;
};

static uint32_t numbers[COUNT];
static uint32_t sorted[COUNT];
static char text[COUNT * 11 + 1];
static char text_copy[COUNT * 11 + 1];
static uint32_t crc_table[256];
/* Volatile so that the compiler divides by it with DIV instead of a multiplication. */
static volatile uint32_t hash_size = 4099;
static uint32_t hash_keys[4099];
static uint8_t hash_used[4099];

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc(char c)
{
    while (!(inb(0x3fd) & 0x20)) { }
    outb(0x3f8, (uint8_t)c);
}

static void puts(const char *s)
{
    while (*s) putc(*s++);
}

static void puthex(uint32_t v)
{
    puts("0x");
    for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 0xf]);
}

static __attribute__((noreturn)) void finish(uint8_t status)
{
    outb(0xf4, status);
    for (;;) __asm__ volatile("cli; hlt");
}

static void *copy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

static size_t length(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static int compare(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return (unsigned char)*a - (unsigned char)*b;
}

static void generate(uint32_t *out, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = x;
    }
}

static void insertion_sort(uint32_t *a, int lo, int hi)
{
    for (int i = lo + 1; i <= hi; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void quicksort(uint32_t *a, int lo, int hi)
{
    while (hi - lo > 16) {
        uint32_t pivot = a[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { uint32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        /* Recurse into the smaller side, loop on the larger: the stack stays logarithmic. */
        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
        else { quicksort(a, i, hi); hi = j; }
    }
    insertion_sort(a, lo, hi);
}

static uint32_t hash_insert_and_find(const uint32_t *keys, size_t n)
{
    uint32_t size = hash_size, probes = 0;
    for (uint32_t i = 0; i < size; i++) hash_used[i] = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t h = keys[k] % size;
        while (hash_used[h] && hash_keys[h] != keys[k]) { h = h + 1 == size ? 0 : h + 1; probes++; }
        hash_used[h] = 1;
        hash_keys[h] = keys[k];
    }
    for (size_t k = 0; k < n; k++) {
        uint32_t h = keys[k] % size;
        while (hash_keys[h] != keys[k]) { h = h + 1 == size ? 0 : h + 1; probes++; }
    }
    return probes;
}

static size_t format_decimal(char *out, uint32_t v)
{
    char digits[10];
    size_t n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ (uint8_t)p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static uint32_t round_of_work(void)
{
    generate(numbers, COUNT, SEED);
    copy(sorted, numbers, sizeof sorted);
    quicksort(sorted, 0, COUNT - 1);
    for (int i = 1; i < COUNT; i++)
        if (sorted[i - 1] > sorted[i]) { puts("cpu-mix: sort failed\n"); finish(1); }
    uint32_t probes = hash_insert_and_find(numbers, COUNT);
    size_t at = 0;
    for (int i = 0; i < COUNT; i++) {
        at += format_decimal(text + at, sorted[i]);
        text[at++] = ',';
    }
    text[at] = 0;
    size_t n = length(text);
    copy(text_copy, text, n + 1);
    if (compare(text, text_copy) != 0) { puts("cpu-mix: copy differs\n"); finish(1); }
    return crc32(text, n) ^ probes;
}

static uint32_t rounds_from(const struct multiboot_info *mb)
{
    if (!(mb->flags & 4) || !mb->cmdline) return 0;
    const char *s = mb->cmdline;
    for (char before = ' '; *s; before = *s++) {
        if (before == ' ' && s[0] == 'n' && s[1] == '=') {
            uint32_t n = 0;
            for (s += 2; *s >= '0' && *s <= '9'; s++) n = n * 10 + (uint32_t)(*s - '0');
            return n;
        }
    }
    return 0;
}

void kmain(const struct multiboot_info *mb)
{
    serial_init();
    crc_init();
    uint32_t rounds = rounds_from(mb), checksum = 0;
    for (uint32_t r = 0; r < rounds; r++) checksum = checksum * 31 + round_of_work();
    puts("cpu-mix: rounds ");
    puthex(rounds);
    puts(" checksum ");
    puthex(checksum);
    puts("\n");
    finish(0);
}

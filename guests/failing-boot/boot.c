/*
 * failing-boot: the demo subject. A tiny "kernel" boots in stages. Early on, the timer
 * interrupt handler records the tick count into a small log inside the early scratch buffer.
 * Later the boot releases that buffer and carves the boot_info structure out of it, but nobody
 * tells the timer code: tick_log still points into the buffer. On its next logging tick (every
 * 25th) the handler writes through the stale pointer and silently overwrites
 * boot_info.mmap[1].length. When the boot
 * validates boot_info, the checksum is wrong and it panics.
 */
#include <stdint.h>

struct mmap_entry {
    uint32_t base;
    uint32_t length;
    uint32_t type;
};

struct boot_info {
    uint32_t magic;
    uint32_t nr_mmap;
    struct mmap_entry mmap[4];
    uint32_t checksum;
};

#define BOOT_INFO_MAGIC 0xB007B007u
#define LOG_EVERY 25

/* Declared in pm32.S / lib32.S / entry.S. */
void serial_init(void);
void gdt_setup(void);
void idt_setup(void);
void idt_set_gate(uint32_t vector, void (*handler)(void), uint32_t dpl);
void pic_remap(void);
void irq0_entry(void);

static uint8_t early_scratch[256] __attribute__((aligned(16)));
struct boot_info *boot_info;
volatile uint32_t *tick_log;
volatile uint32_t ticks;

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

static void putdec(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts(&buf[i]);
}

__attribute__((noreturn)) void panic(const char *what, uint32_t expected, uint32_t actual)
{
    __asm__ volatile("cli");
    puts("PANIC: ");
    puts(what);
    puts(": mmap checksum ");
    puthex(actual);
    puts(" != ");
    puthex(expected);
    puts("\n");
    outb(0xf4, 1);
    for (;;) __asm__ volatile("hlt");
}

/* The bug: tick_log may point into memory that has been handed to someone else. */
void log_tick(uint32_t now)
{
    if (tick_log && now % LOG_EVERY == 0)
        *tick_log = now;
}

void timer_interrupt(void)
{
    uint32_t now = ticks + 1;
    ticks = now;
    log_tick(now);
}

static void wait_ticks(uint32_t until)
{
    while (ticks < until) { } /* polls memory: no VM exits */
}

static uint32_t mmap_checksum(const struct boot_info *bi)
{
    uint32_t sum = bi->magic ^ bi->nr_mmap;
    for (uint32_t i = 0; i < bi->nr_mmap; i++)
        sum = (sum << 5 | sum >> 27) ^ bi->mmap[i].base ^ bi->mmap[i].length ^ bi->mmap[i].type;
    return sum;
}

static void build_boot_info(uint32_t mbi_addr)
{
    const uint32_t *mbi = (const uint32_t *)mbi_addr;
    /* The early scratch buffer is released: carve boot_info out of it. */
    boot_info = (struct boot_info *)early_scratch;
    boot_info->magic = BOOT_INFO_MAGIC;
    boot_info->nr_mmap = 3;
    boot_info->mmap[0] = (struct mmap_entry){ 0x0, mbi[1] * 1024, 1 };
    boot_info->mmap[1] = (struct mmap_entry){ 0x100000, mbi[2] * 1024, 1 };
    boot_info->mmap[2] = (struct mmap_entry){ 0xf0000, 0x10000, 2 };
    boot_info->checksum = mmap_checksum(boot_info);
}

void kmain(uint32_t mbi_addr)
{
    serial_init();
    puts("[boot] failing-boot starting\n");
    gdt_setup();
    idt_setup();
    idt_set_gate(0x20, irq0_entry, 0);
    pic_remap();
    /* Early tick log lives in the scratch buffer (offset 24). */
    tick_log = (volatile uint32_t *)(early_scratch + 24);
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    __asm__ volatile("sti");
    puts("[boot] timer running at 1000 Hz\n");
    wait_ticks(5);
    puts("[boot] early scratch released, building boot_info\n");
    build_boot_info(mbi_addr);
    puts("[boot] boot_info: ");
    putdec(boot_info->nr_mmap);
    puts(" memory regions, checksum ");
    puthex(boot_info->checksum);
    puts("\n");
    /* Settle for two logging periods: the stale write always lands after boot_info exists. */
    wait_ticks(ticks + 2 * LOG_EVERY);
    puts("[boot] validating boot_info\n");
    uint32_t sum = mmap_checksum(boot_info);
    if (sum != boot_info->checksum)
        panic("boot_info corrupted", boot_info->checksum, sum);
    puts("[boot] boot_info valid\n");
    outb(0xf4, 0);
}

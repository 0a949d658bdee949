/* SPDX-License-Identifier: MIT */
/*
 * Multiboot path, 64-bit ring 0 (emulated here, so: little work, no SSE).
 * Does what the VMM does itself on direct entry: maps RAM above 4 GiB,
 * loads a TSS and an IDT, builds struct vmig_boot_info from the multiboot
 * info, and drops to ring 3 at the common entry on vCPU 0's stack.
 */
#include "abi_asm.h"
#include "args.h"
#include "guest.h"
#include "serial.h"

#define MB_BOOT_MAGIC 0x2badb002u
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define HIGH_GIB 60 /* RAM mapped above 4 GiB: up to 64 GiB in all */

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct __attribute__((packed)) mb_mmap_entry {
	uint32_t size; /* of the rest of the entry */
	uint64_t addr, len;
	uint32_t type; /* 1 = usable RAM */
};

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
	/* All ports allowed; the extra byte is the bitmap's required 0xff end. */
	uint8_t iomap[65536 / 8 + 1];
};

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type; /* P | DPL | 0xE (64-bit interrupt gate) */
	uint16_t off_mid;
	uint32_t off_hi, zero;
};

extern uint64_t boot_gdt[], boot_pdpt[]; /* boot32.S */
extern const uint64_t isr_table[VMIG_NR_ISR];
extern const char guest_entry64[];
extern const struct vmig_boot_header guest_boot_header;
__attribute__((noreturn)) void enter_ring3(uint64_t rip, uint64_t rsp, uint64_t a0, uint64_t a1);
void boot64_main(uint32_t magic, uint32_t mbi_addr);

static struct vmig_boot_info boot_info;
static char cmdline[4096];
static struct tss64 tss;
static struct idt_gate idt[256];
static uint64_t high_pd[HIGH_GIB][512] __attribute__((aligned(4096)));

/* Copies the loader's command line, minus a leading kernel path (a first
 * word without '=', which GRUB and QEMU put there). */
static void copy_cmdline(const char *s)
{
	const char *w = s;
	while (*w == ' ')
		w++;
	const char *e = w;
	while (*e && *e != ' ' && *e != '=')
		e++;
	if (*e != '=')
		s = e;
	unsigned n = 0;
	while (s[n] && n < sizeof(cmdline) - 1) {
		cmdline[n] = s[n];
		n++;
	}
	cmdline[n] = 0;
}

static void add_ram(uint64_t base, uint64_t len)
{
	if (boot_info.nr_mem < VMIG_MAX_MEM_RANGES && len)
		boot_info.mem[boot_info.nr_mem++] = (struct vmig_mem_range){base, len};
}

/* Identity-maps [4 GiB, top) with 2 MiB pages; RAM above 64 GiB is dropped. */
static void map_high(void)
{
	const uint64_t limit = (4ull + HIGH_GIB) << 30;
	uint64_t top = 0;

	for (unsigned i = 0; i < boot_info.nr_mem; i++) {
		struct vmig_mem_range *r = &boot_info.mem[i];
		if (r->base >= limit)
			r->len = 0;
		else if (r->base + r->len > limit)
			r->len = limit - r->base;
		if (r->len && r->base + r->len > top)
			top = r->base + r->len;
	}
	for (uint64_t g = 4; g < (top + (1ull << 30) - 1) >> 30; g++) {
		uint64_t *pd = high_pd[g - 4];
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g << 30) + (i << 21) + 0x87; /* P, RW, US, 2 MiB */
		boot_pdpt[g] = (uint64_t)(uintptr_t)pd + 0x7;
	}
}

static void set_gate(unsigned v, uint64_t handler, unsigned dpl)
{
	idt[v] = (struct idt_gate){
		.off_lo = (uint16_t)handler,
		.sel = SEL_KCODE,
		.type = (uint8_t)(0x8e | dpl << 5),
		.off_mid = (uint16_t)(handler >> 16),
		.off_hi = (uint32_t)(handler >> 32),
	};
}

static void load_tables(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	tss.rsp[0] = guest_boot_header.kstack_base + guest_boot_header.kstack_size;
	/*
	 * kvm_pvm does not honour IOPL=3 for ring-3 port I/O (and clears it
	 * on iretq/sysretq), so an all-zero I/O bitmap allows every port.
	 */
	tss.iomap_base = __builtin_offsetof(struct tss64, iomap);
	tss.iomap[sizeof(tss.iomap) - 1] = 0xff;
	boot_gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
				((base >> 24) & 0xff) << 56; /* present, available 64-bit TSS */
	boot_gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

	for (unsigned v = 0; v < 32; v++)
		set_gate(v, isr_table[v], 0);
	set_gate(VMIG_HALT_VECTOR, isr_table[32], 3);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void boot64_main(uint32_t magic, uint32_t mbi_addr)
{
	const struct mb_info *mbi = (const struct mb_info *)(uintptr_t)mbi_addr;

	if (magic != MB_BOOT_MAGIC) {
		struct line l;
		line_init(&l, "FATAL not started by a multiboot loader");
		line_emit_raw(&l);
		return;
	}
	copy_cmdline(mbi->flags & MBI_CMDLINE ? (const char *)(uintptr_t)mbi->cmdline : "");
	if (mbi->flags & MBI_MMAP) {
		uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
		while (p + sizeof(struct mb_mmap_entry) <= end) {
			const struct mb_mmap_entry *e = (const void *)(uintptr_t)p;
			if (e->type == 1)
				add_ram(e->addr, e->len);
			p += e->size + 4;
		}
	} else if (mbi->flags & MBI_MEM) {
		add_ram(0x100000, (uint64_t)mbi->mem_upper << 10);
	}
	map_high();

	boot_info.magic = VMIG_BOOT_INFO_MAGIC;
	boot_info.version = VMIG_ABI_VERSION;
	boot_info.nr_vcpus = 1; /* the APs are never woken */
	boot_info.cmdline = (uint64_t)(uintptr_t)cmdline;
	/* Same entry layout as multiboot's: ring 3 copies the list itself. */
	if (mbi->flags & MBI_MODS) {
		boot_info.mods_addr = mbi->mods_addr;
		boot_info.mods_count = mbi->mods_count;
	}
	if (args_find_u64(cmdline, "tsckhz", &boot_info.tsc_khz))
		boot_info.tsc_khz = 0;

	load_tables();
	enter_ring3((uint64_t)(uintptr_t)guest_entry64,
		    guest_boot_header.ustack_base + guest_boot_header.ustack_size,
		    (uint64_t)(uintptr_t)&boot_info, 0);
}

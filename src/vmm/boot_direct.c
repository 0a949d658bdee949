/* SPDX-License-Identifier: MIT */
/*
 * Direct 64-bit entry: everything a ring-3 guest needs is built here, in
 * the fixed low-memory layout of guest_abi.h, so that no guest code runs
 * at CPL0 (which this platform emulates slowly) unless the guest faults.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot.h"
#include "vmm/boot_tables.h"
#include "vmm/x86_defs.h"

#define SCAN_LIMIT 8192

int boot_direct_find_header(const struct guest_image *img, struct vmig_boot_header *hdr,
			    char *err, size_t errlen)
{
	size_t limit = img->size < SCAN_LIMIT ? img->size : SCAN_LIMIT;

	for (size_t off = 0; off + sizeof(*hdr) <= limit; off += 8) {
		uint64_t magic;
		memcpy(&magic, img->data + off, sizeof(magic));
		if (magic != VMIG_BOOT_HEADER_MAGIC)
			continue;
		memcpy(hdr, img->data + off, sizeof(*hdr));
		if (hdr->version != VMIG_ABI_VERSION || hdr->size < sizeof(*hdr)) {
			snprintf(err, errlen,
				 "guest boot header has version %u size %u (want %u, >= %zu)",
				 hdr->version, hdr->size, VMIG_ABI_VERSION, sizeof(*hdr));
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "guest image has no vmig direct-boot header");
	return -ENOENT;
}

_Static_assert(VMIG_DIRECT_TSS + VMIG_MAX_VCPUS * TSS_STRIDE <= VMIG_DIRECT_IOBITMAP,
	       "TSSes overlap the I/O bitmap");
_Static_assert(VMIG_DIRECT_IOBITMAP + IOBITMAP_BYTES + 1 <= VMIG_DIRECT_BOOT_INFO,
	       "I/O bitmap overlaps the boot info");
_Static_assert(VMIG_DIRECT_BOOT_INFO + sizeof(struct vmig_boot_info) <= VMIG_DIRECT_CMDLINE,
	       "boot info overlaps the command line");
_Static_assert(VMIG_DIRECT_MODLIST + VMIG_MAX_MODULES * sizeof(struct vmig_module) <=
		       VMIG_DIRECT_MODNAMES &&
		       VMIG_DIRECT_MODNAMES + VMIG_MODNAMES_SIZE <= VMIG_DIRECT_PGTABLE,
	       "module list or names overlap the page tables");

uint32_t tss_limit(unsigned vcpu)
{
	/* covers the TSS, the gap up to the shared bitmap, the bitmap and its
	 * terminating byte */
	return (uint32_t)(VMIG_DIRECT_IOBITMAP + IOBITMAP_BYTES - (VMIG_DIRECT_TSS + vcpu * TSS_STRIDE));
}

static int in_image(uint64_t gpa, uint64_t len, const struct elf_loaded *ld)
{
	return gpa >= ld->lowest && gpa <= ld->highest && len <= ld->highest - gpa;
}

static void set_gate(uint8_t *idt, unsigned vector, uint64_t handler, unsigned dpl)
{
	uint8_t *e = idt + vector * 16;
	uint16_t sel = GDT_SEL_KCODE64;
	uint16_t flags = (uint16_t)(0x8000 | (dpl << 13) | (0xe << 8)); /* P, DPL, 64-bit intr gate */
	uint16_t lo = (uint16_t)handler, mid = (uint16_t)(handler >> 16);
	uint32_t hi = (uint32_t)(handler >> 32), zero = 0;

	memcpy(e + 0, &lo, 2);
	memcpy(e + 2, &sel, 2);
	memcpy(e + 4, &flags, 2);
	memcpy(e + 6, &mid, 2);
	memcpy(e + 8, &hi, 4);
	memcpy(e + 12, &zero, 4);
}

static void set_tss_desc(uint8_t *gdt, unsigned index, uint64_t base, uint32_t limit)
{
	uint64_t lo = (limit & 0xffffull) | ((base & 0xffffffull) << 16) |
		      (0x89ull << 40) /* present, 64-bit available TSS */ |
		      ((uint64_t)(limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xffull) << 56;
	uint64_t hi = base >> 32;
	memcpy(gdt + index * 8, &lo, 8);
	memcpy(gdt + index * 8 + 8, &hi, 8);
}

/* The header's promises checked against the loaded image and the vCPUs asked for. */
static int check_header(const struct vmig_boot_header *hdr, const struct elf_loaded *ld,
			unsigned nr_vcpus, char *err, size_t errlen)
{
	if (nr_vcpus > hdr->max_vcpus || nr_vcpus > VMIG_MAX_VCPUS) {
		snprintf(err, errlen, "guest supports at most %u vCPUs, %u requested",
			 hdr->max_vcpus < VMIG_MAX_VCPUS ? hdr->max_vcpus : VMIG_MAX_VCPUS,
			 nr_vcpus);
		return -EINVAL;
	}
	if (!in_image(hdr->entry64, 1, ld) || !in_image(hdr->isr_table, VMIG_NR_ISR * 8, ld) ||
	    !hdr->ustack_size || !hdr->kstack_size || hdr->ustack_size % 16 ||
	    hdr->kstack_size % 16 ||
	    !in_image(hdr->ustack_base, hdr->ustack_size * hdr->max_vcpus, ld) ||
	    !in_image(hdr->kstack_base, hdr->kstack_size * hdr->max_vcpus, ld)) {
		snprintf(err, errlen, "guest boot header points outside the loaded image");
		return -EINVAL;
	}
	return 0;
}

/* Identity map all of guest-physical space up to the top of RAM with
 * 2 MiB pages, user-accessible (the guest lives in ring 3). */
static uint64_t nr_pds(const struct guest_memory *mem)
{
	return (guest_memory_top(mem) + (1ull << 30) - 1) >> 30;
}

uint64_t boot_direct_pgtable_bytes(const struct guest_memory *mem)
{
	return 0x2000 + nr_pds(mem) * 0x1000; /* PML4, PDPT, a PD per GiB */
}

static int build_page_tables(struct guest_memory *mem, char *err, size_t errlen)
{
	uint64_t nr_pd = nr_pds(mem);
	uint64_t pd_base = VMIG_DIRECT_PGTABLE + 0x2000;
	if (pd_base + nr_pd * 0x1000 > 0x9f000 || nr_pd > 512) {
		snprintf(err, errlen, "direct boot maps at most %llu GiB of guest address space",
			 (unsigned long long)((0x9f000 - pd_base) / 0x1000));
		return -EINVAL;
	}
	uint64_t *pml4 = guest_memory_ptr(mem, VMIG_DIRECT_PGTABLE, 0x1000);
	uint64_t *pdpt = guest_memory_ptr(mem, VMIG_DIRECT_PGTABLE + 0x1000, 0x1000);
	uint64_t *pd = guest_memory_ptr(mem, pd_base, nr_pd * 0x1000);
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = (VMIG_DIRECT_PGTABLE + 0x1000) | PTE_P | PTE_RW | PTE_US;
	for (uint64_t i = 0; i < nr_pd; i++)
		pdpt[i] = (pd_base + i * 0x1000) | PTE_P | PTE_RW | PTE_US;
	for (uint64_t i = 0; i < nr_pd * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	return 0;
}

/* GDT: kernel code/data, user data/code, then one TSS per vCPU. */
static void build_gdt(struct guest_memory *mem, unsigned nr_vcpus)
{
	uint8_t *gdt = guest_memory_ptr(mem, VMIG_DIRECT_GDT, 0x1000);
	memset(gdt, 0, 0x1000);
	const uint64_t descs[] = {0, GDT_KCODE64, GDT_KDATA, GDT_UCODE32, GDT_UDATA, GDT_UCODE64};
	memcpy(gdt, descs, sizeof(descs));
	for (unsigned i = 0; i < nr_vcpus; i++)
		set_tss_desc(gdt, GDT_TSS_INDEX(i), VMIG_DIRECT_TSS + i * TSS_STRIDE, tss_limit(i));
}

/* One TSS per vCPU: RSP0 is that vCPU's ring-0 stack for faults. All
 * of them point at one shared I/O bitmap that allows every port. */
static void build_tss(struct guest_memory *mem, const struct vmig_boot_header *hdr,
		      unsigned nr_vcpus)
{
	uint8_t *tss = guest_memory_ptr(mem, VMIG_DIRECT_TSS, VMIG_MAX_VCPUS * TSS_STRIDE);
	memset(tss, 0, VMIG_MAX_VCPUS * TSS_STRIDE);
	for (unsigned i = 0; i < nr_vcpus; i++) {
		uint8_t *t = tss + i * TSS_STRIDE;
		uint64_t rsp0 = hdr->kstack_base + (uint64_t)(i + 1) * hdr->kstack_size;
		uint16_t iomap =
		    (uint16_t)(VMIG_DIRECT_IOBITMAP - (VMIG_DIRECT_TSS + i * TSS_STRIDE));
		memcpy(t + 4, &rsp0, 8);
		memcpy(t + 0x66, &iomap, 2);
	}
	uint8_t *iobitmap = guest_memory_ptr(mem, VMIG_DIRECT_IOBITMAP, IOBITMAP_BYTES + 1);
	memset(iobitmap, 0, IOBITMAP_BYTES);
	iobitmap[IOBITMAP_BYTES] = 0xff; /* the CPU may read one byte past the map */
}

/* IDT: exception vectors and the ring-3-callable halt gate. */
static int build_idt(struct guest_memory *mem, const struct vmig_boot_header *hdr,
		     const struct elf_loaded *ld, char *err, size_t errlen)
{
	uint8_t *idt = guest_memory_ptr(mem, VMIG_DIRECT_IDT, 0x1000);
	const uint64_t *isr = guest_memory_ptr(mem, hdr->isr_table, VMIG_NR_ISR * 8);
	memset(idt, 0, 0x1000);
	for (unsigned v = 0; v < 32; v++) {
		if (!in_image(isr[v], 1, ld)) {
			snprintf(err, errlen, "guest ISR %u at 0x%llx is outside the image", v,
				 (unsigned long long)isr[v]);
			return -EINVAL;
		}
		set_gate(idt, v, isr[v], 0);
	}
	if (!in_image(isr[32], 1, ld)) {
		snprintf(err, errlen, "guest halt handler is outside the image");
		return -EINVAL;
	}
	set_gate(idt, VMIG_HALT_VECTOR, isr[32], 3);
	return 0;
}

/* Boot info and command line; *out is the boot info, for the module list. */
static int write_boot_info(struct guest_memory *mem, const struct boot_args *args,
			   struct vmig_boot_info **out, char *err, size_t errlen)
{
	struct vmig_boot_info *bi = guest_memory_ptr(mem, VMIG_DIRECT_BOOT_INFO, sizeof(*bi));
	char *cmd = guest_memory_ptr(mem, VMIG_DIRECT_CMDLINE, 0x1000);
	size_t cl = args->cmdline ? strlen(args->cmdline) : 0;
	if (cl >= 0x1000) {
		snprintf(err, errlen, "guest arguments are too long (%zu bytes, max 4095)", cl);
		return -EINVAL;
	}
	memset(cmd, 0, 0x1000);
	if (cl)
		memcpy(cmd, args->cmdline, cl);
	memset(bi, 0, sizeof(*bi));
	bi->magic = VMIG_BOOT_INFO_MAGIC;
	bi->version = VMIG_ABI_VERSION;
	bi->nr_vcpus = args->nr_vcpus;
	bi->tsc_khz = args->tsc_khz;
	bi->cmdline = VMIG_DIRECT_CMDLINE;
	/* Usable RAM starts at 1 MiB: everything below is the VMM's. */
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		uint64_t base = mem->regions[i].gpa, end = base + mem->regions[i].size;
		if (base < VMIG_GUEST_LOAD_ADDR)
			base = VMIG_GUEST_LOAD_ADDR;
		if (end > base)
			bi->mem[bi->nr_mem++] = (struct vmig_mem_range){base, end - base};
	}
	*out = bi;
	return 0;
}

int boot_direct_prepare(const struct guest_image *img, struct guest_memory *mem,
			const struct boot_args *args, struct boot_plan *plan, char *err,
			size_t errlen)
{
	struct vmig_boot_header hdr;
	struct vmig_boot_info *bi;
	struct elf_loaded ld;
	int r;

	if ((r = boot_direct_find_header(img, &hdr, err, errlen)) ||
	    (r = elf_load(img, mem, VMIG_GUEST_LOAD_ADDR, &ld, err, errlen)) ||
	    (r = check_header(&hdr, &ld, args->nr_vcpus, err, errlen)) ||
	    (r = build_page_tables(mem, err, errlen)))
		return r;
	build_gdt(mem, args->nr_vcpus);
	build_tss(mem, &hdr, args->nr_vcpus);
	if ((r = build_idt(mem, &hdr, &ld, err, errlen)) ||
	    (r = write_boot_info(mem, args, &bi, err, errlen)))
		return r;

	uint64_t image_end = ld.highest > hdr.image_end ? ld.highest : hdr.image_end;
	if ((r = boot_modules_load(args->modules, mem, image_end, &bi->mods_count, &bi->mods_addr,
				   err, errlen)))
		return r;

	memset(plan, 0, sizeof(*plan));
	plan->mode = BOOT_DIRECT;
	plan->entry = hdr.entry64;
	plan->nr_vcpus = args->nr_vcpus;
	plan->started_vcpus = args->nr_vcpus;
	plan->hdr = hdr;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 loading, as QEMU's -kernel does it: find the header in the
 * first 8 KiB, load the ELF (or the a.out-kludge layout), write the info
 * structure with a memory map and the command line, and start the BSP in
 * flat 32-bit protected mode with EAX=0x2BADB002, EBX=info.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot.h"

#define MB_MAGIC 0x1BADB002u
#define MB_SCAN_LIMIT 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMINFO (1u << 1)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_SUPPORTED_REQ (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO)

#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* Where the loader's structures go: low memory, below the image at 1 MiB. */
#define MBI_ADDR 0x9000
#define MBI_MMAP_ADDR 0x9200
#define MBI_NAME_ADDR 0x9400
#define MBI_CMDLINE_ADDR 0xa000 /* 4 KiB, up to VMIG_DIRECT_MODLIST */

_Static_assert(MBI_CMDLINE_ADDR + 0x1000 <= VMIG_DIRECT_MODLIST,
	       "the command line overlaps the module list");

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table, boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe[6];
};

struct __attribute__((packed)) mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
};

static int find_header(const struct guest_image *img, struct mb_header *h, size_t *off_out)
{
	size_t limit = img->size < MB_SCAN_LIMIT ? img->size : MB_SCAN_LIMIT;
	for (size_t off = 0; off + 12 <= limit; off += 4) {
		memcpy(h, img->data + off, 12);
		if (h->magic == MB_MAGIC && (uint32_t)(h->magic + h->flags + h->checksum) == 0) {
			size_t n = img->size - off < sizeof(*h) ? img->size - off : sizeof(*h);
			memset(h, 0, sizeof(*h));
			memcpy(h, img->data + off, n);
			*off_out = off;
			return 0;
		}
	}
	return -ENOENT;
}

static int load_aout_kludge(const struct guest_image *img, struct guest_memory *mem,
			    const struct mb_header *h, size_t hdr_off, uint64_t *entry,
			    char *err, size_t errlen)
{
	/* The file is a flat image: header_addr corresponds to hdr_off. */
	if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > hdr_off) {
		snprintf(err, errlen, "multiboot a.out header addresses are inconsistent");
		return -ENOEXEC;
	}
	uint64_t file_off = hdr_off - (h->header_addr - h->load_addr);
	uint64_t load_len = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr
					     : img->size - file_off;
	uint64_t bss_end = h->bss_end_addr ? h->bss_end_addr : h->load_addr + load_len;
	if (h->load_end_addr && h->load_end_addr < h->load_addr)
		goto bad;
	if (file_off > img->size || load_len > img->size - file_off || bss_end < h->load_addr + load_len)
		goto bad;
	uint8_t *dst = guest_memory_ptr(mem, h->load_addr, bss_end - h->load_addr);
	if (!dst || h->load_addr < VMIG_GUEST_LOAD_ADDR)
		goto bad;
	memcpy(dst, img->data + file_off, load_len);
	memset(dst + load_len, 0, bss_end - h->load_addr - load_len);
	*entry = h->entry_addr;
	return 0;
bad:
	snprintf(err, errlen, "multiboot a.out image does not fit the file or guest RAM");
	return -ENOEXEC;
}

/* Loads the a.out-kludge layout or the ELF the header announces:
 * *entry and *image_end (bss included) on success. */
static int load_kernel(const struct guest_image *img, struct guest_memory *mem,
		       const struct mb_header *h, size_t off, uint64_t *entry, uint64_t *image_end,
		       char *err, size_t errlen)
{
	int r;

	if (h->flags & MB_FLAG_AOUT_KLUDGE) {
		if ((r = load_aout_kludge(img, mem, h, off, entry, err, errlen)))
			return r;
		*image_end = h->bss_end_addr ? h->bss_end_addr
			   : h->load_end_addr ? h->load_end_addr
					      : h->load_addr + (img->size - off);
	} else {
		struct elf_loaded ld;
		if ((r = elf_load(img, mem, VMIG_GUEST_LOAD_ADDR, &ld, err, errlen)))
			return r;
		if (ld.elf_class != 32) {
			snprintf(err, errlen, "multiboot needs a 32-bit ELF (this one is 64-bit)");
			return -ENOEXEC;
		}
		*entry = ld.entry;
		*image_end = ld.highest;
	}
	if (!guest_memory_ptr(mem, *entry, 1)) {
		snprintf(err, errlen, "multiboot entry 0x%llx is outside guest RAM",
			 (unsigned long long)*entry);
		return -ENOEXEC;
	}
	return 0;
}

/* Command line: the user's arguments plus what only the VMM knows; and the
 * boot loader's name. */
static int write_cmdline_and_name(struct guest_memory *mem, const struct boot_args *args, char *err,
				  size_t errlen)
{
	char *cmd = guest_memory_ptr(mem, MBI_CMDLINE_ADDR, 0x1000);
	int n = snprintf(cmd, 0x1000, "%s", args->cmdline ? args->cmdline : "");
	if (n >= 0x1000 - 32) {
		snprintf(err, errlen, "guest arguments are too long (%d bytes)", n);
		return -EINVAL;
	}
	if (args->tsc_khz && !strstr(cmd, "tsckhz="))
		snprintf(cmd + n, 0x1000 - (size_t)n, "%stsckhz=%" PRIu64, n ? " " : "",
			 args->tsc_khz);
	char *name = guest_memory_ptr(mem, MBI_NAME_ADDR, 16);
	strcpy(name, "vmig");
	return 0;
}

/* Memory map: low RAM (minus the EBDA/BIOS hole, as a PC has), RAM.
 * Returns the number of entries. */
static unsigned write_memory_map(struct guest_memory *mem)
{
	struct mb_mmap_entry *mm = guest_memory_ptr(mem, MBI_MMAP_ADDR, 8 * sizeof(*mm));
	unsigned nmm = 0;
	uint64_t low_top = mem->regions[0].size;
	mm[nmm++] = (struct mb_mmap_entry){20, 0, 0x9fc00, 1};
	mm[nmm++] = (struct mb_mmap_entry){20, 0x9fc00, 0x400, 2};
	mm[nmm++] = (struct mb_mmap_entry){20, 0xf0000, 0x10000, 2};
	mm[nmm++] = (struct mb_mmap_entry){20, 0x100000, low_top - 0x100000, 1};
	if (mem->nr_regions > 1)
		mm[nmm++] = (struct mb_mmap_entry){20, mem->regions[1].gpa, mem->regions[1].size, 1};
	return nmm;
}

/* The info structure EBX points at, over what the steps before wrote. */
static void write_info(struct guest_memory *mem, unsigned nmm, uint32_t mods_count,
		       uint64_t mods_addr)
{
	uint64_t low_top = mem->regions[0].size;
	struct mb_info *mbi = guest_memory_ptr(mem, MBI_ADDR, sizeof(*mbi));
	memset(mbi, 0, sizeof(*mbi));
	mbi->flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME | MBI_MODS;
	mbi->mods_count = mods_count;
	mbi->mods_addr = (uint32_t)mods_addr;
	mbi->mem_lower = 639;
	mbi->mem_upper = (uint32_t)((low_top - 0x100000) >> 10);
	mbi->cmdline = MBI_CMDLINE_ADDR;
	mbi->mmap_addr = MBI_MMAP_ADDR;
	mbi->mmap_length = nmm * (uint32_t)sizeof(struct mb_mmap_entry);
	mbi->boot_loader_name = MBI_NAME_ADDR;
}

int boot_multiboot_prepare(const struct guest_image *img, struct guest_memory *mem,
			   const struct boot_args *args, struct boot_plan *plan, char *err,
			   size_t errlen)
{
	struct mb_header h;
	size_t off;
	uint64_t entry, image_end;
	int r;

	if (find_header(img, &h, &off)) {
		snprintf(err, errlen, "guest image has no multiboot header in its first 8 KiB");
		return -ENOEXEC;
	}
	if ((h.flags & 0xffff) & ~MB_SUPPORTED_REQ) {
		snprintf(err, errlen, "guest needs multiboot features vmig does not offer (flags 0x%x)",
			 h.flags);
		return -ENOEXEC;
	}
	if ((r = load_kernel(img, mem, &h, off, &entry, &image_end, err, errlen)) ||
	    (r = write_cmdline_and_name(mem, args, err, errlen)))
		return r;
	unsigned nmm = write_memory_map(mem);

	/* Modules right above the image, as QEMU's -initrd places them. */
	uint32_t mods_count;
	uint64_t mods_addr;
	if ((r = boot_modules_load(args->modules, mem, image_end, &mods_count, &mods_addr, err,
				   errlen)))
		return r;
	write_info(mem, nmm, mods_count, mods_addr);

	memset(plan, 0, sizeof(*plan));
	plan->mode = BOOT_MULTIBOOT;
	plan->entry = entry;
	plan->nr_vcpus = args->nr_vcpus;
	plan->started_vcpus = 1; /* APs wait for INIT/SIPI, which guestload never sends */
	plan->mbinfo_gpa = MBI_ADDR;
	return 0;
}

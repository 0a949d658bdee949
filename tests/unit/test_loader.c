/* SPDX-License-Identifier: MIT */
/*
 * Guest loaders on hand-made images: multiboot ELF32, direct-boot ELF64,
 * and malformed files, which must all be refused with a message.
 * Guest RAM here is a plain memfd: no KVM is needed.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "unittest.h"
#include "guest_abi.h"
#include "vmm/boot.h"
#include "vmm/x86_defs.h"
#include "module_double.h"

#define SEG_SIZE 0x4000
#define LOAD 0x100000

/* An executable with one PT_LOAD of SEG_SIZE bytes at 1 MiB, bss of 0x2000. */
struct fake_image {
	uint8_t file[0x100 + SEG_SIZE];
	size_t size;
};

static void build_elf(struct fake_image *f, int cls, uint64_t entry)
{
	memset(f, 0, sizeof(*f));
	f->size = sizeof(f->file);
	if (cls == 32) {
		Elf32_Ehdr *eh = (Elf32_Ehdr *)f->file;
		Elf32_Phdr *ph = (Elf32_Phdr *)(f->file + sizeof(*eh));
		memcpy(eh->e_ident, ELFMAG, SELFMAG);
		eh->e_ident[EI_CLASS] = ELFCLASS32;
		eh->e_ident[EI_DATA] = ELFDATA2LSB;
		eh->e_type = ET_EXEC;
		eh->e_machine = EM_386;
		eh->e_entry = (uint32_t)entry;
		eh->e_phoff = sizeof(*eh);
		eh->e_phentsize = sizeof(*ph);
		eh->e_phnum = 1;
		*ph = (Elf32_Phdr){.p_type = PT_LOAD, .p_offset = 0x100, .p_vaddr = LOAD,
				   .p_paddr = LOAD, .p_filesz = SEG_SIZE, .p_memsz = SEG_SIZE + 0x2000};
	} else {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)f->file;
		Elf64_Phdr *ph = (Elf64_Phdr *)(f->file + sizeof(*eh));
		memcpy(eh->e_ident, ELFMAG, SELFMAG);
		eh->e_ident[EI_CLASS] = ELFCLASS64;
		eh->e_ident[EI_DATA] = ELFDATA2LSB;
		eh->e_type = ET_EXEC;
		eh->e_machine = EM_X86_64;
		eh->e_entry = entry;
		eh->e_phoff = sizeof(*eh);
		eh->e_phentsize = sizeof(*ph);
		eh->e_phnum = 1;
		*ph = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = 0x100, .p_vaddr = LOAD,
				   .p_paddr = LOAD, .p_filesz = SEG_SIZE, .p_memsz = SEG_SIZE + 0x2000};
	}
}

static void add_multiboot_header(struct fake_image *f, uint32_t flags)
{
	uint32_t h[3] = {0x1BADB002u, flags, (uint32_t)-(0x1BADB002u + flags)};
	memcpy(f->file + 0x100, h, sizeof(h));
}

static void add_boot_header(struct fake_image *f)
{
	struct vmig_boot_header h = {
		.magic = VMIG_BOOT_HEADER_MAGIC,
		.version = VMIG_ABI_VERSION,
		.size = sizeof(h),
		.entry64 = LOAD + 0x1000,
		.isr_table = LOAD + 0x800,
		.ustack_base = LOAD + SEG_SIZE,
		.ustack_size = 0x80,
		.kstack_base = LOAD + SEG_SIZE + 0x1000,
		.kstack_size = 0x40,
		.max_vcpus = 4,
		.image_end = LOAD + SEG_SIZE + 0x2000,
	};
	memcpy(f->file + 0x110, &h, sizeof(h));
	uint64_t isr[VMIG_NR_ISR];
	for (unsigned i = 0; i < VMIG_NR_ISR; i++)
		isr[i] = LOAD + 0x2000 + i * 16;
	memcpy(f->file + 0x100 + 0x800, isr, sizeof(isr));
}

/* Writes the image to a temp file and reads it back through the loader's reader. */
static int load_image(const struct fake_image *f, struct guest_image *img)
{
	char path[] = "/tmp/vmig-test-XXXXXX";
	char err[256];
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, f->file, f->size) != (ssize_t)f->size)
		return -EIO;
	close(fd);
	int r = guest_image_read(path, img, err, sizeof(err));
	unlink(path);
	return r;
}

TEST(multiboot_elf32)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	char err[256];

	build_elf(&f, 32, LOAD + 0x40);
	add_multiboot_header(&f, 0x3);
	f.file[0x100 + 0x40] = 0xf4; /* hlt at the entry */
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	struct boot_args args = {.cmdline = "ws=8M fill=text", .nr_vcpus = 2, .tsc_khz = 2000000};
	int r = boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err));
	guest_image_free(&img);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(plan.mode, BOOT_MULTIBOOT);
	CHECK_EQ_INT(plan.entry, LOAD + 0x40);
	CHECK_EQ_INT(plan.started_vcpus, 1);
	uint8_t *entry = guest_memory_ptr(&mem, LOAD + 0x40, 1);
	CHECK(entry && *entry == 0xf4);
	uint8_t *bss = guest_memory_ptr(&mem, LOAD + SEG_SIZE, 0x2000);
	CHECK(bss[0] == 0 && bss[0x1fff] == 0);
	uint32_t *mbi = guest_memory_ptr(&mem, plan.mbinfo_gpa, 64);
	CHECK(mbi[0] & (1u << 6));                 /* mmap present */
	CHECK_EQ_INT(mbi[2], ((16u << 20) - 0x100000) >> 10); /* mem_upper KiB */
	const char *cmd = guest_memory_ptr(&mem, mbi[4], 64);
	CHECK_STR(cmd, "ws=8M fill=text tsckhz=2000000");
	guest_memory_destroy(&mem);
}

TEST(multiboot_refuses_elf64_and_missing_header)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	char err[256] = "";
	struct boot_args args = {.nr_vcpus = 1};

	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	build_elf(&f, 64, LOAD);
	add_multiboot_header(&f, 0x3);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK(boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err)) < 0);
	CHECK(strstr(err, "32-bit") != NULL);
	guest_image_free(&img);

	build_elf(&f, 32, LOAD);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK(boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err)) < 0);
	CHECK(strstr(err, "no multiboot header") != NULL);
	guest_image_free(&img);

	build_elf(&f, 32, LOAD);
	add_multiboot_header(&f, 0x4 | 0x3); /* video mode: not offered */
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK(boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err)) < 0);
	guest_image_free(&img);
	guest_memory_destroy(&mem);
}

TEST(direct_entry_tables)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	char err[256];

	build_elf(&f, 64, LOAD + 0x1000);
	add_multiboot_header(&f, 0x3);
	add_boot_header(&f);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK_EQ_INT(guest_memory_init(&mem, 4ull << 30, err, sizeof(err)), 0);
	CHECK_EQ_INT(mem.nr_regions, 2); /* 3 GiB low + 1 GiB at 4 GiB */
	struct boot_args args = {.cmdline = "ws=1M", .nr_vcpus = 2, .tsc_khz = 1234};
	int r = boot_direct_prepare(&img, &mem, &args, &plan, err, sizeof(err));
	guest_image_free(&img);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(plan.entry, LOAD + 0x1000);
	CHECK_EQ_INT(plan.started_vcpus, 2);

	/* 2 MiB identity map covering 5 GiB, user-accessible */
	uint64_t *pml4 = guest_memory_ptr(&mem, VMIG_DIRECT_PGTABLE, 8);
	CHECK(*pml4 & PTE_US);
	uint64_t *pd = guest_memory_ptr(&mem, VMIG_DIRECT_PGTABLE + 0x2000, 5 * 4096);
	CHECK_EQ_INT(pd[3], (3ull << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS);
	CHECK_EQ_INT(pd[5 * 512 - 1] & ~0xfffull, (5ull << 30) - (2ull << 20));

	/* IDT vector 14 points at isr[14]; the halt gate is DPL 3 */
	uint8_t *idt = guest_memory_ptr(&mem, VMIG_DIRECT_IDT, 4096);
	uint16_t lo;
	memcpy(&lo, idt + 14 * 16, 2);
	CHECK_EQ_INT(lo, (LOAD + 0x2000 + 14 * 16) & 0xffff);
	CHECK_EQ_INT((idt[VMIG_HALT_VECTOR * 16 + 5] >> 5) & 3, 3);

	/* TSS of vCPU 1 has RSP0 at the top of its kernel stack */
	uint64_t rsp0;
	memcpy(&rsp0, (uint8_t *)guest_memory_ptr(&mem, VMIG_DIRECT_TSS + TSS_STRIDE, 16) + 4, 8);
	CHECK_EQ_INT(rsp0, LOAD + SEG_SIZE + 0x1000 + 2 * 0x40);

	struct vmig_boot_info *bi = guest_memory_ptr(&mem, VMIG_DIRECT_BOOT_INFO, sizeof(*bi));
	CHECK_EQ_INT(bi->magic, VMIG_BOOT_INFO_MAGIC);
	CHECK_EQ_INT(bi->nr_vcpus, 2);
	CHECK_EQ_INT(bi->tsc_khz, 1234);
	CHECK_EQ_INT(bi->nr_mem, 2);
	CHECK_EQ_INT(bi->mem[0].base, 0x100000);
	CHECK_EQ_INT(bi->mem[1].base, 4ull << 30);
	CHECK_STR((const char *)guest_memory_ptr(&mem, bi->cmdline, 6), "ws=1M");
	guest_memory_destroy(&mem);
}

TEST(direct_refuses_bad_header)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	char err[256] = "";
	struct boot_args args = {.nr_vcpus = 1};

	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	build_elf(&f, 64, LOAD);
	add_boot_header(&f);
	uint64_t bad = 0xdead0000;
	memcpy(f.file + 0x110 + offsetof(struct vmig_boot_header, entry64), &bad, 8);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK(boot_direct_prepare(&img, &mem, &args, &plan, err, sizeof(err)) < 0);
	CHECK(strstr(err, "outside") != NULL);
	guest_image_free(&img);

	build_elf(&f, 64, LOAD);
	add_boot_header(&f);
	args.nr_vcpus = 8; /* header says max 4 */
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK(boot_direct_prepare(&img, &mem, &args, &plan, err, sizeof(err)) < 0);
	CHECK(strstr(err, "at most 4") != NULL);
	guest_image_free(&img);
	guest_memory_destroy(&mem);
}

TEST(image_read_refuses_a_missing_file)
{
	struct guest_image img;
	char err[256] = "";
	CHECK(guest_image_read("/nonexistent/guest.elf", &img, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "cannot open") != NULL);
}

/* A 32-bit multiboot image, as each case below then breaks it. */
static void multiboot_image(struct fake_image *f)
{
	build_elf(f, 32, LOAD);
	add_multiboot_header(f, 3);
}

/* f loads (the reader only reads it), but a multiboot boot of it in 16 MiB
 * is refused, with want in the message when want is not NULL. */
static void check_multiboot_refuses(struct ut_state *ut_, const struct fake_image *f,
				    const char *want)
{
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	struct boot_args args = {.nr_vcpus = 1};
	char err[256] = "";
	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	CHECK_EQ_INT(load_image(f, &img), 0);
	int r = boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err));
	guest_image_free(&img);
	guest_memory_destroy(&mem);
	CHECK(r < 0);
	CHECK(!want || strstr(err, want) != NULL);
}

TEST(multiboot_refuses_a_segment_past_the_end_of_the_file)
{
	struct fake_image f;
	multiboot_image(&f);
	((Elf32_Phdr *)(f.file + sizeof(Elf32_Ehdr)))->p_filesz = 0x100000;
	check_multiboot_refuses(ut_, &f, "outside the file");
}

TEST(multiboot_refuses_a_segment_past_guest_ram)
{
	struct fake_image f;
	multiboot_image(&f);
	((Elf32_Phdr *)(f.file + sizeof(Elf32_Ehdr)))->p_paddr = 0xfff00000u;
	check_multiboot_refuses(ut_, &f, "does not fit");
}

TEST(multiboot_refuses_a_program_header_table_past_the_file)
{
	struct fake_image f;
	multiboot_image(&f);
	((Elf32_Ehdr *)f.file)->e_phoff = 0x7ffffff0;
	check_multiboot_refuses(ut_, &f, NULL);
}

/* Not an ELF at all, though it has a multiboot header. */
TEST(multiboot_refuses_a_file_that_is_not_elf)
{
	struct fake_image f;
	multiboot_image(&f);
	f.file[0] = 'X';
	check_multiboot_refuses(ut_, &f, "not an ELF");
}

/* Random bytes in the headers: both loaders fail cleanly, never crash. */
TEST(loaders_survive_random_header_bytes)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	struct boot_args args = {.nr_vcpus = 1};
	char err[256] = "";
	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	srand(42);
	for (int i = 0; i < 200; i++) {
		build_elf(&f, (i & 1) ? 32 : 64, LOAD);
		add_multiboot_header(&f, 3);
		for (int k = 0; k < 8; k++)
			f.file[rand() % 0x140] = (uint8_t)rand();
		if (load_image(&f, &img) == 0) {
			boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err));
			boot_direct_prepare(&img, &mem, &args, &plan, err, sizeof(err));
			guest_image_free(&img);
		}
	}
	guest_memory_destroy(&mem);
}

/* Two modules in a VM of `mem` bytes: their bytes right above the image,
 * the list at VMIG_DIRECT_MODLIST with each file's name. */
static void check_module_list(struct ut_state *ut_, struct guest_memory *mem, uint64_t list_gpa,
			      uint32_t count)
{
	CHECK_EQ_INT(count, 2);
	CHECK_EQ_INT(list_gpa, VMIG_DIRECT_MODLIST);
	const struct vmig_module *m = guest_memory_ptr(mem, list_gpa, 2 * sizeof(*m));
	CHECK_EQ_INT(m[0].mod_start, LOAD + SEG_SIZE + 0x2000); /* image end, page aligned */
	CHECK_EQ_INT(m[0].mod_end, m[0].mod_start + 5);
	CHECK_EQ_INT(m[1].mod_start, m[0].mod_start + 0x1000);
	CHECK_EQ_INT(m[1].mod_end, m[1].mod_start + 3);
	CHECK(!memcmp(guest_memory_ptr(mem, m[0].mod_start, 5), "first", 5));
	CHECK(!memcmp(guest_memory_ptr(mem, m[1].mod_start, 3), "two", 3));
	CHECK_STR((const char *)guest_memory_ptr(mem, m[0].string, 5), "a.bin");
	CHECK_STR((const char *)guest_memory_ptr(mem, m[1].string, 9), "dir/b.txt");
}

/* Two module files as memfd doubles. */
static void test_mods(struct boot_module m[2])
{
	m[0] = module_double("a.bin", "first", 5);
	m[1] = module_double("dir/b.txt", "two", 3);
}

TEST(multiboot_lists_modules)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	struct boot_module two[2];
	struct boot_modules mods = {2, two};
	char err[256];

	build_elf(&f, 32, LOAD + 0x40);
	add_multiboot_header(&f, 0x3);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	test_mods(two);
	struct boot_args args = {.nr_vcpus = 1, .modules = &mods};
	int r = boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err));
	module_double_close(two, 2);
	guest_image_free(&img);
	CHECK_EQ_INT(r, 0);
	uint32_t *mbi = guest_memory_ptr(&mem, plan.mbinfo_gpa, 64);
	CHECK(mbi[0] & (1u << 3)); /* mods_count and mods_addr are valid */
	check_module_list(ut_, &mem, mbi[6], mbi[5]);
	guest_memory_destroy(&mem);
}

TEST(direct_lists_modules)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	struct boot_module two[2];
	struct boot_modules mods = {2, two};
	char err[256];

	build_elf(&f, 64, LOAD + 0x1000);
	add_boot_header(&f);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	test_mods(two);
	struct boot_args args = {.nr_vcpus = 1, .modules = &mods};
	int r = boot_direct_prepare(&img, &mem, &args, &plan, err, sizeof(err));
	module_double_close(two, 2);
	guest_image_free(&img);
	CHECK_EQ_INT(r, 0);
	struct vmig_boot_info *bi = guest_memory_ptr(&mem, VMIG_DIRECT_BOOT_INFO, sizeof(*bi));
	check_module_list(ut_, &mem, bi->mods_addr, bi->mods_count);
	guest_memory_destroy(&mem);
}

TEST(modules_too_large_for_the_vm_are_refused)
{
	struct fake_image f;
	struct guest_image img;
	struct guest_memory mem;
	struct boot_plan plan;
	/* refused on its size, before anything is read */
	struct boot_module one = {.name = "big.bin", .fd = -1, .size = 15 << 20};
	struct boot_modules mods = {1, &one};
	char err[256];

	build_elf(&f, 32, LOAD + 0x40);
	add_multiboot_header(&f, 0x3);
	CHECK_EQ_INT(load_image(&f, &img), 0);
	CHECK_EQ_INT(guest_memory_init(&mem, 16 << 20, err, sizeof(err)), 0);
	struct boot_args args = {.nr_vcpus = 1, .modules = &mods};
	int r = boot_multiboot_prepare(&img, &mem, &args, &plan, err, sizeof(err));
	guest_image_free(&img);
	CHECK_EQ_INT(r, -E2BIG);
	CHECK(strstr(err, "the modules do not fit in guest RAM") != NULL);
	guest_memory_destroy(&mem);
}

RUN_TESTS("loader", UT(multiboot_elf32), UT(multiboot_refuses_elf64_and_missing_header),
	  UT(direct_entry_tables), UT(direct_refuses_bad_header),
	  UT(image_read_refuses_a_missing_file),
	  UT(multiboot_refuses_a_segment_past_the_end_of_the_file),
	  UT(multiboot_refuses_a_segment_past_guest_ram),
	  UT(multiboot_refuses_a_program_header_table_past_the_file),
	  UT(multiboot_refuses_a_file_that_is_not_elf), UT(loaders_survive_random_header_bytes),
	  UT(multiboot_lists_modules), UT(direct_lists_modules),
	  UT(modules_too_large_for_the_vm_are_refused))

/* SPDX-License-Identifier: MIT */
/*
 * guestload's module pages (guest/modules.c), run on the host: which
 * bytes of which page belong to a module, and the check that must count
 * a changed page once. Module addresses are 32-bit, so guest RAM here is
 * a buffer mapped below 2 GiB (MAP_32BIT).
 */
#include <stdint.h>
#include <sys/mman.h>

#include "unittest.h"
#include "../../guest/modules.h"

#define RAM_SIZE (64u << 12)

static uint8_t *ram(void)
{
	static uint8_t *p;
	if (!p) {
		p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			 -1, 0);
		if (p == MAP_FAILED)
			p = NULL;
	}
	return p;
}

/* Two modules: 5000 bytes from page 1, 3 bytes from page 4 + 0x100 (a
 * loader that does not page-align); the "image" ends at page 1. */
static int setup(struct module_pages *M, uint64_t *hashes, const char **why)
{
	uint8_t *r = ram();
	uint32_t base = (uint32_t)(uintptr_t)r;
	static struct vmig_module list[2];
	struct vmig_boot_info bi = {0};

	for (unsigned i = 0; i < RAM_SIZE; i++)
		r[i] = (uint8_t)(i * 7 + 1);
	list[0] = (struct vmig_module){base + 0x1000, base + 0x1000 + 5000, 0, 0};
	list[1] = (struct vmig_module){base + 0x4100, base + 0x4103, 0, 0};
	bi.mods_addr = (uint64_t)(uintptr_t)list;
	bi.mods_count = 2;
	int rc = modules_init(M, &bi, (uint64_t)base + 0x1000, why);
	M->hash = hashes;
	return rc;
}

TEST(pages_and_bytes_of_each_module)
{
	struct module_pages M;
	uint64_t hashes[8], at;
	const char *why = "";
	unsigned len;

	if (!ram())
		SKIP_TEST("no memory below 2 GiB (mmap MAP_32BIT)");
	uintptr_t base = (uintptr_t)ram();
	CHECK_EQ_INT(setup(&M, hashes, &why), 0);
	CHECK_EQ_INT(M.count, 2);
	CHECK_EQ_INT(M.pages, 3); /* 5000 B: 2 pages; 3 B: 1 page */
	CHECK_EQ_INT(M.end, base + 0x5000);
	CHECK_EQ_INT(modules_page(&M, 1, &at, &len), base + 0x2000);
	CHECK_EQ_INT(at, base + 0x2000);
	CHECK_EQ_INT(len, 5000 - 4096); /* only the bytes the module holds */
	CHECK_EQ_INT(modules_page(&M, 2, &at, &len), base + 0x4000);
	CHECK_EQ_INT(at, base + 0x4100);
	CHECK_EQ_INT(len, 3);
}

TEST(a_changed_page_counts_once)
{
	struct module_pages M;
	uint64_t hashes[8];
	const char *why = "";

	if (!ram())
		SKIP_TEST("no memory below 2 GiB (mmap MAP_32BIT)");
	CHECK_EQ_INT(setup(&M, hashes, &why), 0);
	modules_hash_range(&M, 0, M.pages);
	for (uint64_t i = 0; i < M.pages; i++)
		CHECK_EQ_INT(modules_check_page(&M, i), 0);
	modules_corrupt_page(&M, 1);
	CHECK_EQ_INT(modules_check_page(&M, 0), 0);
	CHECK_EQ_INT(modules_check_page(&M, 1), 1);
	CHECK_EQ_INT(modules_check_page(&M, 1), 0); /* its new hash stands: once */
	CHECK_EQ_INT(M.bad, 1);
}

TEST(swapped_words_and_bytes_outside_are_told_apart)
{
	struct module_pages M;
	uint64_t hashes[8], w[2];
	const char *why = "";

	if (!ram())
		SKIP_TEST("no memory below 2 GiB (mmap MAP_32BIT)");
	CHECK_EQ_INT(setup(&M, hashes, &why), 0);
	modules_hash_range(&M, 0, M.pages);
	uint8_t *p = ram() + 0x1000;
	memcpy(w, p + 64, 16); /* swap two words: same sum, other order */
	memcpy(p + 64, &w[1], 8);
	memcpy(p + 72, &w[0], 8);
	CHECK_EQ_INT(modules_check_page(&M, 0), 1);
	ram()[0x4000] ^= 1; /* in page 2 but before the module's bytes */
	ram()[0x4103] ^= 1; /* and after them */
	CHECK_EQ_INT(modules_check_page(&M, 2), 0);
}

TEST(init_refuses_a_module_over_the_image)
{
	struct module_pages M;
	struct vmig_module list[1] = {{0x100000, 0x101000, 0, 0}};
	struct vmig_boot_info bi = {.mods_addr = (uint64_t)(uintptr_t)list, .mods_count = 1};
	const char *why = "";

	CHECK_EQ_INT(modules_init(&M, &bi, 0x200000, &why), -1);
	CHECK_STR(why, "a boot module overlaps the guest image");
	list[0] = (struct vmig_module){0x300000, 0x2ff000, 0, 0};
	CHECK_EQ_INT(modules_init(&M, &bi, 0x200000, &why), -1);
	CHECK_STR(why, "a boot module ends before it starts");
}

TEST(no_module_list_is_no_modules)
{
	struct module_pages M;
	struct vmig_boot_info bi = {0};
	const char *why = "";

	CHECK_EQ_INT(modules_init(&M, &bi, 0x200000, &why), 0);
	CHECK_EQ_INT(M.count, 0);
	CHECK_EQ_INT(M.pages, 0);
	CHECK_EQ_INT(M.end, 0);
}

/* The sweep once asked a guest with no modules for "module page" 65623:
 * with no hashes (hash NULL) the check wrote its slot at address 0x80000
 * of guest RAM, over the page tables. An index past the end is no page. */
TEST(a_page_past_the_end_is_not_read_or_written)
{
	struct module_pages M;
	struct vmig_boot_info bi = {0};
	const char *why = "";

	CHECK_EQ_INT(modules_init(&M, &bi, 0x200000, &why), 0);
	CHECK_EQ_INT(modules_check_page(&M, 65623), 0);
	CHECK_EQ_INT(M.bad, 0);
}

TEST(a_page_past_the_last_module_is_not_checked)
{
	struct module_pages M;
	uint64_t hashes[8] = {0};
	const char *why = "";
	if (!ram())
		SKIP_TEST("no memory below 2 GiB (mmap MAP_32BIT)");
	CHECK_EQ_INT(setup(&M, hashes, &why), 0);
	modules_hash_range(&M, 0, M.pages);
	uint64_t past = hashes[M.pages];

	CHECK_EQ_INT(modules_check_page(&M, M.pages), 0);
	CHECK_EQ_INT(hashes[M.pages], past);
	CHECK_EQ_INT(M.bad, 0);
}

RUN_TESTS("guest_modules", UT(pages_and_bytes_of_each_module), UT(a_changed_page_counts_once),
	  UT(swapped_words_and_bytes_outside_are_told_apart),
	  UT(init_refuses_a_module_over_the_image), UT(no_module_list_is_no_modules),
	  UT(a_page_past_the_end_is_not_read_or_written),
	  UT(a_page_past_the_last_module_is_not_checked))

/* SPDX-License-Identifier: MIT */
/* Zero-page detection: the SIMD paths (where the host has them) and the
 * portable ones must give the same answer for every page. */
#include <stdlib.h>
#include <string.h>

#include "migration/ram.h"
#include "unittest.h"

static _Alignas(64) uint8_t page[VMIG_PAGE_SIZE + 1], copy[VMIG_PAGE_SIZE + 1];

/* One answer from all four functions, or -1 if they disagree. */
static int zero_verdict(const uint8_t *p)
{
	bool a = page_is_zero(p), b = page_is_zero_generic(p);
	memset(copy, 0xaa, sizeof(copy));
	bool c = page_copy_is_zero(copy, p);
	bool ok_c = !memcmp(copy, p, VMIG_PAGE_SIZE);
	memset(copy, 0xaa, sizeof(copy));
	bool d = page_copy_is_zero_generic(copy, p);
	bool ok_d = !memcmp(copy, p, VMIG_PAGE_SIZE);
	if (a != b || a != c || a != d || !ok_c || !ok_d)
		return -1;
	return a;
}

TEST(all_zero_page)
{
	memset(page, 0, sizeof(page));
	CHECK_EQ_INT(zero_verdict(page), 1);
}

TEST(one_byte_set_anywhere)
{
	for (unsigned i = 0; i < VMIG_PAGE_SIZE; i++) {
		memset(page, 0, sizeof(page));
		page[i] = 0x80;
		CHECK_EQ_INT(zero_verdict(page), 0);
	}
}

TEST(unaligned_pages)
{
	/* the engine reads guest pages in place: alignment is not promised */
	memset(page, 0, sizeof(page));
	CHECK_EQ_INT(zero_verdict(page + 1), 1);
	page[VMIG_PAGE_SIZE] = 1;
	CHECK_EQ_INT(zero_verdict(page + 1), 0);
}

TEST(random_pages_agree)
{
	srand(3);
	for (int k = 0; k < 2000; k++) {
		memset(page, 0, sizeof(page));
		for (int j = rand() % 3; j > 0; j--)
			page[rand() % VMIG_PAGE_SIZE] = (uint8_t)(rand() | 1);
		CHECK(zero_verdict(page) >= 0);
	}
}

RUN_TESTS("zeropage", UT(all_zero_page), UT(one_byte_set_anywhere), UT(unaligned_pages),
	  UT(random_pages_agree))

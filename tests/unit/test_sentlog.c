/* SPDX-License-Identifier: MIT */
/* The source's record of pages sent per unacknowledged pass (sentlog.h):
 * what a resume sends again. */
#include <stdlib.h>
#include <string.h>

#include "migration/sentlog.h"
#include "unittest.h"

/* Two regions of 100 and 70 pages: bitmaps of 2 words each. */
static void two_regions(struct ram_map *ram)
{
	memset(ram, 0, sizeof(*ram));
	ram->nr = 2;
	ram->pages[0] = 100;
	ram->pages[1] = 70;
	ram->first_page[1] = 100;
	ram->total_pages = 170;
}

/* Marks page p of region r as sent in the open pass. */
static void mark(uint64_t *bits[VMIG_MAX_RAM_REGIONS], unsigned r, uint64_t p)
{
	bits[r][p / 64] |= 1ull << (p % 64);
}

static bool has(uint64_t *const *dirty, unsigned r, uint64_t p)
{
	return dirty[r][p / 64] >> (p % 64) & 1;
}

TEST(resend_takes_only_passes_after_the_held_one)
{
	struct ram_map ram;
	struct sentlog l;
	uint64_t *open[VMIG_MAX_RAM_REGIONS];
	uint64_t d0[2] = {0}, d1[2] = {0};
	uint64_t *dirty[2] = {d0, d1};
	two_regions(&ram);
	sentlog_init(&l, &ram);
	CHECK_EQ_INT(sentlog_begin(&l, 1, open), 0);
	mark(open, 0, 3);
	CHECK_EQ_INT(sentlog_begin(&l, 2, open), 0);
	mark(open, 0, 70);
	mark(open, 1, 69);
	CHECK_EQ_INT(sentlog_begin(&l, 3, open), 0);
	mark(open, 1, 69); /* again: counted once */
	d1[1] = 1ull << (69 - 64); /* already dirty: not counted as added */
	CHECK_EQ_INT(sentlog_resend(&l, 1, dirty), 1);
	CHECK(!has(dirty, 0, 3) && has(dirty, 0, 70) && has(dirty, 1, 69));
	CHECK_EQ_INT(l.nr, 0); /* forgotten once resent */
	sentlog_free(&l);
}

TEST(confirmed_passes_are_forgotten)
{
	struct ram_map ram;
	struct sentlog l;
	uint64_t *open[VMIG_MAX_RAM_REGIONS];
	uint64_t d0[2] = {0}, d1[2] = {0};
	uint64_t *dirty[2] = {d0, d1};
	two_regions(&ram);
	sentlog_init(&l, &ram);
	CHECK_EQ_INT(sentlog_begin(&l, 1, open), 0);
	mark(open, 0, 1);
	CHECK_EQ_INT(sentlog_begin(&l, 2, open), 0);
	mark(open, 0, 2);
	sentlog_confirm(&l, 1);
	CHECK_EQ_INT(l.nr, 1);
	uint64_t *p2[VMIG_MAX_RAM_REGIONS];
	CHECK_EQ_INT(sentlog_pass_bits(&l, 1, p2), 0);
	CHECK_EQ_INT(sentlog_pass_bits(&l, 2, p2), 1);
	CHECK_EQ_INT(sentlog_resend(&l, 0, dirty), 1);
	CHECK(!has(dirty, 0, 1) && has(dirty, 0, 2));
	sentlog_free(&l);
}

/* Beyond SENTLOG_MAX_PASSES the oldest two merge under the newer number:
 * a page is then sent again whenever either pass would have been. */
TEST(merged_passes_resend_conservatively)
{
	struct ram_map ram;
	struct sentlog l;
	uint64_t *open[VMIG_MAX_RAM_REGIONS];
	uint64_t d0[2] = {0}, d1[2] = {0};
	uint64_t *dirty[2] = {d0, d1};
	two_regions(&ram);
	sentlog_init(&l, &ram);
	for (uint64_t pass = 1; pass <= SENTLOG_MAX_PASSES + 1; pass++) {
		CHECK_EQ_INT(sentlog_begin(&l, pass, open), 0);
		mark(open, 0, pass);
	}
	CHECK_EQ_INT(l.nr, SENTLOG_MAX_PASSES);
	/* pass 1 was folded into pass 2: holding pass 1 still resends its page */
	CHECK_EQ_INT(sentlog_resend(&l, 1, dirty), SENTLOG_MAX_PASSES + 1);
	CHECK(has(dirty, 0, 1) && has(dirty, 0, 2));
	sentlog_free(&l);
}

RUN_TESTS("test_sentlog", UT(resend_takes_only_passes_after_the_held_one),
	  UT(confirmed_passes_are_forgotten), UT(merged_passes_resend_conservatively))

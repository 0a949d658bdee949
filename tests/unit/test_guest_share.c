/* SPDX-License-Identifier: MIT */
/*
 * guestload's split of page ranges between vCPUs (guest/share.h), run on
 * the host: the background sweep's shares cover the static pages once,
 * whatever writers= says, and a vCPU without a share of the working set
 * gets an empty one.
 */
#include <stdint.h>

#include "unittest.h"
#include "../../guest/share.h"

TEST(sweep_shares_cover_the_pages_once)
{
	uint64_t total = 65536 + 3, next = 0;
	for (unsigned v = 0; v < 3; v++) {
		uint64_t lo, hi;
		share_of(total, v, 3, &lo, &hi);
		CHECK_EQ_INT(lo, next);
		CHECK(hi >= lo);
		next = hi;
	}
	CHECK_EQ_INT(next, total);
}

/* writers=1 on 2 vCPUs: the non-writer's sweep share was [total, 2*total). */
TEST(a_non_writer_sweeps_within_the_pages)
{
	uint64_t lo, hi;
	share_of(65536, 1, 2, &lo, &hi);
	CHECK_EQ_INT(lo, 32768);
	CHECK_EQ_INT(hi, 65536);
}

TEST(a_vcpu_past_the_parts_gets_nothing)
{
	uint64_t lo = 7, hi = 9;
	share_of(1000, 1, 1, &lo, &hi);
	CHECK_EQ_INT(lo, 0);
	CHECK_EQ_INT(hi, 0);
}

RUN_TESTS("guest_share", UT(sweep_shares_cover_the_pages_once),
	  UT(a_non_writer_sweeps_within_the_pages), UT(a_vcpu_past_the_parts_gets_nothing))

/* SPDX-License-Identifier: MIT */
#include "policy/switchover.h"

bool switchover_now(struct switchover_state *s, const struct switchover_limits *l, uint64_t pass,
		    uint64_t expect_ms, uint64_t dirty, uint64_t prev_dirty)
{
	if (expect_ms > l->limit_ms)
		return false;
	if (expect_ms <= l->limit_ms / 32)
		return true;
	bool shrinking = prev_dirty != SWITCHOVER_NO_PREVIOUS &&
			 dirty * 100 < prev_dirty * SWITCHOVER_SHRINK_PERCENT;
	if (pass == 1)
		shrinking = true; /* pass 1 is all of RAM: no trend yet */
	if (!shrinking && expect_ms <= l->goal_ms)
		return true;
	return ++s->extra_passes > SWITCHOVER_MAX_EXTRA_PASSES;
}

uint64_t switchover_expected_ms(double secs, uint64_t pages, uint64_t dirty)
{
	return pages ? (uint64_t)(secs / (double)pages * (double)dirty * 1000.0) : 0;
}

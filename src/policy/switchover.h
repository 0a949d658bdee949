/* SPDX-License-Identifier: MIT */
/*
 * When to stop copying and pause the guest: once the expected pause fits
 * the downtime limit; but while each pass still shrinks the dirty set
 * well (to under 60 % of the one before), one more pass costs little and
 * cuts the pause by that ratio, so keep going (at most 8 extra passes)
 * until the pause is expected under 1/32 of the limit (about 10 ms by
 * default). Pure: numbers in, a yes or no out.
 */
#ifndef VMIG_POLICY_SWITCHOVER_H
#define VMIG_POLICY_SWITCHOVER_H

#include <stdbool.h>
#include <stdint.h>

#define SWITCHOVER_SHRINK_PERCENT 60
#define SWITCHOVER_MAX_EXTRA_PASSES 8
#define SWITCHOVER_NO_PREVIOUS UINT64_MAX /* prev_dirty of the first pass */

struct switchover_state {
	unsigned extra_passes; /* passes made only to shrink the pause */
};

/* After pass `pass`, expecting expect_ms of pause for `dirty` pages, when
 * the pass before left prev_dirty. */
bool switchover_now(struct switchover_state *s, uint64_t limit_ms, uint64_t pass,
		    uint64_t expect_ms, uint64_t dirty, uint64_t prev_dirty);

/* The pause to send `dirty` pages at the pace of a pass that sent `pages`
 * in `secs`: the time per page of the pass just sent predicts the next
 * one; zero pages are cheap, so this adapts to the guest's mix. 0 after
 * a pass that sent nothing. */
uint64_t switchover_expected_ms(double secs, uint64_t pages, uint64_t dirty);

#endif

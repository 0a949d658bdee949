/* SPDX-License-Identifier: MIT */
/*
 * When to stop copying and pause the guest: once the expected pause fits
 * the downtime limit; but while each pass still shrinks the dirty set
 * well (to under 60 % of the one before), one more pass costs little and
 * cuts the pause by that ratio, so keep going (at most 8 extra passes)
 * until the pause is expected under 1/32 of the limit (about 10 ms by
 * default). A set that stopped shrinking switches once its pause fits the
 * goal (the limit, unless the caller aims lower: the auto policy aims at
 * SWITCHOVER_GOAL_MS while its throttle can still rise, and the passes
 * it waits count as extra passes). Pure: numbers in, a yes or no out.
 */
#ifndef VMIG_POLICY_SWITCHOVER_H
#define VMIG_POLICY_SWITCHOVER_H

#include <stdbool.h>
#include <stdint.h>

#define SWITCHOVER_SHRINK_PERCENT 60
#define SWITCHOVER_MAX_EXTRA_PASSES 8
#define SWITCHOVER_NO_PREVIOUS UINT64_MAX /* prev_dirty of the first pass */
/*
 * The pause the auto policy aims at within the limit (300 ms, QEMU's
 * default). 1G-tight on KVM: the set stopped shrinking at a 92-96 %
 * throttle with 53-76 ms expected, under the limit, and the pauses came
 * to 74-86 ms; one more pass with the throttle raised cuts that.
 */
#define SWITCHOVER_GOAL_MS 50

struct switchover_state {
	unsigned extra_passes; /* passes made only to shrink the pause */
};

/* The pauses allowed: limit_ms at most; goal_ms (<= limit_ms) for a set
 * that stopped shrinking while extra passes remain. */
struct switchover_limits {
	uint64_t limit_ms, goal_ms;
};

/* After pass `pass`, expecting expect_ms of pause for `dirty` pages, when
 * the pass before left prev_dirty. */
bool switchover_now(struct switchover_state *s, const struct switchover_limits *l, uint64_t pass,
		    uint64_t expect_ms, uint64_t dirty, uint64_t prev_dirty);

/* The pause to send `dirty` pages at the pace of a pass that sent `pages`
 * in `secs`: the time per page of the pass just sent predicts the next
 * one; zero pages are cheap, so this adapts to the guest's mix. 0 after
 * a pass that sent nothing. */
uint64_t switchover_expected_ms(double secs, uint64_t pages, uint64_t dirty);

#endif

/* SPDX-License-Identifier: MIT */
/* The dirty-rate controller alone (policy/dirtyrate.c): measured rates in,
 * a throttle share out. */
#include <stdio.h>

#include "policy/dirtyrate.h"
#include "policy/throttle.h"
#include "unittest.h"

#define MiB (1048576.0)

/* A pass of one second (long enough to lower the share). */
static unsigned after(const struct dirtyrate_cfg *c, struct dirtyrate_state *s, double dirty_bps,
		      double ram_bps)
{
	return dirtyrate_after_pass(
	    c, s, &(struct dirtyrate_pass){.dirty_bps = dirty_bps, .ram_bps = ram_bps, .secs = 1});
}

/* Each row: one pass, the controller already acting (engaged). */
struct row {
	const char *what;
	uint64_t limit;       /* bytes/s, 0: from the link */
	unsigned before;      /* throttle in force during the pass */
	double dirty_mibs, ram_mibs;
	unsigned expect;
};

static const struct row rows[] = {
	{"dirtying under half the link: no throttle", 0, 0, 40, 100, 0},
	{"twice the link: 75 % brings it to half", 0, 0, 200, 100, 75},
	{"just over half the link: a small share", 0, 0, 60, 100, 17},
	{"under a throttle, the unthrottled rate is what counts", 0, 50, 100, 100, 75},
	{"a throttle that overshot comes down, 20 points a pass", 0, 80, 10, 100, 60},
	{"a small throttle that overshot is lifted", 0, 15, 5, 100, 0},
	{"too little throttle is corrected up", 0, 40, 90, 100, 67},
	{"a 1-point correction is noise", 0, 50, 51, 100, 50},
	{"never past the cap", 0, 0, 100000, 100, 95},
	{"no link figure, no limit: unchanged", 0, 30, 500, 0, 30},
	{"a dirty limit caps the rate whatever the link", 64 << 20, 0, 256, 1000, 75},
	{"under the dirty limit: nothing", 64 << 20, 0, 32, 1, 0},
	{"the dirty limit, corrected under a throttle", 64 << 20, 75, 80, 1000, 80},
};

TEST(each_row_gives_its_share)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct dirtyrate_cfg c = {.limit = r->limit, .max_pct = 95};
		struct dirtyrate_state s = {.pct = r->before, .engaged = true};
		unsigned got = after(&c, &s, r->dirty_mibs * MiB, r->ram_mibs * MiB);
		if (got != r->expect)
			fprintf(stderr, "row '%s': %u%%, want %u%%\n", r->what, got, r->expect);
		CHECK_EQ_INT(got, r->expect);
		CHECK_EQ_INT(s.pct, got);
		CHECK_EQ_INT(s.changes, got != r->before ? 1 : 0);
	}
}

/* A guest dirtying 300 MiB/s unthrottled, linearly in its CPU share, over a
 * link moving 100 MiB/s of RAM: passes needed until one dirties at most half
 * of what the link moves (the set then halves each pass). */
static unsigned passes_to_shrink(bool dirty_rate)
{
	struct dirtyrate_cfg dc = {.max_pct = 99};
	struct dirtyrate_state ds = {0};
	struct throttle_cfg tc;
	struct throttle_state ts = {0};
	throttle_cfg_default(&tc);
	unsigned pct = 0;
	for (unsigned pass = 1; pass <= 100; pass++) {
		double dirty = 300 * MiB * (100 - pct) / 100.0, link = 100 * MiB;
		if (dirty <= link / 2)
			return pass;
		pct = dirty_rate ? after(&dc, &ds, dirty, link)
				 : throttle_after_pass(&tc, &ts, (uint64_t)dirty, (uint64_t)link);
	}
	return 100;
}

TEST(reaches_the_needed_share_in_one_pass_where_steps_take_many)
{
	unsigned direct = passes_to_shrink(true), steps = passes_to_shrink(false);
	fprintf(stderr, "passes until the dirty set shrinks: dirty-rate %u, auto-converge %u\n",
		direct, steps);
	CHECK_EQ_INT(direct, 3); /* two passes over the target, then 84 % at once */
	CHECK(steps > 10);       /* 20 %, then 10 more every second pass, to 90 % */
}

/* A guest that dirties more than its CPU share says (a hot set rewritten
 * at any speed above half counts once per pass): the first share is too
 * small, and the next pass's measure corrects it until the target is met. */
TEST(corrects_a_guest_the_model_misjudges)
{
	struct dirtyrate_cfg c = {.max_pct = 99};
	struct dirtyrate_state s = {0};
	unsigned pct = 0, pass;
	for (pass = 1; pass <= 20; pass++) {
		double share = (100 - pct) / 100.0;
		double dirty = 300 * MiB * (share > 0.5 ? 1.0 : 2 * share);
		if (dirty <= 50 * MiB)
			break;
		pct = after(&c, &s, dirty, 100 * MiB);
	}
	CHECK_EQ_INT(pass, 4);
	CHECK_EQ_INT(s.changes, 2); /* 84 % after the second pass, then corrected to 92 % */
	CHECK_EQ_INT(pct, 92);
}

TEST(one_noisy_pass_throttles_nobody)
{
	struct dirtyrate_cfg c = {.max_pct = 99};
	struct dirtyrate_state s = {0};
	CHECK_EQ_INT(after(&c, &s, 200 * MiB, 100 * MiB), 0);
	CHECK_EQ_INT(after(&c, &s, 10 * MiB, 100 * MiB), 0);
	CHECK_EQ_INT(after(&c, &s, 200 * MiB, 100 * MiB), 75); /* the second */
	CHECK(s.engaged);
}

TEST(a_dirty_limit_acts_from_the_first_pass)
{
	struct dirtyrate_cfg c = {.limit = 64 << 20, .max_pct = 99};
	struct dirtyrate_state s = {0};
	CHECK_EQ_INT(after(&c, &s, 256 * MiB, 1000 * MiB), 75);
}

/* A short pass under 99 %, in which the vCPU hardly ran, measured almost
 * no dirtying: the share falls a step, not to nothing (it fell to 0 on
 * KVM, and the guest dirtied its whole hot set again). */
TEST(a_pass_that_saw_no_dirtying_under_a_high_throttle_lowers_it_a_step)
{
	struct dirtyrate_cfg c = {.max_pct = 99};
	struct dirtyrate_state s = {.pct = 99, .engaged = true};
	CHECK_EQ_INT(after(&c, &s, 0.01 * MiB, 26 * MiB), 99 - DIRTYRATE_MAX_DROP);
}

/* The same pass measured in 4 ms (a few hundred pages into the socket
 * buffers): too short to say the guest went quiet, the share stays. */
TEST(a_pass_too_short_to_measure_does_not_lower_the_share)
{
	struct dirtyrate_cfg c = {.max_pct = 99};
	struct dirtyrate_state s = {.pct = 99, .engaged = true};
	struct dirtyrate_pass p = {.dirty_bps = 0, .ram_bps = 26 * MiB, .secs = 0.004};
	CHECK_EQ_INT(dirtyrate_after_pass(&c, &s, &p), 99);
	CHECK_EQ_INT(s.changes, 0);
}

/* A short pass that saw the guest dirty fast did see it: the share rises. */
TEST(a_pass_too_short_to_measure_may_still_raise_the_share)
{
	struct dirtyrate_cfg c = {.max_pct = 99};
	struct dirtyrate_state s = {.pct = 50, .engaged = true};
	struct dirtyrate_pass p = {.dirty_bps = 100 * MiB, .ram_bps = 100 * MiB, .secs = 0.004};
	CHECK_EQ_INT(dirtyrate_after_pass(&c, &s, &p), 75);
}

RUN_TESTS("dirtyrate", UT(each_row_gives_its_share),
	  UT(a_pass_that_saw_no_dirtying_under_a_high_throttle_lowers_it_a_step), UT(one_noisy_pass_throttles_nobody),
	  UT(a_dirty_limit_acts_from_the_first_pass),
	  UT(a_pass_too_short_to_measure_does_not_lower_the_share),
	  UT(a_pass_too_short_to_measure_may_still_raise_the_share),
	  UT(reaches_the_needed_share_in_one_pass_where_steps_take_many),
	  UT(corrects_a_guest_the_model_misjudges))

/* SPDX-License-Identifier: MIT */
/* When to pause the guest, and the pause expected (policy/switchover.c),
 * one rule per test. */
#include "policy/switchover.h"
#include "unittest.h"

/* The caller's limit alone (the fixed policy): goal = limit. */
static bool now_at(struct switchover_state *s, uint64_t limit_ms, uint64_t pass, uint64_t expect_ms,
		   uint64_t dirty, uint64_t prev_dirty)
{
	struct switchover_limits l = {.limit_ms = limit_ms, .goal_ms = limit_ms};
	return switchover_now(s, &l, pass, expect_ms, dirty, prev_dirty);
}

static const struct switchover_limits AUTO = {.limit_ms = 300, .goal_ms = SWITCHOVER_GOAL_MS};

TEST(over_the_limit_keeps_copying)
{
	struct switchover_state s = {0};
	CHECK(!now_at(&s, 300, 3, 301, 1000, 5000));
}

TEST(far_under_the_limit_switches_at_once)
{
	struct switchover_state s = {0};
	CHECK(now_at(&s, 320, 3, 10, 1000, 1100));
}

TEST(under_the_limit_and_no_longer_shrinking_switches)
{
	struct switchover_state s = {0};
	CHECK(now_at(&s, 300, 3, 200, 900, 1000)); /* 90 % of the pass before */
}

TEST(under_the_limit_but_shrinking_fast_takes_another_pass)
{
	struct switchover_state s = {0};
	CHECK(!now_at(&s, 300, 3, 200, 500, 1000)); /* 50 % */
	CHECK_EQ_INT(s.extra_passes, 1);
}

TEST(pass_one_always_earns_another_pass)
{
	struct switchover_state s = {0};
	CHECK(!now_at(&s, 300, 1, 200, 1000, SWITCHOVER_NO_PREVIOUS));
}

TEST(extra_passes_are_bounded)
{
	struct switchover_state s = {0};
	unsigned n = 0;
	while (!now_at(&s, 300, 2 + n, 200, 1, 1000) && n < 100)
		n++;
	CHECK_EQ_INT(n, SWITCHOVER_MAX_EXTRA_PASSES);
}

/* 1000 pages in 2 s: 2 ms a page, so 50 dirty pages take 100 ms. */
TEST(expected_pause_is_the_pass_pace_times_the_dirty_pages)
{
	CHECK_EQ_INT(switchover_expected_ms(2.0, 1000, 50), 100);
}

TEST(a_pass_that_sent_nothing_expects_no_pause)
{
	CHECK_EQ_INT(switchover_expected_ms(0.5, 0, 1000), 0);
}

/* The auto policy, its throttle able to rise: a set no longer shrinking
 * with 53 ms expected waits a pass rather than pause that long. */
TEST(not_shrinking_over_the_goal_takes_another_pass)
{
	struct switchover_state s = {0};
	CHECK(!switchover_now(&s, &AUTO, 12, 53, 1425, 2121));
	CHECK_EQ_INT(s.extra_passes, 1);
}

TEST(not_shrinking_within_the_goal_switches)
{
	struct switchover_state s = {0};
	CHECK(switchover_now(&s, &AUTO, 12, 40, 1425, 2121));
}

TEST(waiting_for_the_goal_is_bounded)
{
	struct switchover_state s = {0};
	unsigned n = 0;
	while (!switchover_now(&s, &AUTO, 12 + n, 200, 1000, 1000) && n < 100)
		n++;
	CHECK_EQ_INT(n, SWITCHOVER_MAX_EXTRA_PASSES);
}

RUN_TESTS("switchover", UT(over_the_limit_keeps_copying), UT(far_under_the_limit_switches_at_once),
	  UT(under_the_limit_and_no_longer_shrinking_switches),
	  UT(under_the_limit_but_shrinking_fast_takes_another_pass),
	  UT(pass_one_always_earns_another_pass), UT(extra_passes_are_bounded),
	  UT(expected_pause_is_the_pass_pace_times_the_dirty_pages),
	  UT(a_pass_that_sent_nothing_expects_no_pause),
	  UT(not_shrinking_over_the_goal_takes_another_pass),
	  UT(not_shrinking_within_the_goal_switches), UT(waiting_for_the_goal_is_bounded))

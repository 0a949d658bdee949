/* SPDX-License-Identifier: MIT */
/* When to pause the guest, and the pause expected (policy/switchover.c),
 * one rule per test. */
#include "policy/switchover.h"
#include "unittest.h"

TEST(over_the_limit_keeps_copying)
{
	struct switchover_state s = {0};
	CHECK(!switchover_now(&s, 300, 3, 301, 1000, 5000));
}

TEST(far_under_the_limit_switches_at_once)
{
	struct switchover_state s = {0};
	CHECK(switchover_now(&s, 320, 3, 10, 1000, 1100));
}

TEST(under_the_limit_and_no_longer_shrinking_switches)
{
	struct switchover_state s = {0};
	CHECK(switchover_now(&s, 300, 3, 200, 900, 1000)); /* 90 % of the pass before */
}

TEST(under_the_limit_but_shrinking_fast_takes_another_pass)
{
	struct switchover_state s = {0};
	CHECK(!switchover_now(&s, 300, 3, 200, 500, 1000)); /* 50 % */
	CHECK_EQ_INT(s.extra_passes, 1);
}

TEST(pass_one_always_earns_another_pass)
{
	struct switchover_state s = {0};
	CHECK(!switchover_now(&s, 300, 1, 200, 1000, SWITCHOVER_NO_PREVIOUS));
}

TEST(extra_passes_are_bounded)
{
	struct switchover_state s = {0};
	unsigned n = 0;
	while (!switchover_now(&s, 300, 2 + n, 200, 1, 1000) && n < 100)
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

RUN_TESTS("switchover", UT(over_the_limit_keeps_copying), UT(far_under_the_limit_switches_at_once),
	  UT(under_the_limit_and_no_longer_shrinking_switches),
	  UT(under_the_limit_but_shrinking_fast_takes_another_pass),
	  UT(pass_one_always_earns_another_pass), UT(extra_passes_are_bounded),
	  UT(expected_pause_is_the_pass_pace_times_the_dirty_pages),
	  UT(a_pass_that_sent_nothing_expects_no_pause))

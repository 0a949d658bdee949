/* SPDX-License-Identifier: MIT */
/* Auto-converge's decision alone (policy/throttle.c): numbers in, percent out. */
#include <errno.h>

#include "policy/throttle.h"
#include "unittest.h"

#define MiB (1ull << 20)

static struct throttle_cfg qemu_defaults(void)
{
	struct throttle_cfg c;
	throttle_cfg_default(&c);
	return c;
}

TEST(defaults_are_qemus)
{
	struct throttle_cfg c = qemu_defaults();
	CHECK_EQ_INT(c.trigger_pct, 50);
	CHECK_EQ_INT(c.initial_pct, 20);
	CHECK_EQ_INT(c.increment_pct, 10);
	CHECK_EQ_INT(c.max_pct, 99);
	CHECK(!c.tailslow);
}

TEST(below_the_threshold_nothing_happens)
{
	struct throttle_cfg c = qemu_defaults();
	struct throttle_state s = {0};
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(throttle_after_pass(&c, &s, 50 * MiB, 100 * MiB), 0);
	CHECK_EQ_INT(s.steps, 0);
}

TEST(second_pass_over_the_threshold_starts_at_initial)
{
	struct throttle_cfg c = qemu_defaults();
	struct throttle_state s = {0};
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 51 * MiB, 100 * MiB), 0);
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 51 * MiB, 100 * MiB), 20);
	CHECK_EQ_INT(s.steps, 1);
}

TEST(over_passes_need_not_be_consecutive)
{
	/* QEMU counts passes over the threshold since the last step */
	struct throttle_cfg c = qemu_defaults();
	struct throttle_state s = {0};
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 90 * MiB, 100 * MiB), 0);
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 10 * MiB, 100 * MiB), 0);
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 90 * MiB, 100 * MiB), 20);
}

TEST(steps_of_increment_up_to_max)
{
	struct throttle_cfg c = qemu_defaults();
	struct throttle_state s = {0};
	unsigned want[] = {20, 30, 40, 50, 60, 70, 80, 90, 99, 99};
	for (unsigned i = 0; i < 10; i++) {
		throttle_after_pass(&c, &s, 200 * MiB, 100 * MiB);
		CHECK_EQ_INT(throttle_after_pass(&c, &s, 200 * MiB, 100 * MiB), want[i]);
	}
	CHECK_EQ_INT(s.steps, 9);
}

TEST(tailslow_takes_only_the_step_the_excess_needs)
{
	struct throttle_cfg c = qemu_defaults();
	c.tailslow = true;
	struct throttle_state s = {.pct = 50};
	/* dirtied 55 MiB against a 50 MiB threshold: 50 % CPU * 50/55 = 45.5 %,
	 * so 4 more points, not 10 */
	throttle_after_pass(&c, &s, 55 * MiB, 100 * MiB);
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 55 * MiB, 100 * MiB), 54);
}

TEST(tailslow_never_exceeds_increment)
{
	struct throttle_cfg c = qemu_defaults();
	c.tailslow = true;
	struct throttle_state s = {.pct = 20};
	throttle_after_pass(&c, &s, 500 * MiB, 100 * MiB);
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 500 * MiB, 100 * MiB), 30);
}

TEST(initial_above_max_is_capped)
{
	struct throttle_cfg c = qemu_defaults();
	c.initial_pct = 60;
	c.max_pct = 40;
	struct throttle_state s = {0};
	throttle_after_pass(&c, &s, 200 * MiB, 100 * MiB);
	CHECK_EQ_INT(throttle_after_pass(&c, &s, 200 * MiB, 100 * MiB), 40);
}

TEST(bad_settings_are_refused)
{
	char err[128];
	struct throttle_cfg c = qemu_defaults();
	c.max_pct = 100;
	CHECK_EQ_INT(throttle_cfg_check(&c, err, sizeof(err)), -EINVAL);
	c = qemu_defaults();
	c.trigger_pct = 0;
	CHECK_EQ_INT(throttle_cfg_check(&c, err, sizeof(err)), -EINVAL);
	c = qemu_defaults();
	CHECK_EQ_INT(throttle_cfg_check(&c, err, sizeof(err)), 0);
}

#define MS 1000000ull

TEST(up_to_90_percent_the_cycle_is_qemus_10_ms_slice)
{
	struct throttle_cycle c;
	throttle_cycle_of(20, &c);
	CHECK(c.period_ns == 10 * MS && c.sleep_ns == 2 * MS && c.run_ns == 8 * MS);
	throttle_cycle_of(90, &c);
	CHECK(c.period_ns == 10 * MS && c.sleep_ns == 9 * MS && c.run_ns == 1 * MS);
}

TEST(above_90_percent_the_cycle_grows_to_run_a_whole_ms)
{
	struct throttle_cycle c;
	throttle_cycle_of(95, &c);
	CHECK(c.run_ns == 1 * MS && c.period_ns == 20 * MS && c.sleep_ns == 19 * MS);
}

/* QEMU stops a vCPU 990 ms at a time at 99 %; here 99 ms, the same share. */
TEST(at_99_percent_a_stop_lasts_99_ms_not_990)
{
	struct throttle_cycle c;
	throttle_cycle_of(99, &c);
	CHECK(c.sleep_ns == 99 * MS && c.run_ns == 1 * MS);
	CHECK_EQ_INT(c.sleep_ns * 100 / c.period_ns, 99);
}

TEST(every_percentage_keeps_its_share_within_a_percent)
{
	for (unsigned p = 1; p <= 99; p++) {
		struct throttle_cycle c;
		throttle_cycle_of(p, &c);
		double share = 100.0 * (double)c.sleep_ns / (double)c.period_ns;
		if (share < p - 1.0 || share > p + 1.0 || c.run_ns < THROTTLE_MIN_RUN_NS ||
		    c.run_ns + c.sleep_ns != c.period_ns)
			CHECK(!"a cycle left its share or ran under the minimum");
	}
}

RUN_TESTS("throttle", UT(defaults_are_qemus), UT(below_the_threshold_nothing_happens),
	  UT(second_pass_over_the_threshold_starts_at_initial), UT(over_passes_need_not_be_consecutive),
	  UT(steps_of_increment_up_to_max), UT(tailslow_takes_only_the_step_the_excess_needs),
	  UT(tailslow_never_exceeds_increment), UT(initial_above_max_is_capped),
	  UT(bad_settings_are_refused), UT(up_to_90_percent_the_cycle_is_qemus_10_ms_slice),
	  UT(above_90_percent_the_cycle_grows_to_run_a_whole_ms),
	  UT(at_99_percent_a_stop_lasts_99_ms_not_990),
	  UT(every_percentage_keeps_its_share_within_a_percent))

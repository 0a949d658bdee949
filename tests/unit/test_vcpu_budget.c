/* SPDX-License-Identifier: MIT */
/* The per-vCPU dirty limit's arithmetic (vmm/vcpu_budget.c): numbers in, numbers out. */
#include <math.h>

#include "unittest.h"
#include "vmm/vcpu_budget.h"

#define MS 1000000ull
#define SEC (1000 * MS)
#define T0 (100 * SEC) /* any monotonic time well past 0 */

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-6 * (fabs(b) + 1);
}

TEST(pages_within_the_banked_credit_hold_nobody)
{
	/* an idle vCPU banks 100 ms: 50 pages at 1000 pages/s is 50 ms */
	struct vcpu_budget b = {0};
	CHECK_EQ_INT(vcpu_budget_charge(&b, 50, 1000, T0), 0);
}

TEST(pages_past_the_budget_hold_until_time_catches_up)
{
	/* 1000 pages at 1000 pages/s: 1 s of dirtying, less the 100 ms banked */
	struct vcpu_budget b = {0};
	CHECK_EQ_INT(vcpu_budget_charge(&b, 1000, 1000, T0), T0 + 900 * MS);
}

TEST(charges_add_up)
{
	struct vcpu_budget b = {0};
	vcpu_budget_charge(&b, 100, 1000, T0);                        /* 100 ms: the credit */
	CHECK_EQ_INT(vcpu_budget_charge(&b, 200, 1000, T0), T0 + 200 * MS);
	CHECK_EQ_INT(vcpu_budget_charge(&b, 200, 1000, T0 + 100 * MS), T0 + 400 * MS);
}

TEST(an_idle_vcpu_banks_no_more_than_the_burst)
{
	struct vcpu_budget b = {0};
	vcpu_budget_charge(&b, 10, 1000, T0);
	/* a minute idle: still only 100 ms of credit */
	CHECK_EQ_INT(vcpu_budget_charge(&b, 300, 1000, T0 + 60 * SEC), T0 + 60 * SEC + 200 * MS);
}

TEST(a_late_burst_holds_at_most_the_longest_hold)
{
	/* a whole pass-1 ring collected at once: forgiven beyond 1 s */
	struct vcpu_budget b = {0};
	CHECK_EQ_INT(vcpu_budget_charge(&b, 1000000, 1000, T0), T0 + VCPU_BUDGET_MAX_DEBT_NS);
	CHECK_EQ_INT(vcpu_budget_charge(&b, 1000000, 1000, T0), T0 + VCPU_BUDGET_MAX_DEBT_NS);
}

TEST(a_hold_under_a_millisecond_is_not_worth_a_kick)
{
	struct vcpu_budget b = {0};
	vcpu_budget_charge(&b, 100, 1000, T0); /* the credit used up */
	CHECK_EQ_INT(vcpu_budget_charge(&b, 0, 1000, T0), 0);
	struct vcpu_budget c = {.vclock_ns = T0 + MS / 2};
	CHECK_EQ_INT(vcpu_budget_charge(&c, 0, 1000, T0), 0);
}

TEST(one_dirtying_vcpu_gets_what_the_idle_ones_leave)
{
	double demand[4] = {5000, 0, 0, 0}, rate[4];
	bool held[4] = {true, false, false, false};
	vcpu_budget_split(1000, 4, demand, held, rate);
	CHECK(near(rate[0], 1000));
	/* the idle ones keep an equal share, should they start dirtying */
	CHECK(near(rate[1], 250) && near(rate[2], 250) && near(rate[3], 250));
}

TEST(two_held_vcpus_share_alike)
{
	double demand[2] = {900, 300}, rate[2];
	bool held[2] = {true, true};
	vcpu_budget_split(1000, 2, demand, held, rate);
	CHECK(near(rate[0], 500) && near(rate[1], 500));
}

TEST(a_light_dirtier_keeps_its_demand_the_heavy_one_the_rest)
{
	double demand[3] = {100, 2000, 0}, rate[3];
	bool held[3] = {false, true, false};
	vcpu_budget_split(1200, 3, demand, held, rate);
	CHECK(near(rate[1], 1100));
	/* 100 wanted, but never below an equal share (400) */
	CHECK(near(rate[0], 400) && near(rate[2], 400));
}

TEST(held_vcpus_get_exactly_what_the_others_leave)
{
	/* steady state: what the unheld dirty plus the held ones' rates is the limit */
	double demand[5] = {10, 350, 20, 5000, 90}, rate[5];
	bool held[5] = {false, false, false, true, false};
	vcpu_budget_split(1000, 5, demand, held, rate);
	double used = demand[0] + demand[2] + demand[4] + rate[3];
	CHECK(rate[1] >= 350);
	CHECK(near(used + (rate[1] < 350 ? rate[1] : 350), 1000));
}

TEST(nobody_short_shares_the_spare_alike)
{
	double demand[2] = {100, 500}, rate[2];
	bool held[2] = {false, false};
	vcpu_budget_split(1000, 2, demand, held, rate);
	CHECK(near(rate[0], 500)); /* 100 + 200 spare, raised to the equal share */
	CHECK(near(rate[1], 700));
}

RUN_TESTS("vcpu_budget", UT(pages_within_the_banked_credit_hold_nobody),
	  UT(pages_past_the_budget_hold_until_time_catches_up), UT(charges_add_up),
	  UT(an_idle_vcpu_banks_no_more_than_the_burst), UT(a_late_burst_holds_at_most_the_longest_hold),
	  UT(a_hold_under_a_millisecond_is_not_worth_a_kick),
	  UT(one_dirtying_vcpu_gets_what_the_idle_ones_leave), UT(two_held_vcpus_share_alike),
	  UT(a_light_dirtier_keeps_its_demand_the_heavy_one_the_rest),
	  UT(held_vcpus_get_exactly_what_the_others_leave), UT(nobody_short_shares_the_spare_alike))

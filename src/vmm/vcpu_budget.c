/* SPDX-License-Identifier: MIT */
#include "vmm/vcpu_budget.h"

uint64_t vcpu_budget_charge(struct vcpu_budget *b, uint64_t pages, double rate_pps,
			    uint64_t now_ns)
{
	uint64_t floor = now_ns > VCPU_BUDGET_BURST_NS ? now_ns - VCPU_BUDGET_BURST_NS : 0;
	uint64_t v = b->vclock_ns > floor ? b->vclock_ns : floor;
	double cost = (double)pages * 1e9 / rate_pps;
	uint64_t cap = now_ns + VCPU_BUDGET_MAX_DEBT_NS;
	v = v >= cap || cost >= (double)(cap - v) ? cap : v + (uint64_t)cost;
	b->vclock_ns = v;
	return v > now_ns && v - now_ns >= VCPU_BUDGET_MIN_HOLD_NS ? v : 0;
}

void vcpu_budget_split(double limit_pps, unsigned n, const double *demand_pps, const bool *held,
		       double *rate_pps)
{
	double left = limit_pps;
	unsigned open = n;

	/* Water-filling: settle every vCPU that wants no more than an even
	 * share of what is left; each one settled raises the share. A rate
	 * below 0 marks one not settled yet. */
	for (unsigned i = 0; i < n; i++)
		rate_pps[i] = -1;
	for (bool progress = true; progress && open;) {
		double share = left / open;
		progress = false;
		for (unsigned i = 0; i < n; i++) {
			if (rate_pps[i] >= 0 || held[i] || demand_pps[i] > share)
				continue;
			rate_pps[i] = demand_pps[i];
			left -= demand_pps[i];
			open--;
			progress = true;
		}
	}
	/* The ones short of their demand share what is left; if nobody is
	 * short, the spare goes to everybody alike. */
	double share = open ? left / open : 0, spare = open ? 0 : left / n;
	double equal = limit_pps / n;
	for (unsigned i = 0; i < n; i++) {
		double r = rate_pps[i] >= 0 ? rate_pps[i] + spare : share;
		rate_pps[i] = r > equal ? r : equal;
	}
}

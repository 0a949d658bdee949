/* SPDX-License-Identifier: MIT */
/*
 * The per-vCPU dirty limit's arithmetic (pure: numbers in, numbers out).
 *
 * With the dirty ring the VMM knows how many pages each vCPU dirtied, so
 * a VM-wide dirty limit (bytes/s) is enforced per vCPU: each vCPU gets a
 * rate, and a vCPU that dirtied more than its rate allows is held before
 * it runs again. A vCPU that only computes dirties nothing and is never
 * held.
 *
 * Pacing: each vCPU has a virtual clock that every dirtied page advances
 * by 1/rate; when it runs ahead of real time, the vCPU waits until real
 * time catches up. An idle vCPU may bank at most VCPU_BUDGET_BURST_NS of
 * credit, and debt beyond VCPU_BUDGET_MAX_DEBT_NS is forgiven, so that a
 * burst collected late (a big ring filled during pass 1) never freezes a
 * vCPU for long: it is held again at its next collection instead.
 *
 * Sharing: the limit is split max-min fairly from what each vCPU dirtied
 * in the last window: a vCPU that wants less than an equal share keeps
 * what it wants, the rest is shared by those that want more (a vCPU that
 * was held counts as wanting more), and no vCPU gets less than an equal
 * share, so one that starts dirtying is never starved until the next
 * split. The held ones together get exactly what the others leave.
 */
#ifndef VMIG_VMM_VCPU_BUDGET_H
#define VMIG_VMM_VCPU_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#define VCPU_BUDGET_BURST_NS 100000000ull    /* 100 ms of credit an idle vCPU keeps */
#define VCPU_BUDGET_MAX_DEBT_NS 1000000000ull /* 1 s: the longest a vCPU is held at once */
#define VCPU_BUDGET_WINDOW_NS 200000000ull   /* rates are re-split this often */
#define VCPU_BUDGET_MIN_HOLD_NS 1000000ull   /* 1 ms: a shorter hold is not worth a kick */

struct vcpu_budget {
	uint64_t vclock_ns; /* 0: never charged */
};

/*
 * Charges `pages` dirtied at `rate_pps` (pages/s, > 0) at time now_ns
 * (monotonic). Returns the time the vCPU must wait until, or 0 if it may
 * run on (it is less than VCPU_BUDGET_MIN_HOLD_NS ahead).
 */
uint64_t vcpu_budget_charge(struct vcpu_budget *b, uint64_t pages, double rate_pps,
			    uint64_t now_ns);

/*
 * Splits limit_pps among n vCPUs (n >= 1) from demand_pps[i] (what each
 * dirtied per second in the last window) and held[i] (whether it was held:
 * it wanted more than it got). Fills rate_pps[i].
 */
void vcpu_budget_split(double limit_pps, unsigned n, const double *demand_pps, const bool *held,
		       double *rate_pps);

#endif

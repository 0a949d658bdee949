/* SPDX-License-Identifier: MIT */
/*
 * The per-vCPU dirty limit: with the dirty ring, a VM-wide limit on the
 * guest's dirty rate is enforced vCPU by vCPU, from what each one dirtied
 * (vmm/vcpu_budget.h has the arithmetic). Every ring walk charges each
 * vCPU for its pages; one that ran past its budget is held before it
 * enters the guest again: at once if the walk was its own ring-full exit,
 * else after a kick. vCPUs that do not dirty memory never wait.
 *
 * Without the ring the VMM cannot tell the vCPUs apart, and the engine's
 * timed throttle (throttle.c, every vCPU alike) does the job instead.
 */
#ifndef VMIG_VMM_DIRTYLIMIT_H
#define VMIG_VMM_DIRTYLIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/vcpu_budget.h"

struct dirty_limit {
	pthread_mutex_t lock;
	bool lock_init;
	uint64_t limit_bps;         /* under lock (atomic for readers): 0: off */
	unsigned nr;                /* vCPUs */
	struct vcpu_budget *budget; /* under lock, per vCPU */
	double *rate_pps;           /* under lock: each vCPU's share of the limit */
	double *demand_pps;         /* under lock: scratch for the split */
	uint64_t *win_pages;        /* under lock: pages each dirtied in this window */
	bool *win_held;             /* under lock: held in this window */
	uint64_t win_start_ns;
};

#endif

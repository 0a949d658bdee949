/* SPDX-License-Identifier: MIT */
/*
 * Auto-converge: when the guest dirties memory faster than the link can
 * carry it, slow its vCPUs down in steps until passes shrink. QEMU's
 * meaning and defaults, so that results compare: after a pass, if the
 * bytes dirtied during it exceed trigger_pct of the bytes it sent (for
 * the second time since the last step), throttle to `initial` percent, then `increment` more each time
 * (or, tail-slow, just what the measured ratio says is needed), up to
 * `max`. Pure logic: numbers in, a percentage out.
 */
#ifndef VMIG_POLICY_THROTTLE_H
#define VMIG_POLICY_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THROTTLE_DEFAULT_TRIGGER 50
#define THROTTLE_DEFAULT_INITIAL 20
#define THROTTLE_DEFAULT_INCREMENT 10
#define THROTTLE_DEFAULT_MAX 99
/* QEMU's CPU_THROTTLE_TIMESLICE: at p %, a vCPU is kept out of the guest
 * p % of every slice (src/vmm/throttle.c; bench/enginesim's guest double). */
#define THROTTLE_SLICE_NS 10000000ull
/* The least a throttled vCPU runs between two stops: above 90 % a 10 ms
 * slice would leave it under 1 ms (0.1 ms at 99 %), finer than the kick
 * and the sleep's timer place it; the slice grows instead, the share kept. */
#define THROTTLE_MIN_RUN_NS 1000000ull

/* One throttle cycle: a vCPU runs run_ns, then is stopped sleep_ns. */
struct throttle_cycle {
	uint64_t period_ns, run_ns, sleep_ns;
};

struct throttle_cfg {
	unsigned trigger_pct;   /* dirtied > this % of sent counts as "too fast" (1..100) */
	unsigned initial_pct;   /* first step (1..99) */
	unsigned increment_pct; /* each later step (1..99) */
	unsigned max_pct;       /* never more (1..99) */
	bool tailslow;          /* later steps only as large as the measured excess needs */
};

struct throttle_state {
	unsigned pct;           /* in force now, 0: none */
	unsigned high_cnt;      /* passes that dirtied too fast since the last step */
	unsigned steps;         /* changes made */
};

/* Fills QEMU's defaults. */
void throttle_cfg_default(struct throttle_cfg *c);
/* Checks ranges; returns 0 or -EINVAL with a message. */
int throttle_cfg_check(const struct throttle_cfg *c, char *err, size_t errlen);

/*
 * The cycle at pct (1..99): sleep_ns is pct of period_ns, the period
 * THROTTLE_SLICE_NS, or longer where that would leave under
 * THROTTLE_MIN_RUN_NS to run. Each stop is so at most 99 ms (at 99 %);
 * QEMU runs a whole slice and then stops the vCPU p/(1-p) of it, 990 ms at
 * 99 %, a stall the guest sees (a throttled migration's guest-observed
 * pause read 570-810 ms on the engine, its downtime 6-10 ms).
 */
void throttle_cycle_of(unsigned pct, struct throttle_cycle *c);

/*
 * After a pass that sent xfer_bytes while the guest dirtied dirty_bytes.
 * Returns the throttle to apply now (the same as before if no change).
 */
unsigned throttle_after_pass(const struct throttle_cfg *c, struct throttle_state *s,
			     uint64_t dirty_bytes, uint64_t xfer_bytes);

#endif

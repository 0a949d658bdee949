/* SPDX-License-Identifier: MIT */
/*
 * The dirty-rate controller: the vCPU throttle that brings the guest's
 * dirty rate down to a target, computed from what a pass measured rather
 * than found in auto-converge's fixed steps, and corrected every pass.
 *
 * The model: a vCPU throttled to p % runs (100 - p) % of the time and
 * dirties memory in proportion, so a pass that measured rate D under p
 * says the guest unthrottled would dirty D / (1 - p). The share that
 * brings that to the target T is 1 - T (1 - p) / D. Real guests are not
 * that linear (a hot set rewritten again counts once), so the next pass
 * measures again and the share is recomputed from it: too little and it
 * rises, with no fixed step size; too much and it falls, at most
 * DIRTYRATE_MAX_DROP points a pass.
 *
 * The target: the caller's dirty limit (a cap on the guest's rate,
 * whatever the link), or else DIRTYRATE_TARGET_PCT of the rate the link
 * moved guest RAM at, so that each pass is at most that share of the
 * one before and the passes shrink to the downtime limit. Like
 * auto-converge, it first acts after two passes over the target (not
 * necessarily in a row), so one noisy pass throttles nobody; from then on
 * it corrects every pass. A dirty limit acts from the first pass. Pure:
 * numbers in, a percentage out.
 */
#ifndef VMIG_POLICY_DIRTYRATE_H
#define VMIG_POLICY_DIRTYRATE_H

#include <stdbool.h>
#include <stdint.h>

#define DIRTYRATE_TARGET_PCT 50 /* of the link's RAM rate: each pass half the last */
#define DIRTYRATE_MIN_CHANGE 2  /* percentage points: smaller corrections are noise */
#define DIRTYRATE_ENGAGE_PASSES 2 /* passes over the target before the first throttle */
/*
 * Percentage points the share may fall after one pass. Up, it goes where
 * the model says at once; down, a step at a time: a short pass under a
 * high throttle, in which the vCPU hardly ran, measures next to nothing,
 * and the model then reads the guest as idle. On KVM (the slow cell: 64
 * MiB of whole pages rewritten over 100 Mbit/s) the share fell 99 % -> 0
 * mid-migration three times in one 96 s run, and each time the guest
 * dirtied its whole hot set again.
 */
#define DIRTYRATE_MAX_DROP 20
/*
 * A pass shorter than this measured too little to lower the share: at
 * 99 % a vCPU runs 0.1 ms of each 10 ms slice, and a pass of a few
 * hundred pages leaves the socket buffers in 4 ms. On KVM (the slow
 * cell) three such passes read "dirtying 0.0 MiB/s" and lowered the
 * share 99 -> 79 -> 59 -> 39 %, the guest dirtied its whole 64 MiB hot
 * set again, and the throttle started over: 75 s against 59 s. It may
 * still rise: a short pass that saw the guest dirty fast did see it.
 */
#define DIRTYRATE_MIN_WINDOW_MS 100

struct dirtyrate_cfg {
	uint64_t limit;   /* bytes/s the guest may dirty; 0: what the link needs */
	unsigned max_pct; /* never throttle more (1..99) */
};

struct dirtyrate_state {
	unsigned pct;     /* in force now, 0: none */
	unsigned changes; /* times it changed */
	unsigned high;    /* passes over the target so far, until it first acts */
	bool engaged;     /* it has acted: every pass corrects from now on */
};

/* What a pass measured: over secs, the guest dirtied dirty_bps (bytes of
 * RAM per second, under the throttle in force) while the link moved
 * ram_bps of guest RAM. */
struct dirtyrate_pass {
	double dirty_bps, ram_bps, secs;
};

/*
 * After a pass: the throttle to apply now (s->pct if no change). Without
 * a link figure (0) and no limit, nothing changes.
 */
unsigned dirtyrate_after_pass(const struct dirtyrate_cfg *c, struct dirtyrate_state *s,
			      const struct dirtyrate_pass *p);

#endif

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "policy/throttle.h"

void throttle_cfg_default(struct throttle_cfg *c)
{
	*c = (struct throttle_cfg){.trigger_pct = THROTTLE_DEFAULT_TRIGGER,
				   .initial_pct = THROTTLE_DEFAULT_INITIAL,
				   .increment_pct = THROTTLE_DEFAULT_INCREMENT,
				   .max_pct = THROTTLE_DEFAULT_MAX};
}

int throttle_cfg_check(const struct throttle_cfg *c, char *err, size_t errlen)
{
	if (c->trigger_pct < 1 || c->trigger_pct > 100) {
		snprintf(err, errlen, "throttle trigger threshold %u%% is not 1..100", c->trigger_pct);
		return -EINVAL;
	}
	if (c->initial_pct < 1 || c->initial_pct > 99 || c->increment_pct < 1 ||
	    c->increment_pct > 99 || c->max_pct < 1 || c->max_pct > 99) {
		snprintf(err, errlen, "throttle steps must be 1..99%% (initial %u, increment %u, max %u)",
			 c->initial_pct, c->increment_pct, c->max_pct);
		return -EINVAL;
	}
	return 0;
}

/* The next step up from s->pct. */
static unsigned step_up(const struct throttle_cfg *c, const struct throttle_state *s,
			uint64_t dirty_bytes, uint64_t threshold)
{
	if (!s->pct)
		return c->initial_pct < c->max_pct ? c->initial_pct : c->max_pct;
	unsigned inc = c->increment_pct;
	if (c->tailslow) {
		/* the CPU share that would bring the dirty rate down to the
		 * threshold, if dirtying scales with CPU time */
		double cpu_now = 100.0 - s->pct;
		double cpu_ideal = cpu_now * ((double)threshold / (double)dirty_bytes);
		double need = cpu_now - cpu_ideal;
		if (need < inc)
			inc = need < 1 ? 1 : (unsigned)need;
	}
	unsigned next = s->pct + inc;
	return next < c->max_pct ? next : c->max_pct;
}

unsigned throttle_after_pass(const struct throttle_cfg *c, struct throttle_state *s,
			     uint64_t dirty_bytes, uint64_t xfer_bytes)
{
	uint64_t threshold = xfer_bytes / 100 * c->trigger_pct + xfer_bytes % 100 * c->trigger_pct / 100;
	/* Like QEMU: two passes over the threshold, not necessarily in a row. */
	if (dirty_bytes <= threshold || ++s->high_cnt < 2)
		return s->pct;
	s->high_cnt = 0;
	unsigned next = step_up(c, s, dirty_bytes, threshold);
	if (next != s->pct)
		s->steps++;
	s->pct = next;
	return next;
}

void throttle_cycle_of(unsigned pct, struct throttle_cycle *c)
{
	if (pct > 99)
		pct = 99;
	uint64_t period = THROTTLE_SLICE_NS, run = period * (100 - pct) / 100;
	if (run < THROTTLE_MIN_RUN_NS) {
		run = THROTTLE_MIN_RUN_NS;
		period = run * 100 / (100 - pct);
	}
	*c = (struct throttle_cycle){.period_ns = period, .run_ns = run, .sleep_ns = period - run};
}

/* SPDX-License-Identifier: MIT */
#include "migration/converge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "migration/sender_internal.h"

enum converge_mode { CONVERGE_OFF, CONVERGE_STEPS, CONVERGE_DIRTY_RATE, CONVERGE_DIRTY_LIMIT };
static const char *const mode_names[] = {"", "auto-converge", "dirty-rate", "dirty-limit"};

/* Which controller runs, if any: a dirty limit holds whatever the rest says. */
static enum converge_mode mode_of(const struct vmig_migrate_params *p)
{
	if (p->dirty_limit)
		return CONVERGE_DIRTY_LIMIT;
	if (!p->auto_converge)
		return CONVERGE_OFF;
	return p->throttle_mode == VMIG_THROTTLE_DIRTY_RATE ? CONVERGE_DIRTY_RATE : CONVERGE_STEPS;
}

const char *converge_mode_name(const struct vmig_migrate_params *p)
{
	return mode_names[mode_of(p)];
}

int converge_take_params(struct vmig_migration *m, char *err, size_t errlen)
{
	const struct vmig_migrate_params *p = &m->p;
	struct throttle_cfg *c = &m->thr_cfg;
	throttle_cfg_default(c);
	m->dr_cfg = (struct dirtyrate_cfg){.limit = p->dirty_limit, .max_pct = c->max_pct};
	if (p->throttle_mode != VMIG_THROTTLE_STEPS && p->throttle_mode != VMIG_THROTTLE_DIRTY_RATE) {
		snprintf(err, errlen, "unknown throttle mode %d", (int)p->throttle_mode);
		return -EINVAL;
	}
	if (!p->auto_converge && !p->dirty_limit)
		return 0;
	if (!m->g.ops || !m->g.ops->throttle) {
		snprintf(err, errlen, "%s needs a guest that can be throttled",
			 p->dirty_limit ? "a dirty limit" : "auto-converge");
		return -EOPNOTSUPP;
	}
	c->trigger_pct = p->throttle_trigger_pct ? p->throttle_trigger_pct : c->trigger_pct;
	c->initial_pct = p->throttle_initial_pct ? p->throttle_initial_pct : c->initial_pct;
	c->increment_pct = p->throttle_increment_pct ? p->throttle_increment_pct : c->increment_pct;
	c->max_pct = p->throttle_max_pct ? p->throttle_max_pct : c->max_pct;
	c->tailslow = p->throttle_tailslow;
	m->dr_cfg.max_pct = c->max_pct;
	return throttle_cfg_check(c, err, errlen);
}

/* Applies a vCPU throttle through the guest and reports it. */
static void set_throttle(struct vmig_migration *m, unsigned pct)
{
	if (!m->g.ops->throttle)
		return;
	int r = m->g.ops->throttle(m->g.opaque, pct);
	if (r)
		log_warn("the guest refused a %u%% vCPU throttle: %s", pct, strerror(-r));
	else
		m->throttle_pct = pct;
	pthread_mutex_lock(&m->lock);
	m->st.throttle_pct = m->throttle_pct;
	m->st.throttle_steps = m->thr.steps + m->dr.changes;
	snprintf(m->st.throttle_mode, sizeof(m->st.throttle_mode), "%s", converge_mode_name(&m->p));
	pthread_mutex_unlock(&m->lock);
}

bool converge_can_tighten(const struct vmig_migration *m)
{
	enum converge_mode mode = mode_of(&m->p);
	return (mode == CONVERGE_STEPS || mode == CONVERGE_DIRTY_RATE) &&
	       m->throttle_pct < m->thr_cfg.max_pct;
}

void converge_lift(struct vmig_migration *m)
{
	if (m->throttle_pct) {
		log_debug("vCPU throttle lifted");
		m->thr.pct = 0;
		m->dr.pct = 0;
		set_throttle(m, 0);
	}
}

void converge_after_pass(struct vmig_migration *m, uint64_t pages, uint64_t dirty_pages,
			 uint64_t xfer, double secs)
{
	enum converge_mode mode = mode_of(&m->p);
	if (mode == CONVERGE_OFF || secs <= 0)
		return;
	unsigned before = m->throttle_pct, now;
	double dirty_bps = (double)dirty_pages * VMIG_PAGE_SIZE / secs;
	if (mode == CONVERGE_STEPS)
		now = throttle_after_pass(&m->thr_cfg, &m->thr, dirty_pages * VMIG_PAGE_SIZE, xfer);
	else
		now = dirtyrate_after_pass(
		    &m->dr_cfg, &m->dr,
		    &(struct dirtyrate_pass){.dirty_bps = dirty_bps,
					     .ram_bps = (double)pages * VMIG_PAGE_SIZE / secs,
					     .secs = secs});
	if (now == before)
		return;
	log_info("%s: vCPUs throttled to %u%% after pass %llu (dirtying %.1f MiB/s, %.1f MiB of "
		 "RAM moved in %.2f s)", mode_names[mode], now, (unsigned long long)m->pass,
		 dirty_bps / 1048576.0, (double)pages * VMIG_PAGE_SIZE / 1048576.0, secs);
	set_throttle(m, now);
}

/* SPDX-License-Identifier: MIT */
#include "policy/dirtyrate.h"

/* The share (0..max) that brings an unthrottled rate `full` to target. */
static unsigned share_for(double full, double target, unsigned max_pct)
{
	if (full <= target || full <= 0)
		return 0;
	double exact = 100.0 * (1.0 - target / full);
	unsigned pct = (unsigned)exact;
	if (exact - pct > 1e-6) /* rounded up, but 80.0000001 (rounding error) is 80 */
		pct++;
	return pct >= max_pct ? max_pct : pct;
}

unsigned dirtyrate_after_pass(const struct dirtyrate_cfg *c, struct dirtyrate_state *s,
			      const struct dirtyrate_pass *p)
{
	double target = c->limit ? (double)c->limit : p->ram_bps * DIRTYRATE_TARGET_PCT / 100.0;
	if (target <= 0 || p->dirty_bps < 0)
		return s->pct;
	/* what the guest would dirty unthrottled, by the proportional model */
	double full = p->dirty_bps / (1.0 - s->pct / 100.0);
	unsigned next = share_for(full, target, c->max_pct);
	if (!s->engaged && !c->limit && (!next || ++s->high < DIRTYRATE_ENGAGE_PASSES))
		return s->pct;
	s->engaged = true;
	if (next < s->pct && p->secs * 1000.0 < DIRTYRATE_MIN_WINDOW_MS)
		return s->pct;
	if (next + DIRTYRATE_MAX_DROP < s->pct)
		next = s->pct - DIRTYRATE_MAX_DROP;
	unsigned diff = next > s->pct ? next - s->pct : s->pct - next;
	/* lifting entirely, or reaching the cap, is never noise */
	if (diff < DIRTYRATE_MIN_CHANGE && next != 0 && next != c->max_pct)
		return s->pct;
	if (next != s->pct)
		s->changes++;
	s->pct = next;
	return next;
}

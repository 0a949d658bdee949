/* SPDX-License-Identifier: MIT */
/* Pass 1 without the pages the guest is writing: see hotpages.h. */
#include "migration/hotpages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "migration/sender_internal.h"

unsigned sender_hot_probe_ms = HOT_PROBE_MS;
unsigned sender_hot_step_ms = HOT_PROBE_STEP_MS;

bool hot_watch_goes_on(uint64_t new_pages, unsigned watched_ms)
{
	return watched_ms < sender_hot_probe_ms && new_pages >= HOT_PROBE_MIN_NEW_PAGES;
}

/* One step of the watch: what the guest wrote since, added to hot[i];
 * the pages in hot now, or -errno. */
static int64_t watch_step(struct vmig_migration *m, uint64_t **hot, char *err, size_t errlen)
{
	for (unsigned i = 0; i < m->ram.nr; i++) {
		/* harvests add to the bitmap: the union, whether or not the
		 * guest's log clears on reading */
		int r = m->g.ops->dirty_harvest(m->g.opaque, i, hot[i], err, errlen);
		if (r)
			return r;
	}
	return (int64_t)ram_bits_count(&m->ram, hot);
}

int hot_pages_leave_out(struct vmig_migration *m, char *err, size_t errlen)
{
	uint64_t skipped = 0;
	int r = 0;

	for (unsigned i = 0; i < m->ram.nr && !r; i++)
		r = m->g.ops->dirty_clear(m->g.opaque, i, 0, m->ram.pages[i], m->bits[i], err, errlen);
	if (r)
		return r;
	for (unsigned i = 0; i < m->ram.nr; i++) {
		if (!(m->carry[i] = calloc(vmig_bitmap_words(m->ram.pages[i]), 8))) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	unsigned watched = 0;
	int64_t found = 0, total = 0; /* pages new in the last step; in m->carry */
	m->hot_watch_steps = 0;
	do {
		/* one short step, then the rest at once: each harvest makes
		 * the guest fault again on every page it writes */
		unsigned left = sender_hot_probe_ms - watched;
		unsigned step = watched || left < sender_hot_step_ms ? left : sender_hot_step_ms;
		nanosleep(&(struct timespec){step / 1000, (long)(step % 1000) * 1000000L}, NULL);
		watched += step;
		m->hot_watch_steps++;
		int64_t now = watch_step(m, m->carry, err, errlen);
		if (now < 0)
			return (int)now;
		found = now - total;
		total = now;
	} while (hot_watch_goes_on((uint64_t)found, watched));
	for (unsigned i = 0; i < m->ram.nr; i++) {
		const uint64_t *hot = m->carry[i];
		for (uint64_t w = 0; w < vmig_bitmap_words(m->ram.pages[i]); w++) {
			skipped += (uint64_t)__builtin_popcountll(m->bits[i][w] & hot[w]);
			m->bits[i][w] &= ~hot[w];
		}
	}
	log_debug("pass 1 leaves out %llu pages the guest wrote in %u ms",
		  (unsigned long long)skipped, watched);
	return 0;
}

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

int hot_pages_leave_out(struct vmig_migration *m, char *err, size_t errlen)
{
	uint64_t skipped = 0;
	int r = 0;

	for (unsigned i = 0; i < m->ram.nr && !r; i++)
		r = m->g.ops->dirty_clear(m->g.opaque, i, 0, m->ram.pages[i], m->bits[i], err, errlen);
	if (r)
		return r;
	struct timespec ts = {0, sender_hot_probe_ms * 1000000L};
	nanosleep(&ts, NULL);
	for (unsigned i = 0; i < m->ram.nr; i++) {
		uint64_t words = vmig_bitmap_words(m->ram.pages[i]);
		uint64_t *hot = m->carry[i] = calloc(words, 8);
		if (!hot) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if ((r = m->g.ops->dirty_harvest(m->g.opaque, i, hot, err, errlen)))
			return r;
		for (uint64_t w = 0; w < words; w++) {
			skipped += (uint64_t)__builtin_popcountll(m->bits[i][w] & hot[w]);
			m->bits[i][w] &= ~hot[w];
		}
	}
	log_debug("pass 1 leaves out %llu pages the guest wrote in %u ms",
		  (unsigned long long)skipped, sender_hot_probe_ms);
	return 0;
}

/* SPDX-License-Identifier: MIT */
#include "migration/linkprobe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "migration/autopolicy.h"
#include "migration/sender_internal.h"

uint64_t sender_link_probe_bytes = LINK_PROBE_BYTES;

bool link_probe_wanted(const struct vmig_migration *m)
{
	uint64_t ram = m->ram.total_pages * VMIG_PAGE_SIZE;
	return m->p.policy == VMIG_POLICY_AUTO && !(m->p.pinned & VMIG_PIN_CODEC) &&
	       !m->p.max_bandwidth && sender_link_probe_bytes &&
	       ram >= LINK_PROBE_RAM_MIN * sender_link_probe_bytes &&
	       autopolicy_idle_cpu_to_compress(m);
}

/* The lowest n set bits of x. */
static uint64_t lowest_bits(uint64_t x, uint64_t n)
{
	uint64_t keep = 0;
	for (; n && x; n--) {
		keep |= x & -x;
		x &= x - 1;
	}
	return keep;
}

int link_probe_hold_back(struct vmig_migration *m, char *err, size_t errlen)
{
	uint64_t left = sender_link_probe_bytes / VMIG_PAGE_SIZE;
	for (unsigned i = 0; i < m->ram.nr; i++) {
		m->hot_later[i] = m->carry[i]; /* hot_pages_leave_out's */
		m->carry[i] = NULL;
		uint64_t words = vmig_bitmap_words(m->ram.pages[i]);
		for (uint64_t w = 0; w < words; w++) {
			uint64_t keep = lowest_bits(m->bits[i][w], left);
			uint64_t rest = m->bits[i][w] & ~keep;
			left -= (uint64_t)__builtin_popcountll(keep);
			if (!rest)
				continue;
			if (!m->carry[i] && !(m->carry[i] = calloc(words, 8))) {
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			m->carry[i][w] |= rest;
			m->bits[i][w] = keep;
		}
	}
	return 0;
}

void link_probe_defer_hot(struct vmig_migration *m)
{
	for (unsigned i = 0; i < m->ram.nr; i++) {
		uint64_t *hot = m->hot_later[i];
		if (!hot)
			continue;
		/* the next harvest adds carry back: nothing deferred is lost */
		for (uint64_t w = 0; w < vmig_bitmap_words(m->ram.pages[i]); w++) {
			m->bits[i][w] &= ~hot[w];
			hot[w] |= m->carry[i] ? m->carry[i][w] : 0;
		}
		free(m->carry[i]);
		m->carry[i] = hot;
		m->hot_later[i] = NULL;
	}
}

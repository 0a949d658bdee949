/* SPDX-License-Identifier: MIT */
#include "migration/sentlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sentlog_init(struct sentlog *l, const struct ram_map *ram)
{
	memset(l, 0, sizeof(*l));
	l->nr_regions = ram->nr;
	for (unsigned i = 0; i < ram->nr; i++)
		l->words[i] = vmig_bitmap_words(ram->pages[i]);
}

static void drop_oldest(struct sentlog *l)
{
	for (unsigned i = 0; i < l->nr_regions; i++)
		free(l->p[0].bits[i]);
	memmove(&l->p[0], &l->p[1], (l->nr - 1) * sizeof(l->p[0]));
	l->nr--;
	memset(&l->p[l->nr], 0, sizeof(l->p[0]));
}

void sentlog_free(struct sentlog *l)
{
	while (l->nr)
		drop_oldest(l);
}

/* Folds the oldest pass into the next one, which keeps its number. */
static void merge_oldest(struct sentlog *l)
{
	for (unsigned i = 0; i < l->nr_regions; i++)
		for (uint64_t w = 0; w < l->words[i]; w++)
			l->p[1].bits[i][w] |= l->p[0].bits[i][w];
	drop_oldest(l);
}

int sentlog_begin(struct sentlog *l, uint64_t pass, uint64_t *bits[VMIG_MAX_RAM_REGIONS])
{
	if (l->nr == SENTLOG_MAX_PASSES)
		merge_oldest(l);
	struct sentlog_pass *p = &l->p[l->nr];
	p->pass = pass;
	for (unsigned i = 0; i < l->nr_regions; i++) {
		p->bits[i] = calloc(l->words[i] ? l->words[i] : 1, 8);
		if (!p->bits[i]) {
			for (unsigned k = 0; k < i; k++)
				free(p->bits[k]);
			memset(p, 0, sizeof(*p));
			return -ENOMEM;
		}
	}
	l->nr++;
	for (unsigned i = 0; i < l->nr_regions; i++)
		bits[i] = p->bits[i];
	return 0;
}

int sentlog_pass_bits(struct sentlog *l, uint64_t pass, uint64_t *bits[VMIG_MAX_RAM_REGIONS])
{
	for (unsigned k = 0; k < l->nr; k++) {
		if (l->p[k].pass != pass)
			continue;
		for (unsigned i = 0; i < l->nr_regions; i++)
			bits[i] = l->p[k].bits[i];
		return 1;
	}
	return 0;
}

void sentlog_confirm(struct sentlog *l, uint64_t pass)
{
	while (l->nr && l->p[0].pass <= pass)
		drop_oldest(l);
}

uint64_t sentlog_resend(struct sentlog *l, uint64_t held_pass, uint64_t *const *dirty)
{
	uint64_t added = 0;
	for (unsigned k = 0; k < l->nr; k++) {
		if (l->p[k].pass <= held_pass)
			continue;
		for (unsigned i = 0; i < l->nr_regions; i++)
			for (uint64_t w = 0; w < l->words[i]; w++) {
				added += (uint64_t)__builtin_popcountll(l->p[k].bits[i][w] & ~dirty[i][w]);
				dirty[i][w] |= l->p[k].bits[i][w];
			}
	}
	sentlog_free(l);
	return added;
}

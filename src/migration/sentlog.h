/* SPDX-License-Identifier: MIT */
/*
 * The source's record of what it sent, pass by pass, until the destination
 * acknowledges the pass (SYNC_ACK). If the link breaks, the pages of every
 * pass the destination does not hold completely are sent again: a page
 * whose record was lost on the way, or half written into guest RAM, is
 * then replaced, and both sides' page hashes (and so the RAM digest) agree.
 */
#ifndef VMIG_MIGRATION_SENTLOG_H
#define VMIG_MIGRATION_SENTLOG_H

#include <stdint.h>

#include "migration/ram.h"

/* Passes kept apart; beyond, the oldest two are merged under the newer
 * one's number (it is then sent again whenever either would be). */
#define SENTLOG_MAX_PASSES 8

struct sentlog_pass {
	uint64_t pass;
	uint64_t *bits[VMIG_MAX_RAM_REGIONS];
};

struct sentlog {
	unsigned nr_regions;
	uint64_t words[VMIG_MAX_RAM_REGIONS]; /* per region's bitmap */
	unsigned nr;                          /* passes held, oldest first */
	struct sentlog_pass p[SENTLOG_MAX_PASSES];
};

void sentlog_init(struct sentlog *l, const struct ram_map *ram);
void sentlog_free(struct sentlog *l);
/* Opens pass's (empty) bitmaps and puts them in bits[]: 0 or -ENOMEM. */
int sentlog_begin(struct sentlog *l, uint64_t pass, uint64_t *bits[VMIG_MAX_RAM_REGIONS]);
/* The destination holds every pass up to this one: forget them. */
void sentlog_confirm(struct sentlog *l, uint64_t pass);
/* The bitmaps of pass (bits[]): 1, or 0 if it is not held. */
int sentlog_pass_bits(struct sentlog *l, uint64_t pass, uint64_t *bits[VMIG_MAX_RAM_REGIONS]);
/* ORs what passes after held_pass sent into dirty[], then forgets all;
 * returns how many pages that adds. */
uint64_t sentlog_resend(struct sentlog *l, uint64_t held_pass, uint64_t *const *dirty);

#endif

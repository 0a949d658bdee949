/* SPDX-License-Identifier: MIT */
/*
 * Which RAM the workload owns. Owned RAM is every usable range above
 * max(floor, 2 MiB) (floor: the end of the image and of any boot module),
 * minus the metadata carved from its start: one uint32_t expected
 * generation per owned page, then one uint64_t hash per module page. Owned pages are numbered
 * 0..owned_pages-1 in address order ("owned index"); the working set is
 * the run of ws_pages pages starting at ws_base, inside one range.
 */
#ifndef GUESTLOAD_LAYOUT_H
#define GUESTLOAD_LAYOUT_H

#include <stdint.h>

#include "guest_abi.h"

struct owned_range {
	uint64_t base;  /* gpa, page aligned */
	uint64_t pages;
	uint64_t first; /* owned index of base */
};

struct layout {
	unsigned nr;
	struct owned_range r[VMIG_MAX_MEM_RANGES];
	uint64_t owned_pages;
	uint64_t meta_base, meta_pages;
	uint32_t *gens;       /* gens[owned index]: 0 = never written (all zeros) */
	uint64_t *hashes;     /* hashes[module page] (modules.h) */
	uint64_t ws_base;     /* gpa of the first working-set page */
	uint64_t ws_pages;
	uint64_t ws_first;    /* owned index of ws_base */
	uint64_t ws_wanted;   /* pages asked for, before clamping */
};

/* 0, or -1 if there is no RAM to own. */
int layout_build(struct layout *L, const struct vmig_boot_info *bi, uint64_t floor,
		 uint64_t ws_bytes, uint64_t nr_hashes);

/* gpa of an owned index (< owned_pages). */
uint64_t layout_gpa(const struct layout *L, uint64_t idx);

#endif

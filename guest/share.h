/* SPDX-License-Identifier: MIT */
/*
 * Splitting a range of page indexes between vCPUs: part `k` of `parts`
 * takes [total*k/parts, total*(k+1)/parts), so the parts cover [0, total)
 * once. Pure, so the host's unit tests run it (test_guest_share.c).
 */
#ifndef GUESTLOAD_SHARE_H
#define GUESTLOAD_SHARE_H

#include <stdint.h>

/* Part k of parts; an empty range for k >= parts (a vCPU with no part). */
static inline void share_of(uint64_t total, uint64_t k, uint64_t parts, uint64_t *lo,
			    uint64_t *hi)
{
	*lo = *hi = 0;
	if (k < parts) {
		*lo = total * k / parts;
		*hi = total * (k + 1) / parts;
	}
}

#endif

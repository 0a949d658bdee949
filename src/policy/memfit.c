/* SPDX-License-Identifier: MIT */
/* Whether the XBZRLE cache fits: see memfit.h. */
#include "policy/memfit.h"

#include <stdio.h>

bool xbzrle_cache_fits(const struct wire_host_info *hi, uint64_t cache_bytes, char *why,
		       size_t whylen)
{
	uint64_t free_bytes = hi->mem_free_bytes;
	if (!cache_bytes || !free_bytes || cache_bytes + MIGRATION_WORK_MEM_BYTES <= free_bytes)
		return true;
	snprintf(why, whylen,
		 "an XBZRLE cache of %llu MiB does not fit: %llu MiB is free here%s, and the "
		 "migration needs about %llu MiB more; filling it would get this VMM (and the "
		 "guest) killed for memory. The guest runs on; give a smaller --xbzrle-cache or "
		 "--xbzrle off",
		 (unsigned long long)(cache_bytes >> 20), (unsigned long long)(free_bytes >> 20),
		 hi->flags & WIRE_HOST_MEM_LIMIT ? " (under a cgroup memory limit)" : "",
		 (unsigned long long)(MIGRATION_WORK_MEM_BYTES >> 20));
	return false;
}

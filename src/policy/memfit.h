/* SPDX-License-Identifier: MIT */
/*
 * Whether the source's XBZRLE cache fits in the memory this host (or the
 * cgroup the VMM runs in) still has free. The cache is filled page by page
 * during the migration, so a cache that does not fit is not refused by
 * malloc: the kernel's OOM killer ends the VMM mid-migration, and the
 * guest with it. So a cache that does not fit is refused before anything
 * starts, with the figures, and the guest runs on. The auto policy keeps
 * far below this (policy/planner.c: a quarter of what is free); this is
 * for a cache the caller gave. Pure: figures in, a verdict out.
 */
#ifndef VMIG_POLICY_MEMFIT_H
#define VMIG_POLICY_MEMFIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migration/wire.h"

/* What a migration allocates besides the XBZRLE cache (channel buffers,
 * compression contexts, the sent-page log): measured, a 1 GiB guest's
 * source peaked 22 MiB above its RAM with zstd on 2 channels, most of it
 * the process itself, there before the migration. */
#define MIGRATION_WORK_MEM_BYTES (16ull << 20)

/* True when cache_bytes and MIGRATION_WORK_MEM_BYTES fit in hi's free
 * memory, or the free memory is unknown (0); else false, with the figures
 * and what to do in why. */
bool xbzrle_cache_fits(const struct wire_host_info *hi, uint64_t cache_bytes, char *why,
		       size_t whylen);

#endif

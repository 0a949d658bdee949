/* SPDX-License-Identifier: MIT */
/*
 * What enginesim source reports about its migration, under the names vmig
 * uses: query-migrate's object (src/vmm/migrate_figures.c) with the fields
 * vmig's VMM adds (dirty_tracking, throttle_path), for the 100 ms samples
 * (plus t_ms, ms since the migration started) and for the final object
 * (as `vmig migrate --json` prints it, plus ram_hash).
 */
#ifndef VMIG_ENGINESIM_REPORT_H
#define VMIG_ENGINESIM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "common/json.h"
#include "guest_double.h"
#include "vmig/migration.h"

/* query-migrate's object for st and this guest double; NULL: no memory. */
json_t *report_figures(const struct vmig_migrate_stats *st, struct guest_double *g);
/* One sample line on f: 0, or -ENOMEM. */
int report_sample(FILE *f, const struct vmig_migrate_stats *st, struct guest_double *g,
		  uint64_t t_ms);
/* `enginesim: ram HASH`, then the final object on stdout (its last line). */
void report_final(const struct vmig_migrate_stats *st, struct guest_double *g, uint64_t ram_hash);
/* The final object of a migration that never started. */
void report_start_failure(const char *why);

#endif

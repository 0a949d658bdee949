/* SPDX-License-Identifier: MIT */
/*
 * Making a migration converge by slowing the guest's vCPUs: auto-converge's
 * steps (policy/throttle.h) or the dirty-rate controller (policy/dirtyrate.h,
 * also the dirty limit), applied through the guest's throttle op, shown in
 * the stats, and lifted the moment the migration no longer needs it.
 */
#ifndef VMIG_MIGRATION_CONVERGE_H
#define VMIG_MIGRATION_CONVERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmig_migration;
struct vmig_migrate_params;

/* From m->p: the settings of both (QEMU's defaults where 0); 0, or
 * -EINVAL / -EOPNOTSUPP (throttling asked of a guest that cannot) with err. */
int converge_take_params(struct vmig_migration *m, char *err, size_t errlen);

/* After a pass that moved `pages` of RAM as xfer wire bytes in secs, while
 * the guest dirtied dirty_pages: raises, corrects or keeps the throttle. */
void converge_after_pass(struct vmig_migration *m, uint64_t pages, uint64_t dirty_pages,
			 uint64_t xfer, double secs);

/* The controller p asks for: "auto-converge", "dirty-rate", "dirty-limit",
 * or "" for none (vmig_migrate_stats.throttle_mode). */
const char *converge_mode_name(const struct vmig_migrate_params *p);

/* Whether a throttle controller runs and may still raise its share
 * (auto-converge or the dirty-rate controller under its maximum; a dirty
 * limit holds a fixed rate). */
bool converge_can_tighten(const struct vmig_migration *m);

/* Lifts any throttle: the migration ends, fails, or the guest paused for good. */
void converge_lift(struct vmig_migration *m);

#endif

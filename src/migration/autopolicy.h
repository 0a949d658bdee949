/* SPDX-License-Identifier: MIT */
/*
 * The engine's side of --policy auto: gathers what the planner
 * (src/policy/planner.c) needs, applies its plan to the migration's
 * parameters before anything is connected, re-plans after each pass,
 * and keeps every decision with its reason for query-migrate.
 */
#ifndef VMIG_MIGRATION_AUTOPOLICY_H
#define VMIG_MIGRATION_AUTOPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmig_migration;

/* Before the host probe starts: compresses a sample of the guest's pages
 * with each codec into m->plan_in (20-30 ms of one CPU for 1 GiB here).
 * Done first so that the probe's first idle share, which decides whether
 * pass 1 probes the link, does not count it as the host's load: it read
 * 0.2-0.6 idle CPUs with it, under the gate once in three 1G runs. No-op
 * under the fixed policy. m->ram must be mapped. */
int autopolicy_sample_guest(struct vmig_migration *m, char *err, size_t errlen);

/* Before setup, after autopolicy_sample_guest: samples this host, fills
 * m->p from the plan (knobs not pinned). No-op under the fixed policy.
 * m->ram must be mapped. */
int autopolicy_start(struct vmig_migration *m, char *err, size_t errlen);

/* After pass m->pass, which took secs and sent wire bytes: the plan for
 * the next one. 0, or the error of waiting for the destination before the
 * channels in use change (a lost link: nothing changed). */
int autopolicy_after_pass(struct vmig_migration *m, double secs, uint64_t wire, uint64_t dirty,
			  char *err, size_t errlen);

/* After pass 1 sent as a link probe (migration/linkprobe.h), which took
 * secs and sent wire bytes: the plan for the first full pass, from the
 * link alone (what the guest dirtied is not known yet). 0 or as above. */
int autopolicy_after_probe(struct vmig_migration *m, double secs, uint64_t wire, char *err,
			   size_t errlen);

/* Whether this host has idle CPU enough for a codec to beat raw pages
 * (plan_probe_pays); true while its idle share is not measured. */
bool autopolicy_idle_cpu_to_compress(const struct vmig_migration *m);

/* The plan in force, as vmig_migration_plan reports it. */
struct vmig_migrate_plan;
void autopolicy_report(const struct vmig_migration *m, struct vmig_migrate_plan *out);

/* Keeps a decision (any policy may call it); takes m->lock. */
void autopolicy_record(struct vmig_migration *m, const char *change, const char *reason);

#endif

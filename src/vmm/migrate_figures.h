/* SPDX-License-Identifier: MIT */
/*
 * The engine's figures as the JSON of query-migrate and
 * query-migrate-plan (docs/control.md): one encoder for every embedder
 * that reports them (the VMM's control commands, bench/enginesim), so the
 * names cannot drift between them. Needs no KVM.
 */
#ifndef VMIG_VMM_MIGRATE_FIGURES_H
#define VMIG_VMM_MIGRATE_FIGURES_H

#include "common/json.h"
#include "vmig/migration.h"

/* query-migrate's object for these stats (what the VMM adds aside); NULL: no memory. */
json_t *migrate_figures(const struct vmig_migrate_stats *st);

/* query-migrate-plan's object for this plan (what the VMM adds aside); NULL: no memory. */
json_t *migrate_plan_figures(const struct vmig_migrate_plan *plan);

#endif

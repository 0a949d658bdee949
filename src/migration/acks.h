/* SPDX-License-Identifier: MIT */
/*
 * The destination's pass acknowledgements (SYNC_ACK), read on the source
 * as they arrive: each carries the destination's latest host figures, and
 * the planner re-plans every pass from them. Between passes the migration
 * thread reads whatever already came, without waiting, so neither the
 * page streams nor the pass loop stall on a destination still applying.
 */
#ifndef VMIG_MIGRATION_ACKS_H
#define VMIG_MIGRATION_ACKS_H

#include <stddef.h>

struct vmig_migration;

/* Reads every whole record already waiting on the streams' channels
 * (SYNC_ACKs; an ERROR fails): 0, or -errno with err set. Call only
 * while no stream reads (between passes). */
int acks_drain(struct vmig_migration *m, char *err, size_t errlen);

/* Reads until every stream has acknowledged pass m->pass: the destination
 * has then applied everything, so the pause that follows is not spent
 * draining socket buffers. 0, or -errno with err set. */
int acks_wait_all(struct vmig_migration *m, char *err, size_t errlen);

#endif

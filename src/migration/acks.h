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
#include <stdint.h>

struct vmig_migration;
struct src_chan;

/* A SYNC_ACK's payload p[0, n) heard on stream s: its pass must be one
 * sent and not before the last acknowledged (-EPROTO otherwise); notes
 * it and the destination's host figures. 0, or -errno with err set. */
int acks_take_sync_ack(struct vmig_migration *m, struct src_chan *s, const uint8_t *p, size_t n,
		       char *err, size_t errlen);

/* Reads every whole record already waiting on the streams' channels
 * (SYNC_ACKs; an ERROR fails): 0, or -errno with err set. Call only
 * while no stream reads (between passes). */
int acks_drain(struct vmig_migration *m, char *err, size_t errlen);

/* Reads until every stream has acknowledged pass m->pass: the destination
 * has then applied everything, so the pause that follows is not spent
 * draining socket buffers. 0, or -errno with err set. */
int acks_wait_all(struct vmig_migration *m, char *err, size_t errlen);

#endif

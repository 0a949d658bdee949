/* SPDX-License-Identifier: MIT */
/*
 * Pages the guest is writing right now would only be sent again in pass 2:
 * re-arm tracking for all of RAM, watch for a moment (sender_hot_probe_ms),
 * and leave the pages written meanwhile out of pass 1. They go into
 * m->carry, which the next harvest adds back: whether the guest's log
 * still holds them after a harvest (KVM's non-manual mode clears on read)
 * must not matter.
 */
#ifndef VMIG_MIGRATION_HOTPAGES_H
#define VMIG_MIGRATION_HOTPAGES_H

#include <stddef.h>

struct vmig_migration;

#define HOT_PROBE_MS 200

/* How long pass 1 watches: HOT_PROBE_MS; a variable only so that the
 * source fuzz target, whose test-double guest never writes, can set 0. */
extern unsigned sender_hot_probe_ms;

/* Takes the pages written during the watch out of m->bits (pass 1's)
 * into m->carry. 0, or -errno with err set. */
int hot_pages_leave_out(struct vmig_migration *m, char *err, size_t errlen);

#endif

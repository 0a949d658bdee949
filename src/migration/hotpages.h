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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmig_migration;

#define HOT_PROBE_MS 200
/*
 * The watch looks first after HOT_PROBE_STEP_MS, and ends there if it
 * found fewer new pages than this (1 MiB): a guest that writes little
 * has no hot set worth leaving out, and the link sat idle the whole 200
 * ms before every migration (KVM, 1 Gbit/s, a guest writing 1 MiB/s: the
 * first page went at 0.3 s, QEMU's at 0.1). Else it watches the rest of
 * HOT_PROBE_MS in one step: a harvest re-arms the log, and the guest
 * faults again on every page it writes (four 50 ms steps cost 10G 2.93 s
 * against 2.80, within the noise but the way the faults predict).
 */
#define HOT_PROBE_STEP_MS 50
#define HOT_PROBE_MIN_NEW_PAGES 256

/* How long pass 1 watches at most: HOT_PROBE_MS; a variable only so that
 * the source fuzz target, whose test-double guest never writes, can set 0. */
extern unsigned sender_hot_probe_ms;
/* The first step: HOT_PROBE_STEP_MS; a variable only for tests. */
extern unsigned sender_hot_step_ms;

/* Whether the watch takes another step after one that found new_pages,
 * watched_ms into it. */
bool hot_watch_goes_on(uint64_t new_pages, unsigned watched_ms);

/* Takes the pages written during the watch out of m->bits (pass 1's)
 * into m->carry. 0, or -errno with err set. */
int hot_pages_leave_out(struct vmig_migration *m, char *err, size_t errlen);

#endif

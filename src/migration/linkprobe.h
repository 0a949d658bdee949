/* SPDX-License-Identifier: MIT */
/*
 * Pass 1 as a link probe, under --policy auto with no bandwidth cap. The
 * start plan cannot know the link's rate, so it sends raw pages; over a
 * slow link that would cost all of the largest pass (a 1 GiB guest at
 * 1 Gbit/s: 6-7 s raw, where zstd needs 3). So pass 1 sends only the first
 * sender_link_probe_bytes of RAM, the rest waits in m->carry for pass 2,
 * and the re-plan between them (autopolicy_after_probe) knows the link.
 */
#ifndef VMIG_MIGRATION_LINKPROBE_H
#define VMIG_MIGRATION_LINKPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmig_migration;

#define LINK_PROBE_BYTES (64ull << 20) /* 0.5 s at 1 Gbit/s: enough to see the link */
#define LINK_PROBE_RAM_MIN 4           /* probe only RAM at least this many probes big */
#define LINK_PROBE_MIN_WIRE_SHARE 4    /* a probe sending less than 1/4 of its bytes
					* (zero pages) leaves the link unknown */

/* LINK_PROBE_BYTES; only tests change it (their guests are small). */
extern uint64_t sender_link_probe_bytes;

/* Whether pass 1 should be a probe: auto policy, codec not pinned, no cap
 * (a cap is the link the planner already knows), RAM large enough, and
 * idle CPU here to compress with. */
bool link_probe_wanted(const struct vmig_migration *m);

/* Keeps the first sender_link_probe_bytes of pages in m->bits for pass 1
 * and moves the rest into m->carry; the hot pages pass 1 left out (in
 * m->carry until now) wait in m->hot_later. 0 or -ENOMEM. */
int link_probe_hold_back(struct vmig_migration *m, char *err, size_t errlen);

/*
 * After the probe's harvest: the pass that sends the rest of RAM leaves
 * the hot pages out too, as pass 1 would have without a probe; they go in
 * m->carry for the pass after it. Sent in that long pass, they were
 * rewritten during it and sent again in the next one: a 1 GiB guest with
 * a 256 MiB hot set sent it twice, 260 MiB and 2.3 s more at 1 Gbit/s.
 */
void link_probe_defer_hot(struct vmig_migration *m);

#endif

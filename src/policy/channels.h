/* SPDX-License-Identifier: MIT */
/*
 * How many of the connected data channels carry pages: the re-plan's
 * channel knob, both ways, between passes. Pure like the planner (inputs
 * in, a count out, with the reason); tests/unit/test_planner.c.
 *
 * Every channel has a thread on each side; on the destination it also
 * inflates that channel's compressed batches. So a channel is worth its
 * thread while the link carries more than the channels in use can
 * inflate, and only while both hosts have a CPU for it:
 *  - a destination busy with its own guests gets no more channels than it
 *    has idle CPUs (its own migration work counts as idle), at least one;
 *  - a link (the bandwidth cap) that fewer channels can inflate, with a
 *    margin, gets that many;
 *  - otherwise, pages compressed, with a CPU idle on each side for each
 *    more channel, more, up to the maximum connected at the start.
 * Raw pages cost a channel little: they get fewer for a busy destination
 * only. Without a bandwidth cap the link's rate is not known (a pass's
 * rate may be what the channels managed), so the link rule needs one.
 */
#ifndef VMIG_POLICY_CHANNELS_H
#define VMIG_POLICY_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/planner.h"

/* Channels that keep up with what the link carries (at least 1, at most
 * cur->channels_max); cur->channels_max when the link is not known to be
 * the limit or pages go raw (their cost per channel is not modelled). */
unsigned plan_channels_needed(const struct plan_inputs *in, const struct plan *cur);

/*
 * After a pass: how many channels carry pages in the next one. Returns
 * true if that changes (next->channels), with what ("channels 4 -> 2")
 * and why in change and reason. Never with the channels pinned or fewer
 * than two connected.
 */
bool plan_channels_after_pass(const struct plan_inputs *in, const struct plan *cur,
			      struct plan *next, char *change, size_t changelen, char *reason,
			      size_t reasonlen);

#endif

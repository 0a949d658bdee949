/* SPDX-License-Identifier: MIT */
#include "policy/channels.h"

#include <stdio.h>

/* Fewer channels must inflate this much more than the link carries before
 * one is let go: a pass's measure is noisy, and a channel too few costs
 * more than one too many. */
#define LINK_MARGIN 1.5

static double nonzero(const struct plan_inputs *in)
{
	double nz = 1.0 - in->zero_share;
	return nz < 0.01 ? 0.01 : nz;
}

unsigned plan_channels_needed(const struct plan_inputs *in, const struct plan *cur)
{
	const struct plan_codec_sample *s = &in->codec[cur->codec];
	if (in->link_limit_mibs <= 0 || cur->codec == CODEC_NONE || s->ratio <= 0 ||
	    s->dec_mibs_per_core <= 0)
		return cur->channels_max;
	/* RAM the link carries, and what n inflating threads there keep up with */
	double carried = in->link_limit_mibs * s->ratio / nonzero(in);
	for (unsigned n = 1; n < cur->channels_max; n++)
		if (plan_parallel_cpus(n) * s->dec_mibs_per_core / nonzero(in) >= LINK_MARGIN * carried)
			return n;
	return cur->channels_max;
}

/* Idle CPUs as whole channels' worth (a thread each), at least one. */
static unsigned whole(double idle)
{
	return idle < 1 ? 1 : (unsigned)idle;
}

static bool lower_for_busy_destination(const struct plan_inputs *in, const struct plan *cur,
				       struct plan *next, char *reason, size_t reasonlen)
{
	if (!in->dst_known || whole(in->dst.idle_cpus) >= cur->channels)
		return false;
	next->channels = whole(in->dst.idle_cpus);
	snprintf(reason, reasonlen, "destination busy: %.1f idle CPUs there for %u channels",
		 in->dst.idle_cpus, cur->channels);
	return true;
}

static bool lower_for_slow_link(const struct plan_inputs *in, const struct plan *cur,
				struct plan *next, char *reason, size_t reasonlen)
{
	unsigned need = plan_channels_needed(in, cur);
	if (need >= cur->channels)
		return false;
	next->channels = need;
	snprintf(reason, reasonlen,
		 "link slower than the codec: %.1f MiB/s carries %.0f MiB/s of RAM as %s, %u "
		 "channel%s inflate%s it there", in->link_limit_mibs,
		 in->link_limit_mibs * in->codec[cur->codec].ratio / nonzero(in),
		 codec_name(cur->codec), need, need > 1 ? "s" : "", need > 1 ? "" : "s");
	return true;
}

static bool raise_with_idle_cpus(const struct plan_inputs *in, const struct plan *cur,
				 struct plan *next, char *reason, size_t reasonlen)
{
	double there = in->dst_known ? in->dst.idle_cpus : in->src.idle_cpus;
	unsigned n = plan_channels_needed(in, cur);
	if (whole(there) < n)
		n = whole(there);
	/* this host's idle share leaves out the channels' own threads: each
	 * more one needs a CPU besides them */
	unsigned here = cur->channels + (in->src.idle_cpus < 1 ? 0 : (unsigned)in->src.idle_cpus);
	if (here < n)
		n = here;
	if (n <= cur->channels || in->src.idle_cpus < 1 || cur->codec == CODEC_NONE)
		return false;
	next->channels = n;
	snprintf(reason, reasonlen, "idle CPUs on both sides: %.1f here, %.1f there%s",
		 in->src.idle_cpus, there,
		 in->link_limit_mibs > 0 ? "; the link carries more than the channels inflate"
					 : "; no cap on the link");
	return true;
}

bool plan_channels_after_pass(const struct plan_inputs *in, const struct plan *cur,
			      struct plan *next, char *change, size_t changelen, char *reason,
			      size_t reasonlen)
{
	*next = *cur;
	if ((in->pinned & PLAN_PIN_CHANNELS) || cur->channels_max < 2 || !cur->channels)
		return false;
	if (!lower_for_busy_destination(in, cur, next, reason, reasonlen) &&
	    !lower_for_slow_link(in, cur, next, reason, reasonlen) &&
	    !raise_with_idle_cpus(in, cur, next, reason, reasonlen))
		return false;
	snprintf(change, changelen, "channels %u -> %u", cur->channels, next->channels);
	return true;
}

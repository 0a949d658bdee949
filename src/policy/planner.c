/* SPDX-License-Identifier: MIT */
#include "policy/planner.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define UNKNOWN_LINK_MIBS 4096.0  /* no measure yet: assume a fast link, CPU is the limit */
#define SWITCH_MARGIN 1.15        /* another codec must win by 15 % to replace this one */
/* Another level of the same codec needs less: it costs no reconnect and
 * the destination's decoder does not care, but the sample is small. */
#define LEVEL_MARGIN 1.03
/* Between two codecs neither of which is in use: one costing more CPU
 * must be this much faster (the 1 MiB sample's rates are that noisy). */
#define CODEC_TIE 1.05
#define MAX_THREADS 8
/*
 * Compression threads do not add up: measured on 16 idle cores
 * (bench/thread_scaling 512 MiB, 4-8 channels, docs/benchmarks.md) zstd
 * went 1.5x faster with 2 threads, 2.3x with 4 and 2.7x with 8, deflate
 * 1.9x, 2.5x and 3.2x; the rest of the pipeline (page copy, the socket,
 * page faults on the destination) stays on fewer cores. Amdahl's law
 * with this serial share (1.6x, 2.2x, 2.7x) is within 20 % of both. The
 * same bench showed no gain at all from threads without data channels,
 * and deflate 26 % faster with 8 channels than with 4.
 */
#define SERIAL_SHARE 0.28
#define MIN_XBZRLE_CACHE (16ull << 20)
#define XBZRLE_POOR_HITS 0.2      /* under this hit rate the cache costs more than it saves */
#define MIN_DECOMPRESS_CPUS 0.1   /* a destination with less idle is not asked to decompress */
#define XBZRLE_WORTH_DIRTY_SHARE 0.25 /* re-sends taking less of the link converge anyway */
#define XBZRLE_MEM_FACTOR 4       /* a cache may take a quarter of what the source has spare */

static double nonzero_share(const struct plan_inputs *in)
{
	double nz = 1.0 - in->zero_share;
	return nz < 0.01 ? 0.01 : nz; /* an all-zero guest: everything is cheap */
}

static double link_mibs(const struct plan_inputs *in)
{
	return in->link_mibs > 0 ? in->link_mibs : UNKNOWN_LINK_MIBS;
}

/* CPUs' worth of work n threads can do on a host with this much idle
 * time: a busy host lends the migration only what it does not use. */
static double usable(unsigned n, double idle)
{
	double cap = idle < 0.1 ? 0.1 : idle;
	return n < cap ? n : cap;
}

/* Decompression on the destination: one thread per data channel. A
 * destination that says it has almost nothing idle gets no decompression
 * at all: every cycle of it would be taken from the guests running there. */
static double dst_cpus(const struct plan_inputs *in, unsigned channels)
{
	if (in->dst_known && in->dst.idle_cpus < MIN_DECOMPRESS_CPUS)
		return 0;
	return usable(channels ? channels : 1, in->dst_known ? in->dst.idle_cpus : in->src.idle_cpus);
}

bool plan_probe_pays(const struct plan_host *src)
{
	return !src->idle_measured || src->idle_cpus >= PLAN_PROBE_MIN_IDLE_CPUS;
}

/* CPUs' worth of compression n threads deliver (see SERIAL_SHARE). */
double plan_parallel_cpus(double n)
{
	return n <= 1 ? n : n / (1 + SERIAL_SHARE * (n - 1));
}

/* RAM MiB/s codec c moves with the figures s (of one of its levels). */
static double rate_of(const struct plan_inputs *in, enum codec_id c,
		      const struct plan_codec_sample *s, unsigned threads)
{
	double nz = nonzero_share(in), link = link_mibs(in);
	if (c == CODEC_NONE || s->ratio <= 0)
		return link / nz;
	double by_link = link * s->ratio / nz;
	double by_cpu = plan_parallel_cpus(usable(threads, in->src.idle_cpus)) * s->mibs_per_core / nz;
	unsigned channels = threads > PLAN_MAX_CHANNELS ? PLAN_MAX_CHANNELS : threads;
	double by_dst = plan_parallel_cpus(dst_cpus(in, threads > 1 ? channels : 0)) * s->dec_mibs_per_core / nz;
	double r = by_link < by_cpu ? by_link : by_cpu;
	return r < by_dst ? r : by_dst;
}

double plan_rate(const struct plan_inputs *in, enum codec_id c, unsigned threads)
{
	return rate_of(in, c, &in->codec[c], threads);
}

int plan_raised_level(enum codec_id c)
{
	return c == CODEC_ZSTD ? 3 : 0;
}

double plan_rate_at(const struct plan_inputs *in, enum codec_id c, int level, unsigned threads)
{
	bool raised = level && level == plan_raised_level(c) && in->raised[c].ratio > 0;
	return rate_of(in, c, raised ? &in->raised[c] : &in->codec[c], threads);
}

/* The level for codec c at `threads`: raised when that moves more RAM
 * than the default by LEVEL_MARGIN, back to the default (0) when it moves
 * less by as much; else `cur`. */
static int best_level(const struct plan_inputs *in, enum codec_id c, unsigned threads, int cur)
{
	int up = plan_raised_level(c);
	if (!up || in->raised[c].ratio <= 0)
		return 0;
	double r_def = plan_rate_at(in, c, 0, threads), r_up = plan_rate_at(in, c, up, threads);
	if (cur == up)
		return r_def > r_up * LEVEL_MARGIN ? 0 : up;
	return r_up > r_def * LEVEL_MARGIN ? up : 0;
}

static unsigned src_threads(const struct plan_inputs *in)
{
	double idle = in->src.idle_cpus;
	unsigned t = idle < 1 ? 1 : (unsigned)idle;
	return t > MAX_THREADS ? MAX_THREADS : t;
}

/* CPU seconds per MiB codec c costs both hosts together: compressing here,
 * decompressing there (0 for raw pages). */
static double cpu_per_mib(const struct plan_inputs *in, enum codec_id c)
{
	const struct plan_codec_sample *s = &in->codec[c];
	if (c == CODEC_NONE || s->mibs_per_core <= 0 || s->dec_mibs_per_core <= 0)
		return 0;
	return 1.0 / s->mibs_per_core + 1.0 / s->dec_mibs_per_core;
}

/* Whether codec c at rate r beats codec top at top_rate: a codec that
 * costs more CPU must be CODEC_TIE faster, one that costs less need only
 * come within CODEC_TIE. */
static bool beats(const struct plan_inputs *in, enum codec_id c, double r, enum codec_id top,
		  double top_rate)
{
	if (cpu_per_mib(in, c) > cpu_per_mib(in, top))
		return r > top_rate * CODEC_TIE;
	return r * CODEC_TIE > top_rate;
}

/*
 * The best codec for these inputs: the best of the others (beats) if it
 * is SWITCH_MARGIN faster than cur, else cur. The margin guards the codec
 * in use only: it used to apply between the others too, so lz4 (tried
 * first) kept its place against a zstd or deflate up to 15 % faster (KVM,
 * 1G cell: lz4 chosen in 2 runs of 8, 686 and 748 MiB on the wire and
 * 6.41 and 6.94 s, against 593-613 MiB and 5.6-6.4 s in the runs that
 * chose deflate). Between the others CODEC_TIE keeps what that margin
 * did right: of two codecs about as fast, the one cheaper in CPU (a busy
 * destination gets lz4 rather than a zstd 1 % faster).
 */
static enum codec_id best_codec(const struct plan_inputs *in, unsigned threads, enum codec_id cur)
{
	enum codec_id top = cur;
	double top_rate = -1;
	for (int c = 0; c < CODEC_COUNT; c++) {
		double r = plan_rate(in, (enum codec_id)c, threads);
		if (c == (int)cur)
			continue;
		if (top == cur || beats(in, (enum codec_id)c, r, top, top_rate)) {
			top = (enum codec_id)c;
			top_rate = r;
		}
	}
	return top_rate > plan_rate(in, cur, threads) * SWITCH_MARGIN ? top : cur;
}

/* The cache the hot set calls for, memory aside; 0: it would not fit (a
 * small guest: half its RAM may be under MIN_XBZRLE_CACHE). */
static uint64_t xbzrle_cache_wanted(const struct plan_inputs *in)
{
	if (!in->hot_bytes || in->dirty_mibs <= 0)
		return 0;
	uint64_t want = MIN_XBZRLE_CACHE;
	while (want < in->hot_bytes * 2 && want < (1ull << 40))
		want <<= 1;
	if (want > in->ram_bytes / 2)
		want = in->ram_bytes / 2;
	return want >= in->hot_bytes ? want : 0;
}

/* That cache, if it leaves most of what the source has to spare; else 0. */
static uint64_t xbzrle_cache_for(const struct plan_inputs *in)
{
	uint64_t want = xbzrle_cache_wanted(in);
	return in->src.mem_avail >= XBZRLE_MEM_FACTOR * want ? want : 0;
}

/*
 * Compressed batches are inflated by one thread per channel there: a
 * channel per compressing thread. As many more are connected as this
 * host has CPUs (PLAN_MAX_CHANNELS at most), for the re-plan to turn on
 * when CPUs free up (policy/channels.h); raw pages need no channels,
 * unless the link is still unknown.
 */
static void plan_initial_channels(const struct plan_inputs *in, struct plan *out)
{
	unsigned ch = out->threads > PLAN_MAX_CHANNELS ? PLAN_MAX_CHANNELS : out->threads;
	unsigned most = in->src.cpus > PLAN_MAX_CHANNELS ? PLAN_MAX_CHANNELS : in->src.cpus;
	/* Raw pages over a link not yet measured: a codec may follow the
	 * first pass (migration/linkprobe.h), and only channels connected now
	 * can spread it then; pages go on one of them until it does. */
	if (out->codec == CODEC_NONE && in->link_mibs <= 0 && most >= 2) {
		out->channels = 1;
		out->channels_max = most;
		return;
	}
	if (out->codec == CODEC_NONE || (ch < 2 && most < 2)) {
		out->channels = out->channels_max = 0;
		return;
	}
	out->channels = ch ? ch : 1;
	out->channels_max = most > out->channels ? most : out->channels;
}

void plan_initial(const struct plan_inputs *in, const struct plan *pinned_values, struct plan *out,
		  char *reason, size_t reasonlen)
{
	unsigned p = in->pinned;
	*out = *pinned_values;
	if (!(p & PLAN_PIN_THREADS))
		out->threads = src_threads(in);
	if (!(p & PLAN_PIN_CODEC))
		out->codec = best_codec(in, out->threads, CODEC_NONE);
	if (!(p & PLAN_PIN_LEVEL))
		out->level = best_level(in, out->codec, out->threads, 0);
	if (!(p & PLAN_PIN_CHANNELS))
		plan_initial_channels(in, out);
	else
		out->channels_max = out->channels; /* pinned: never turned */
	if (!(p & PLAN_PIN_XBZRLE))
		out->xbzrle_bytes = xbzrle_cache_for(in);
	if (!(p & PLAN_PIN_CONVERGE)) {
		out->auto_converge = true;
		out->dirty_rate = true;
	}
	char lvl[16] = "";
	if (out->level)
		snprintf(lvl, sizeof(lvl), " level %d", out->level);
	snprintf(reason, reasonlen,
		 "%s%s: %.0f MiB/s expected (link %s%.0f MiB/s, %.1f %s here%s, %s%.1f there, "
		 "%.0f%% zero pages)",
		 codec_name(out->codec), lvl, plan_rate_at(in, out->codec, out->level, out->threads),
		 in->link_mibs > 0 ? "" : "unknown, assumed ", link_mibs(in), in->src.idle_cpus,
		 in->src.idle_measured ? "idle CPUs" : "CPUs",
		 in->src.idle_measured ? "" : " (idle not yet measured)",
		 in->dst_known ? "" : "assumed ", in->dst_known ? in->dst.idle_cpus : in->src.idle_cpus,
		 100.0 * in->zero_share);
}

/* The guest re-dirties a set small enough to cache, fast enough that
 * re-sending it takes a real share of the link, and XBZRLE is free to be
 * turned on: the cache it would want, memory aside, or 0. */
static uint64_t xbzrle_would_pay(const struct plan_inputs *in, const struct plan *cur)
{
	if ((in->pinned & PLAN_PIN_XBZRLE) || cur->xbzrle_bytes || in->xbzrle_dropped ||
	    in->dirty_mibs < XBZRLE_WORTH_DIRTY_SHARE * link_mibs(in))
		return 0;
	return xbzrle_cache_wanted(in);
}

/* XBZRLE on mid-migration: it would pay, and memory here allows it.
 * Returns the cache size, or 0. */
static uint64_t xbzrle_worth_starting(const struct plan_inputs *in, const struct plan *cur)
{
	return xbzrle_would_pay(in, cur) ? xbzrle_cache_for(in) : 0;
}

/* Once: XBZRLE would pay, but the source lacks the memory for its cache. */
static bool xbzrle_held_off(const struct plan_inputs *in, const struct plan *cur,
			    struct plan *next, char *change, size_t changelen, char *reason,
			    size_t reasonlen)
{
	uint64_t want = xbzrle_would_pay(in, cur);
	if (!want || xbzrle_cache_for(in) || (cur->held & PLAN_HELD_XBZRLE))
		return false;
	next->held |= PLAN_HELD_XBZRLE;
	snprintf(change, changelen, "XBZRLE kept off");
	snprintf(reason, reasonlen,
		 "%.1f MiB re-dirtied at %.1f MiB/s, but a %.0f MiB cache needs %.0f MiB free "
		 "and %.0f MiB is free here",
		 (double)in->hot_bytes / 1048576.0, in->dirty_mibs, (double)want / 1048576.0,
		 (double)(XBZRLE_MEM_FACTOR * want) / 1048576.0,
		 (double)in->src.mem_avail / 1048576.0);
	return true;
}

/* Once: over a measured link, raw pages stay because the hosts are busy,
 * where with their CPUs idle a codec would have won. */
static bool codec_held_off(const struct plan_inputs *in, const struct plan *cur,
			   struct plan *next, char *change, size_t changelen, char *reason,
			   size_t reasonlen)
{
	if ((in->pinned & PLAN_PIN_CODEC) || cur->codec != CODEC_NONE || in->link_mibs <= 0 ||
	    (cur->held & PLAN_HELD_CODEC) || !in->src.cpus)
		return false;
	struct plan_inputs idle = *in;
	idle.src.idle_cpus = in->src.cpus;
	if (in->dst_known && in->dst.cpus)
		idle.dst.idle_cpus = in->dst.cpus;
	unsigned threads = src_threads(&idle);
	enum codec_id c = best_codec(&idle, threads, CODEC_NONE);
	if (c == CODEC_NONE)
		return false;
	next->held |= PLAN_HELD_CODEC;
	snprintf(change, changelen, "compression kept off");
	snprintf(reason, reasonlen,
		 "%s would move %.0f MiB/s of RAM on idle CPUs, none %.0f; but %.1f idle CPUs "
		 "here, %.1f there",
		 codec_name(c), plan_rate(&idle, c, threads), plan_rate(in, CODEC_NONE, 1),
		 in->src.idle_cpus, in->dst_known ? in->dst.idle_cpus : in->src.idle_cpus);
	return true;
}

/* XBZRLE on, and less free here than its cache: the cache fills page by
 * page as pages are re-sent, so its next pages could get the VMM (and the
 * guest) OOM-killed. Before anything else, the hit rate and the codec
 * included: no gain pays for that. Unknown free memory (0) is no reason;
 * a pinned cache is the caller's. */
static bool xbzrle_off_for_memory(const struct plan_inputs *in, const struct plan *cur,
				  struct plan *next, char *change, size_t changelen, char *reason,
				  size_t reasonlen)
{
	if ((in->pinned & PLAN_PIN_XBZRLE) || !cur->xbzrle_bytes || !in->src.mem_avail ||
	    in->src.mem_avail >= cur->xbzrle_bytes)
		return false;
	next->xbzrle_bytes = 0;
	snprintf(change, changelen, "XBZRLE off");
	snprintf(reason, reasonlen,
		 "memory tightened: %.0f MiB free here, under the %.0f MiB cache it may still "
		 "fill", (double)in->src.mem_avail / 1048576.0,
		 (double)cur->xbzrle_bytes / 1048576.0);
	return true;
}

/* XBZRLE off for poor hits, or on (it would pay and fits):
 * true with what and why if so. */
static bool xbzrle_after_pass(const struct plan_inputs *in, const struct plan *cur,
			      struct plan *next, char *change, size_t changelen, char *reason,
			      size_t reasonlen)
{
	if (!(in->pinned & PLAN_PIN_XBZRLE) && cur->xbzrle_bytes && in->xbzrle_hit_rate >= 0 &&
	    in->xbzrle_hit_rate < XBZRLE_POOR_HITS) {
		next->xbzrle_bytes = 0;
		snprintf(change, changelen, "XBZRLE off");
		snprintf(reason, reasonlen, "only %.0f%% of re-sent pages were in the cache",
			 100.0 * in->xbzrle_hit_rate);
		return true;
	}
	uint64_t cache = xbzrle_worth_starting(in, cur);
	if (cache) {
		next->xbzrle_bytes = cache;
		snprintf(change, changelen, "XBZRLE on, %.0f MiB cache", (double)cache / 1048576.0);
		snprintf(reason, reasonlen,
			 "%.1f MiB re-dirtied at %.1f MiB/s (link %.0f MiB/s), %.0f MiB free here",
			 (double)in->hot_bytes / 1048576.0, in->dirty_mibs, link_mibs(in),
			 (double)in->src.mem_avail / 1048576.0);
		return true;
	}
	return false;
}

/* The codec's level raised or lowered (best_level): true with what and why. */
static bool level_after_pass(const struct plan_inputs *in, const struct plan *cur,
			     struct plan *next, char *change, size_t changelen, char *reason,
			     size_t reasonlen)
{
	if (in->pinned & PLAN_PIN_LEVEL)
		return false;
	int l = best_level(in, cur->codec, cur->threads, cur->level);
	if (l == cur->level)
		return false;
	int def = codec_default_level(cur->codec);
	int from = cur->level ? cur->level : def, to = l ? l : def; /* 0: the default */
	next->level = l;
	snprintf(change, changelen, "%s level %d -> %d", codec_name(cur->codec), from, to);
	snprintf(reason, reasonlen,
		 "link %.0f MiB/s, %.1f idle CPUs here: level %d would move %.0f MiB/s of RAM, "
		 "level %d %.0f", link_mibs(in), in->src.idle_cpus, to,
		 plan_rate_at(in, cur->codec, l, cur->threads), from,
		 plan_rate_at(in, cur->codec, cur->level, cur->threads));
	return true;
}

bool plan_after_pass(const struct plan_inputs *in, const struct plan *cur, struct plan *next,
		     char *change, size_t changelen, char *reason, size_t reasonlen)
{
	*next = *cur;
	if (xbzrle_off_for_memory(in, cur, next, change, changelen, reason, reasonlen))
		return true;
	if (!(in->pinned & PLAN_PIN_CODEC)) {
		enum codec_id c = best_codec(in, cur->threads, cur->codec);
		if (c != cur->codec) {
			next->codec = c;
			next->level = (in->pinned & PLAN_PIN_LEVEL)
					      ? cur->level
					      : best_level(in, c, cur->threads, 0);
			/* raw for want of idle CPU says what "compression kept
			 * off" would say a second time */
			if (c == CODEC_NONE)
				next->held |= PLAN_HELD_CODEC;
			snprintf(change, changelen, "codec %s -> %s", codec_name(cur->codec), codec_name(c));
			snprintf(reason, reasonlen,
				 "link %.0f MiB/s, %.1f idle CPUs here, %.1f there: %s would move %.0f "
				 "MiB/s of RAM, %s %.0f",
				 link_mibs(in), in->src.idle_cpus,
				 in->dst_known ? in->dst.idle_cpus : in->src.idle_cpus, codec_name(c),
				 plan_rate(in, c, cur->threads), codec_name(cur->codec),
				 plan_rate(in, cur->codec, cur->threads));
			return true;
		}
	}
	return xbzrle_after_pass(in, cur, next, change, changelen, reason, reasonlen) ||
	       level_after_pass(in, cur, next, change, changelen, reason, reasonlen) ||
	       xbzrle_held_off(in, cur, next, change, changelen, reason, reasonlen) ||
	       codec_held_off(in, cur, next, change, changelen, reason, reasonlen);
}

/* SPDX-License-Identifier: MIT */
/*
 * The migration planner: what both hosts have to spare, what the link and
 * the guest do, in; codec, level, threads, channels, XBZRLE and throttle,
 * out, each decision with its reason. Pure: no I/O, no clock, no engine
 * state, so every rule is tested from a table (tests/unit/test_planner.c).
 *
 * The rules, in short. Compression pays when the link, not the CPU, is the
 * limit: for each codec the planner estimates the rate at which RAM would
 * move (the link times the codec's ratio, capped by what the compressing
 * threads and the destination's decompressing threads can do) and takes
 * the best, with a margin in favour of what is already running so a noisy
 * pass does not flip it; its level is raised (plan_raised_level) when the
 * model says that moves more RAM, which is when the link is the limit and
 * the CPU has room, and lowered again when not. Threads come from each
 * side's idle CPUs. XBZRLE pays when the guest keeps rewriting a hot set
 * and the source has memory to spare for a cache of it; it goes off again
 * when its hits are poor or the source's free memory falls under the
 * cache's size. Auto-converge is on unless pinned off, by the dirty-rate
 * controller (policy/dirtyrate.h), which reaches the share
 * needed in one pass where QEMU's steps take many: it only acts once the
 * guest dirties more than half of what the link moves.
 */
#ifndef VMIG_POLICY_PLANNER_H
#define VMIG_POLICY_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* What one host has to spare. */
struct plan_host {
	double idle_cpus;        /* CPUs' worth of idle time (within its cgroup) */
	uint64_t mem_avail;      /* bytes it can still allocate */
	unsigned cpus;           /* CPUs it may run on (affinity); 0: unknown */
	bool idle_measured;      /* idle_cpus measured; else it is all of them, assumed */
};

/* What sampling a few guest pages with each codec showed (one core). */
struct plan_codec_sample {
	double ratio;            /* bytes in / bytes out, non-zero pages */
	double mibs_per_core;    /* compression speed */
	double dec_mibs_per_core;/* decompression speed */
};

/* Knobs the operator set explicitly: the planner leaves them alone. */
enum plan_pin {
	PLAN_PIN_CODEC = 1u << 0,
	PLAN_PIN_LEVEL = 1u << 1,
	PLAN_PIN_THREADS = 1u << 2,
	PLAN_PIN_CHANNELS = 1u << 3,
	PLAN_PIN_XBZRLE = 1u << 4,
	PLAN_PIN_CONVERGE = 1u << 5,
};

struct plan_inputs {
	struct plan_host src, dst;
	bool dst_known;          /* dst filled from the destination's own report */
	uint64_t ram_bytes;
	double zero_share;       /* of sampled pages, 0..1 */
	struct plan_codec_sample codec[CODEC_COUNT]; /* at each codec's default level;
						      * [CODEC_NONE] unused */
	/* at plan_raised_level(c), for the codecs that have one; ratio 0: none */
	struct plan_codec_sample raised[CODEC_COUNT];
	double link_mibs;        /* measured (last pass) or the cap; 0: unknown */
	double link_limit_mibs;  /* what the link carries at most, known for sure
				  * (the bandwidth cap); 0: unknown (policy/channels.h) */
	double dirty_mibs;       /* guest's dirty rate; 0: unknown */
	uint64_t hot_bytes;      /* pages the guest keeps rewriting (estimate; after a
				  * pass: what it dirtied during it, to be sent again) */
	double xbzrle_hit_rate;  /* last pass, 0..1; < 0: no data */
	bool xbzrle_dropped;     /* switched off for poor hits: not to be tried again */
	unsigned pinned;         /* enum plan_pin bits */
};

struct plan {
	enum codec_id codec;
	int level;               /* 0: the codec's default */
	unsigned threads;        /* compression workers on the source */
	unsigned channels;       /* data channels carrying pages now (policy/channels.h) */
	unsigned channels_max;   /* data channels connected: fixed once connected */
	uint64_t xbzrle_bytes;   /* 0: off */
	bool auto_converge;
	bool dirty_rate;         /* throttle by the dirty-rate controller, not in steps */
	unsigned held;           /* enum plan_held: what a host's figures kept off, said once */
};

/* A knob that would pay by the link and the guest, kept off by what a host
 * has to spare: reported as a decision once, so the operator sees why. */
enum plan_held {
	PLAN_HELD_CODEC = 1u << 0,  /* compression: too little idle CPU */
	PLAN_HELD_XBZRLE = 1u << 1, /* XBZRLE: too little free memory for its cache */
};

#define PLAN_REASON_MAX 160

/* The plan to start with; reason says why, in a sentence. */
void plan_initial(const struct plan_inputs *in, const struct plan *pinned_values, struct plan *out,
		  char *reason, size_t reasonlen);

/*
 * After a pass: the plan for the next one (XBZRLE can be switched on, with
 * a cache sized then, or off; the channels in use are policy/channels.h's).
 * Returns true if anything changed, with what and why in change and
 * reason; that includes a knob kept off by a host's spare CPU or memory
 * (enum plan_held), once.
 */
bool plan_after_pass(const struct plan_inputs *in, const struct plan *cur, struct plan *next,
		     char *change, size_t changelen, char *reason, size_t reasonlen);

/* RAM bytes per second a codec would move at threads threads (model), at
 * its default level. */
double plan_rate(const struct plan_inputs *in, enum codec_id c, unsigned threads);

/* The same at `level` (0: the default; plan_raised_level(c): the raised
 * sample; any other level is not modelled and reads as the default). */
double plan_rate_at(const struct plan_inputs *in, enum codec_id c, int level, unsigned threads);

/*
 * The level the planner may raise codec c to when the link, not the CPU,
 * is the limit: more ratio for more CPU (0: none). zstd 3 only: measured
 * on the "typical VM" content (codec_bench, 64-page batches), zstd 1 -> 3
 * is 2.50 -> 2.62 for 356 -> 208 MB/s a core, past that each level costs
 * far more CPU than it saves bytes, and deflate 1 -> 3 (2.41 -> 2.43) and
 * lz4's HC levels (2.23 at 100 MB/s, under zstd 3) never pay.
 */
int plan_raised_level(enum codec_id c);

/*
 * Whether a source with this much to spare should send a link probe first
 * when the link's rate is unknown (migration/linkprobe.h): only if it has
 * the idle CPU to compress once the probe shows a slow link. A quarter of
 * a core of lz4 moves about 125 MiB/s of RAM, a 1 Gbit/s link's worth,
 * and the planner compresses there. On KVM with 0.4 idle CPUs (the other
 * core running the guest) a bar at 0.5 sent pass 1 raw and the planner
 * chose lz4 right after it: 11.5 s at 1 Gbit/s against 6.2 s probed.
 * Under it, a probe only puts off XBZRLE, which needs a full pass to
 * judge, by a pass (nested emulation, no idle CPU: 310 MiB on the wire
 * against 250). A host whose idle share is not yet measured is probed.
 */
bool plan_probe_pays(const struct plan_host *src);
#define PLAN_PROBE_MIN_IDLE_CPUS 0.25

/* CPUs' worth of work n parallel threads deliver (Amdahl, see planner.c). */
double plan_parallel_cpus(double n);

/* Data channels at most: more bought nothing on 16 cores (planner.c). */
#define PLAN_MAX_CHANNELS 8

#endif

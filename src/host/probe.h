/* SPDX-License-Identifier: MIT */
/*
 * Host probe: this host's spare CPU and memory, as much of them as this
 * process may use, for the policy planner and the wire (struct
 * wire_host_info). It samples on a thread of its own, so the migration's
 * setup never waits for it: readers get the latest figures, copied.
 *
 * What "may use" means here:
 *  - CPUs: the affinity mask's count, capped by a cgroup CPU quota (v1
 *    cpu.cfs_quota_us / cpu.cfs_period_us, -1 = none; v2 cpu.max "QUOTA
 *    PERIOD" or "max PERIOD") on this process's cgroup or an ancestor.
 *  - CPU idle share: of those CPUs, the share left idle over the last
 *    interval: /proc/stat idle + iowait on the CPUs of the mask, and, under
 *    a quota, the unused part of the quota (v1 cpuacct.usage, v2 cpu.stat
 *    usage_usec), whichever leaves less.
 *  - Memory: MemAvailable, capped by each cgroup limit less that cgroup's
 *    working set (usage less its inactive file cache, which the kernel
 *    reclaims first: v1 memory.limit_in_bytes, usage_in_bytes, memory.stat
 *    total_inactive_file; v2 the lower of memory.max and memory.high,
 *    memory.current, memory.stat inactive_file). Total: MemTotal capped by
 *    the lowest limit. A v1 limit of 2^62 or more means none (v1 writes
 *    "unlimited" as a huge number).
 * The cgroups come from /proc/self/cgroup, their mounts from
 * /proc/self/mountinfo; a controller found in a v1 hierarchy is read there,
 * else in the v2 one. Every file is read under a root prefix, so tests can
 * point the probe at a fake tree. A missing, unreadable or garbled file
 * leaves its figure at the fallback (no limit, or 0 = unknown); the probe
 * never fails and never aborts.
 */
#ifndef VMIG_HOST_PROBE_H
#define VMIG_HOST_PROBE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migration/wire.h"

#define HOST_PROBE_INTERVAL_MS 200
#define HOST_PROBE_FIRST_MS 50	/* the first interval: an idle share by then */
#define HOST_PROBE_MAX_LEVELS 8 /* cgroup levels read, from this process's up */
#define HOST_PROBE_PATH_MAX 1024
#define HOST_PROBE_ROOT_MAX 256 /* a longer root prefix is refused */
#define HOST_PROBE_NO_LIMIT UINT64_MAX

struct host_probe;

/*
 * Starts a probe: finds the cgroups, takes a first sample (a few small
 * file reads, no sleep) and a thread ("vmig-probe") that samples again
 * every interval_ms (0: HOST_PROBE_INTERVAL_MS). root: prefix for every
 * path it reads; NULL or "" is the real one. The figures available at
 * once have no idle share (WIRE_HOST_IDLE clear) until the second sample,
 * HOST_PROBE_FIRST_MS later. 0, or -errno: no thread, no memory, or a
 * root over HOST_PROBE_ROOT_MAX.
 */
int host_probe_start(const char *root, unsigned interval_ms, struct host_probe **out, char *err,
		     size_t errlen);
/* The latest figures (no I/O, never blocks for long; any thread). A NULL
 * probe gives all zeros: unknown. *age_ms, unless NULL: since that sample. */
void host_probe_get(struct host_probe *p, struct wire_host_info *hi, uint64_t *age_ms);
/* Stops the thread at once (no waiting out the interval) and frees. NULL is fine. */
void host_probe_stop(struct host_probe *p);
/*
 * Marks the latest sample: host_probe_get_since_mark then gives the idle
 * share from it to the latest sample since, a pass's average rather than
 * the last interval's. One interval of a 2-core host read 0.2-1.4 idle
 * CPUs from pass to pass and flipped the planner's codec between lz4 and
 * deflate. NULL is fine.
 */
void host_probe_mark(struct host_probe *p);
/* As host_probe_get (no age), with the idle share since the mark; the
 * latest interval's when no sample has come since, or no mark was made. */
void host_probe_get_since_mark(struct host_probe *p, struct wire_host_info *hi);

/* Counts own_cpus (CPUs' worth of time the migration itself took lately)
 * as idle: the planner must see what the host has besides the migration,
 * or its own decompressing would look like a busy host and switch itself
 * off. Only a measured idle share changes; capped at all usable CPUs. */
void probe_credit_own_work(struct wire_host_info *hi, double own_cpus);

/* ---- The pieces, for tests and for a caller that samples by itself ---- */

/* One controller's cgroup directory: root prefix + mount point + the
 * process's cgroup below it; levels up stop at the mount point (top). */
struct probe_cgroup {
	int version; /* 0: none found, 1 or 2 */
	char dir[HOST_PROBE_PATH_MAX];
	size_t top; /* strlen of root prefix + mount point */
};

struct probe_paths {
	char root[HOST_PROBE_PATH_MAX];	    /* "" for the real root */
	struct probe_cgroup cpu, acct, mem; /* quota, usage, memory */
};

/* One cgroup level's CPU figures. */
struct probe_cpu_level {
	uint64_t quota_us, period_us; /* quota_us 0: no quota at this level */
	uint64_t usage_ns;
	bool has_usage;
};

/* What one sample read; figures compare two of them. */
struct probe_raw {
	uint64_t t_ns;	/* CLOCK_MONOTONIC when taken */
	unsigned ncpus; /* the mask's CPUs (no mask: /proc/stat's) */
	bool has_stat;
	uint64_t idle_ticks, total_ticks; /* /proc/stat over those CPUs */
	unsigned cpu_levels;
	struct probe_cpu_level cpu[HOST_PROBE_MAX_LEVELS];
	uint64_t mem_total, mem_avail; /* /proc/meminfo; 0: unknown */
	uint64_t cg_mem_limit;	       /* the lowest cgroup limit, or HOST_PROBE_NO_LIMIT */
	uint64_t cg_mem_avail;	       /* the least headroom under one, or HOST_PROBE_NO_LIMIT */
};

/* Finds this process's cgroups under root (NULL or ""): 0, or
 * -ENAMETOOLONG for a root over HOST_PROBE_ROOT_MAX. A controller it
 * cannot place has version 0 (no cgroup limits it). */
int probe_paths_find(const char *root, struct probe_paths *pp);
/* Reads one sample; mask: the CPUs this process may run on (NULL: all of
 * /proc/stat's). t_ns is set to now; tests may set it themselves. */
void probe_sample(const struct probe_paths *pp, const cpu_set_t *mask, struct probe_raw *s);
/* The figures from the newest sample cur; with an older prev of the same
 * probe also the idle share over the time between them. The result always
 * passes wire_check_host_info. */
void probe_figures(const struct probe_raw *prev, const struct probe_raw *cur,
		   struct wire_host_info *hi);

#endif

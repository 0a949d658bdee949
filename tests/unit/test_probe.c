/* SPDX-License-Identifier: MIT */
/*
 * The host probe (src/host/probe.[ch]) against fake /proc and /sys trees
 * built under a temp dir: cgroup v1 and v2 layouts, no cgroup, unlimited
 * values, missing and garbage files, a container's mount of a subtree; the
 * idle share from two samples. Then on this machine: the probe thread
 * starts, gives an idle share within a second and stops at once, and the
 * engine's setup no longer waits for /proc (both sides' figures arrive).
 */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_guest.h"
#include "migration/sender_internal.h"
#include "host/probe.h"
#include "unittest.h"

#define MIB (1ull << 20)

/* ---- fake trees ---- */

struct tree {
	char root[128];
};

static int tree_new(struct tree *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/vmig-probe-XXXXXX");
	return mkdtemp(t->root) ? 0 : -errno;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void tree_free(struct tree *t)
{
	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes root/rel (making its directories) with text as it is. */
static int put(struct tree *t, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	for (char *s = path + strlen(t->root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

/* /proc/stat with the aggregate line and cpu0..n-1, each CPU with user
 * ticks busy and idle ticks idle. */
static int put_stat(struct tree *t, unsigned n, unsigned long long busy, unsigned long long idle)
{
	char text[4096];
	int k =
	    snprintf(text, sizeof(text), "cpu  %llu 0 0 %llu 0 0 0 0 0 0\n", busy * n, idle * n);
	for (unsigned i = 0; i < n; i++)
		k += snprintf(text + k, sizeof(text) - (size_t)k,
			      "cpu%u %llu 0 0 %llu 0 0 0 0 0 0\n", i, busy, idle);
	snprintf(text + k, sizeof(text) - (size_t)k, "intr 12345 0 0\nctxt 99\n");
	return put(t, "proc/stat", text);
}

static int put_meminfo(struct tree *t, unsigned long long total_mib, unsigned long long avail_mib)
{
	char text[256];
	snprintf(text, sizeof(text),
		 "MemTotal:       %llu kB\nMemFree:         1024 kB\nMemAvailable:   %llu kB\n"
		 "Buffers:           0 kB\n",
		 total_mib * 1024, avail_mib * 1024);
	return put(t, "proc/meminfo", text);
}

/* The v1 layout of this platform: cpu and cpuacct mounted apart, the
 * process in /vm/a for cpu and memory; a v2 mount with no controllers. */
static int put_v1(struct tree *t)
{
	return put(t, "proc/self/cgroup",
		   "9:name=systemd:/\n4:memory:/vm/a\n2:cpuacct:/vm/a\n1:cpu:/vm/a\n0::/\n") ||
	       put(t, "proc/self/mountinfo",
		   "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		   "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		   "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
		   "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
		   "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
		   "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n") ||
	       put_stat(t, 4, 100, 100) || put_meminfo(t, 8192, 6000);
}

/* A v2-only host (the mount at /sys/fs/cgroup), the process in /vm/a. */
static int put_v2(struct tree *t)
{
	return put(t, "proc/self/cgroup", "0::/vm/a\n") ||
	       put(t, "proc/self/mountinfo",
		   "25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n") ||
	       put_stat(t, 4, 100, 100) || put_meminfo(t, 8192, 6000);
}

/* A mask of the first n CPUs. */
static cpu_set_t first_cpus(unsigned n)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	for (unsigned i = 0; i < n; i++)
		CPU_SET(i, &s);
	return s;
}

/* One sample of tree t with mask m, and its figures (no idle share). */
static void figures_of(struct tree *t, const cpu_set_t *m, struct wire_host_info *hi)
{
	struct probe_paths pp;
	struct probe_raw s;
	probe_paths_find(t->root, &pp);
	probe_sample(&pp, m, &s);
	probe_figures(NULL, &s, hi);
}

/* Every figure the probe gives must pass the receiver's checks. */
static bool wire_accepts(const struct wire_host_info *hi)
{
	uint8_t b[WIRE_HOST_INFO_SIZE];
	struct wire_host_info d;
	char err[128];
	wire_encode_host_info(b, hi);
	return wire_decode_host_info(b, sizeof(b), &d, err, sizeof(err)) == 0;
}

/* ---- CPUs ---- */

TEST(v1_quota_gives_fractional_cpus)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(4);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v1(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu/vm/a/cpu.cfs_quota_us", "150000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu/vm/a/cpu.cfs_period_us", "100000\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.ncpus, 4);
	CHECK_EQ_INT(hi.usable_cpus_milli, 1500);
	CHECK(hi.flags & WIRE_HOST_CPU_QUOTA);
	CHECK(!(hi.flags & WIRE_HOST_IDLE)); /* one sample: no idle share yet */
	CHECK(wire_accepts(&hi));
}

TEST(v1_no_quota_gives_affinity_count)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(3);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v1(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu/vm/a/cpu.cfs_quota_us", "-1\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu/vm/a/cpu.cfs_period_us", "100000\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.usable_cpus_milli, 3000);
	CHECK(!(hi.flags & WIRE_HOST_CPU_QUOTA));
}

TEST(v2_cpu_max_unlimited_gives_affinity_count)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(3);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/cpu.max", "max 100000\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.ncpus, 3);
	CHECK_EQ_INT(hi.usable_cpus_milli, 3000);
	CHECK(!(hi.flags & WIRE_HOST_CPU_QUOTA));
}

/* A quota on the parent cgroup binds the child too. */
TEST(v2_parent_quota_applies)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(4);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/cpu.max", "max 100000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/cpu.max", "250000 100000\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.usable_cpus_milli, 2500);
	CHECK(hi.flags & WIRE_HOST_CPU_QUOTA);
}

/* A quota above the CPUs there are does not raise the count. */
TEST(quota_above_affinity_is_the_affinity)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(2);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/cpu.max", "800000 100000\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.usable_cpus_milli, 2000);
	CHECK(!(hi.flags & WIRE_HOST_CPU_QUOTA));
}

/* ---- idle share ---- */

TEST(idle_share_from_two_stat_samples)
{
	struct tree t;
	struct probe_paths pp;
	struct probe_raw a, b;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(4);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put(&t, "proc/stat", "cpu  100 0 0 100 0 0 0 0 0 0\n"), 0);
	probe_paths_find(t.root, &pp);
	probe_sample(&pp, NULL, &a);
	/* then 30 ticks busy (user, system, irq) and 70 idle (idle, iowait) */
	CHECK_EQ_INT(put(&t, "proc/stat", "cpu  110 5 10 160 10 3 2 0 7 0\nintr 1\n"), 0);
	probe_sample(&pp, &m, &b);
	tree_free(&t);
	probe_figures(&a, &b, &hi);
	CHECK(hi.flags & WIRE_HOST_IDLE);
	CHECK_EQ_INT(hi.cpu_idle_permille, 700); /* guest time is in user already */
	CHECK(wire_accepts(&hi));
	probe_figures(NULL, &b, &hi);
	CHECK(!(hi.flags & WIRE_HOST_IDLE));
	CHECK_EQ_INT(hi.cpu_idle_permille, 0);
}

/* Only the CPUs this process may run on count: a busy CPU outside its
 * mask does not make it look busy. */
TEST(idle_share_counts_only_the_mask)
{
	struct tree t;
	struct probe_paths pp;
	struct probe_raw a, b;
	struct wire_host_info hi;
	cpu_set_t only1;
	CPU_ZERO(&only1);
	CPU_SET(1, &only1);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put(&t, "proc/stat", "cpu  0 0 0 0 0\ncpu0 0 0 0 0 0\ncpu1 0 0 0 0 0\n"), 0);
	probe_paths_find(t.root, &pp);
	probe_sample(&pp, &only1, &a);
	CHECK_EQ_INT(
	    put(&t, "proc/stat", "cpu  100 0 0 100 0\ncpu0 100 0 0 0 0\ncpu1 0 0 0 100 0\n"), 0);
	probe_sample(&pp, &only1, &b);
	tree_free(&t);
	probe_figures(&a, &b, &hi);
	CHECK_EQ_INT(hi.ncpus, 1);
	CHECK_EQ_INT(hi.cpu_idle_permille, 1000);
}

/* Under a quota the unused share of the quota counts when it is tighter
 * than what /proc/stat shows idle: v1 cpuacct.usage, in its own mount. */
TEST(v1_quota_usage_tighter_than_host_idle)
{
	struct tree t;
	struct probe_paths pp;
	struct probe_raw a, b;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(4);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v1(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu/vm/a/cpu.cfs_quota_us", "150000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu/vm/a/cpu.cfs_period_us", "100000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpuacct/vm/a/cpuacct.usage", "5000000000\n"), 0);
	probe_paths_find(t.root, &pp);
	probe_sample(&pp, &m, &a);
	/* one second later: the host 90 % idle (3.6 CPUs), the cgroup used
	 * 0.9 CPU of its 1.5: 0.6 left, 400 per mille of 1.5 */
	CHECK_EQ_INT(put_stat(&t, 4, 110, 190), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpuacct/vm/a/cpuacct.usage", "5900000000\n"), 0);
	probe_sample(&pp, &m, &b);
	tree_free(&t);
	a.t_ns = 1000000000ull;
	b.t_ns = 2000000000ull;
	probe_figures(&a, &b, &hi);
	CHECK_EQ_INT(hi.usable_cpus_milli, 1500);
	CHECK(hi.flags & WIRE_HOST_IDLE);
	CHECK_EQ_INT(hi.cpu_idle_permille, 400);
}

/* v2 cpu.stat usage_usec; here the host is the tighter one. */
TEST(v2_host_idle_tighter_than_quota_usage)
{
	struct tree t;
	struct probe_paths pp;
	struct probe_raw a, b;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(4);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/cpu.max", "200000 100000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/cpu.stat",
			 "usage_usec 1000000\nuser_usec 800000\nsystem_usec 200000\n"),
		     0);
	probe_paths_find(t.root, &pp);
	probe_sample(&pp, &m, &a);
	/* the cgroup used 0.2 CPU of 2 (1.8 left), but the host is 75 % busy:
	 * 1 CPU idle of 4, half of the 2 usable */
	CHECK_EQ_INT(put_stat(&t, 4, 175, 125), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/cpu.stat",
			 "usage_usec 1200000\nuser_usec 900000\nsystem_usec 300000\n"),
		     0);
	probe_sample(&pp, &m, &b);
	tree_free(&t);
	a.t_ns = 1000000000ull;
	b.t_ns = 2000000000ull;
	probe_figures(&a, &b, &hi);
	CHECK_EQ_INT(hi.usable_cpus_milli, 2000);
	CHECK_EQ_INT(hi.cpu_idle_permille, 500);
}

/* ---- memory ---- */

TEST(v2_memory_limit_below_memavailable)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(1);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.max", "314572800\n"), 0);     /* 300M */
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.current", "209715200\n"), 0); /* 200M */
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.high", "max\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK(hi.mem_free_bytes == 100 * MIB); /* not MemAvailable's 6000 MiB */
	CHECK(hi.mem_total_bytes == 300 * MIB);
	CHECK(hi.flags & WIRE_HOST_MEM_LIMIT);
	CHECK(wire_accepts(&hi));
}

/* Inactive file cache is reclaimed before the limit bites: it is headroom. */
TEST(v2_memory_cache_counts_as_headroom)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(1);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.max", "314572800\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.current", "209715200\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.stat",
			 "anon 104857600\nfile 104857600\nactive_file 52428800\n"
			 "inactive_file 52428800\n"),
		     0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK(hi.mem_free_bytes == 150 * MIB);
}

/* memory.high, a parent's memory.max: the tightest headroom wins. */
TEST(v2_memory_high_and_parent_limit)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(1);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.max", "max\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.high", "1073741824\n"), 0);   /* 1G */
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/a/memory.current", "104857600\n"), 0); /* 100M */
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/memory.max", "2147483648\n"), 0);      /* 2G */
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/vm/memory.current", "1992294400\n"), 0);  /* 1900M */
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK(hi.mem_free_bytes == 148 * MIB); /* the parent's 2048 - 1900 */
	CHECK(hi.mem_total_bytes == 1024 * MIB);
}

TEST(v1_unlimited_memory_falls_back_to_memavailable)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(1);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v1(&t), 0);
	CHECK_EQ_INT(
	    put(&t, "sys/fs/cgroup/memory/vm/a/memory.limit_in_bytes", "9223372036854771712\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory/vm/a/memory.usage_in_bytes", "829710336\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"),
		     0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK(hi.mem_free_bytes == 6000 * MIB);
	CHECK(hi.mem_total_bytes == 8192 * MIB);
	CHECK(!(hi.flags & WIRE_HOST_MEM_LIMIT));
}

TEST(v1_memory_limit_applies)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(1);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v1(&t), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory/vm/a/memory.limit_in_bytes", "314572800\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory/vm/a/memory.usage_in_bytes", "262144000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory/vm/a/memory.stat",
			 "cache 0\ninactive_file 1\ntotal_inactive_file 10485760\n"),
		     0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK(hi.mem_free_bytes == 60 * MIB); /* 300 - (250 - 10 reclaimable) */
	CHECK(hi.mem_total_bytes == 300 * MIB);
	CHECK(hi.flags & WIRE_HOST_MEM_LIMIT);
}

/* A container's mount shows its own cgroup as the root: the path that
 * /proc/self/cgroup names is stripped of it. */
TEST(container_mount_of_a_subtree)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(2);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_stat(&t, 2, 1, 1), 0);
	CHECK_EQ_INT(put_meminfo(&t, 8192, 6000), 0);
	CHECK_EQ_INT(put(&t, "proc/self/cgroup", "0::/docker/abc\n"), 0);
	CHECK_EQ_INT(put(&t, "proc/self/mountinfo",
			 "25 20 0:22 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n"),
		     0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/cpu.max", "50000 100000\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory.max", "536870912\n"), 0);
	CHECK_EQ_INT(put(&t, "sys/fs/cgroup/memory.current", "0\n"), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.usable_cpus_milli, 500);
	CHECK(hi.mem_free_bytes == 512 * MIB);
}

/* ---- fallbacks ---- */

/* The cgroups are named and mounted, but their files are not there. */
TEST(missing_cgroup_files_fall_back)
{
	struct tree t;
	struct wire_host_info hi;
	cpu_set_t m = first_cpus(4);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v1(&t), 0);
	figures_of(&t, &m, &hi);
	CHECK_EQ_INT(hi.usable_cpus_milli, 4000);
	CHECK(hi.mem_free_bytes == 6000 * MIB && hi.mem_total_bytes == 8192 * MIB);
	CHECK_EQ_INT(hi.flags, 0);
	tree_free(&t);
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_v2(&t), 0);
	figures_of(&t, &m, &hi);
	tree_free(&t);
	CHECK_EQ_INT(hi.usable_cpus_milli, 4000);
	CHECK(hi.mem_free_bytes == 6000 * MIB && hi.mem_total_bytes == 8192 * MIB);
	CHECK_EQ_INT(hi.flags, 0);
}

/* No /proc/self/cgroup, no mountinfo: the host's figures. No mask: the
 * CPUs /proc/stat lists. Nothing at all: all unknown. */
TEST(no_cgroup_and_no_files)
{
	struct tree t;
	struct wire_host_info hi;
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_stat(&t, 3, 1, 1), 0);
	CHECK_EQ_INT(put_meminfo(&t, 1024, 512), 0);
	figures_of(&t, NULL, &hi);
	CHECK_EQ_INT(hi.ncpus, 3);
	CHECK_EQ_INT(hi.usable_cpus_milli, 3000);
	CHECK(hi.mem_free_bytes == 512 * MIB && hi.mem_total_bytes == 1024 * MIB);
	tree_free(&t);
	CHECK_EQ_INT(tree_new(&t), 0);
	figures_of(&t, NULL, &hi);
	tree_free(&t);
	struct wire_host_info zero = {0};
	CHECK(memcmp(&hi, &zero, sizeof(hi)) == 0);
	CHECK(wire_accepts(&hi));
}

/* Garbage the probe may find, and whether /proc/self/cgroup and mountinfo
 * hold it too; when they do not, they lead to a v1 and a v2 tree whose
 * files hold it. */
struct junk {
	const char *text;
	bool in_cgroup, in_mountinfo;
};

/* Writes j's garbage in every file the probe reads (with a FIFO that would
 * block and a directory where files should be) and takes the figures of
 * two samples with 2 CPUs. Returns 0, or non-zero if the tree could not
 * be made. */
static int figures_of_junk(const struct junk *j, struct wire_host_info *hi)
{
	static const char *const files[] = {"cg/x/cpu.cfs_quota_us",
					    "cg/x/cpu.cfs_period_us",
					    "cg/x/cpuacct.usage",
					    "cg/x/memory.limit_in_bytes",
					    "cg/x/memory.usage_in_bytes",
					    "cg/x/memory.stat",
					    "u/x/cpu.max",
					    "u/x/cpu.stat",
					    "u/x/memory.max",
					    "u/x/memory.high",
					    "u/x/memory.current",
					    "u/x/memory.stat"};
	cpu_set_t m = first_cpus(2);
	struct tree t;
	struct probe_paths pp;
	struct probe_raw a, b;
	char path[256];
	int rc = tree_new(&t);
	if (rc)
		return rc;
	rc = put(&t, "proc/self/cgroup",
		 j->in_cgroup ? j->text : "4:memory:/x\n1:cpu:/x\n0::/x\n") ||
	     put(&t, "proc/self/mountinfo",
		 j->in_mountinfo ? j->text
				 : "1 0 0:1 / /cg rw - cgroup cgroup rw,cpu,memory\n"
				   "2 0 0:2 / /u rw - cgroup2 cgroup2 rw\n") ||
	     put(&t, "proc/stat", j->text) || put(&t, "proc/meminfo", j->text);
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]) && !rc; f++)
		rc = put(&t, files[f], j->text);
	snprintf(path, sizeof(path), "%s/cg/cpu.cfs_quota_us", t.root);
	rc = rc || mkfifo(path, 0600);
	snprintf(path, sizeof(path), "%s/u/memory.max", t.root);
	rc = rc || mkdir(path, 0700);
	if (!rc) {
		probe_paths_find(t.root, &pp);
		probe_sample(&pp, &m, &a);
		probe_sample(&pp, &m, &b);
		probe_figures(&a, &b, hi);
	}
	tree_free(&t);
	return rc;
}

/* No crash, no hang: the fallbacks, and figures the wire accepts. */
static void junk_gives_fallbacks(struct ut_state *ut_, const struct junk *j, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct wire_host_info hi;
		char what[32]; /* not the text: it may hold newlines and control bytes */
		snprintf(what, sizeof(what), "row %zu", i);
		CHECK_MSG(figures_of_junk(&j[i], &hi) == 0, "%s: no tree", what);
		CHECK_MSG(hi.ncpus == 2, "%s: ncpus %u", what, (unsigned)hi.ncpus);
		CHECK_MSG(hi.usable_cpus_milli >= 1 && hi.usable_cpus_milli <= 2000,
			  "%s: usable_cpus_milli %u", what, (unsigned)hi.usable_cpus_milli);
		CHECK_MSG(wire_accepts(&hi), "%s: the wire refuses the figures", what);
	}
}

TEST(empty_files_give_fallbacks)
{
	static const struct junk j[] = {{"", false, false}, {"\n", true, true}};
	junk_gives_fallbacks(ut_, j, sizeof(j) / sizeof(j[0]));
}

TEST(words_for_numbers_give_fallbacks)
{
	static const struct junk j[] = {{"banana\n", false, true}, {"max max\n", false, true}};
	junk_gives_fallbacks(ut_, j, sizeof(j) / sizeof(j[0]));
}

TEST(numbers_out_of_range_give_fallbacks)
{
	static const struct junk j[] = {{"-5\n", true, false},
					{"99999999999999999999999999\n", true, true}};
	junk_gives_fallbacks(ut_, j, sizeof(j) / sizeof(j[0]));
}

TEST(too_many_fields_give_fallbacks)
{
	static const struct junk j[] = {{"1 2 3 4 5 6 7\n", false, false}};
	junk_gives_fallbacks(ut_, j, sizeof(j) / sizeof(j[0]));
}

TEST(bare_colons_give_fallbacks)
{
	static const struct junk j[] = {{"0::\n::::\n", true, true}, {":\n", false, true}};
	junk_gives_fallbacks(ut_, j, sizeof(j) / sizeof(j[0]));
}

TEST(control_bytes_give_fallbacks)
{
	static const struct junk j[] = {{"\x01\x02\xff\n", true, false}};
	junk_gives_fallbacks(ut_, j, sizeof(j) / sizeof(j[0]));
}

/* A root too long to prefix anything is refused, not cut short. */
TEST(a_root_too_long_is_refused)
{
	char longroot[HOST_PROBE_ROOT_MAX + 2];
	struct probe_paths pp;
	struct host_probe *p;
	char err[128];
	memset(longroot, 'a', sizeof(longroot) - 1);
	longroot[sizeof(longroot) - 1] = 0;
	CHECK_EQ_INT(probe_paths_find(longroot, &pp), -ENAMETOOLONG);
	CHECK_EQ_INT(host_probe_start(longroot, 0, &p, err, sizeof(err)), -ENAMETOOLONG);
	CHECK(p == NULL);
}

/* FIFOs where /proc's files should be (a test tree gone wrong): the probe
 * neither blocks nor invents figures. */
TEST(fifos_do_not_block)
{
	static const char *const files[] = {"proc/stat", "proc/meminfo", "proc/self/cgroup",
					    "proc/self/mountinfo"};
	struct tree t;
	struct wire_host_info hi;
	char path[256];
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put(&t, "proc/self/x", ""), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t.root, files[i]);
		CHECK_EQ_INT(mkfifo(path, 0600), 0);
	}
	uint64_t t0 = mono_ms();
	figures_of(&t, NULL, &hi);
	tree_free(&t);
	CHECK(mono_ms() - t0 < 1000);
	CHECK_EQ_INT(hi.ncpus, 0);
	CHECK(hi.mem_total_bytes == 0);
}

/* A free figure above the total (a torn read of meminfo) is capped. */
TEST(free_never_above_total)
{
	struct tree t;
	struct wire_host_info hi;
	CHECK_EQ_INT(tree_new(&t), 0);
	CHECK_EQ_INT(put_meminfo(&t, 1024, 4096), 0);
	figures_of(&t, NULL, &hi);
	tree_free(&t);
	CHECK(hi.mem_free_bytes == 1024 * MIB);
	CHECK(wire_accepts(&hi));
}

/* ---- on this machine ---- */

/* The thread starts, has an idle share within a second, and stops at once
 * (ASan: nothing leaks). The figures agree with this process's affinity. */
TEST(probe_thread_on_this_host)
{
	struct host_probe *p;
	struct wire_host_info hi;
	char err[128];
	cpu_set_t m;
	uint64_t age, t0 = mono_ms();
	CHECK_EQ_INT(sched_getaffinity(0, sizeof(m), &m), 0);
	CHECK_EQ_INT(host_probe_start(NULL, 0, &p, err, sizeof(err)), 0);
	host_probe_get(p, &hi, NULL);
	CHECK_EQ_INT(hi.ncpus, CPU_COUNT(&m)); /* the first sample, at once */
	while (!(hi.flags & WIRE_HOST_IDLE) && mono_ms() - t0 < 1000) {
		usleep(5000);
		host_probe_get(p, &hi, &age);
	}
	uint64_t got = mono_ms() - t0;
	t0 = mono_ms();
	host_probe_stop(p);
	uint64_t stop_ms = mono_ms() - t0;
	fprintf(stderr,
		"probe: %u CPUs, %.3f usable, idle %u/1000, %llu of %llu MiB free, flags %x; "
		"idle share after %llu ms, stopped in %llu ms\n",
		hi.ncpus, hi.usable_cpus_milli / 1000.0, hi.cpu_idle_permille,
		(unsigned long long)(hi.mem_free_bytes / MIB),
		(unsigned long long)(hi.mem_total_bytes / MIB), hi.flags, (unsigned long long)got,
		(unsigned long long)stop_ms);
	CHECK(hi.flags & WIRE_HOST_IDLE);
	CHECK(got < 1000);
	CHECK(stop_ms < 100); /* not the rest of an interval */
	CHECK(hi.usable_cpus_milli >= 1 && hi.usable_cpus_milli <= hi.ncpus * 1000u);
	CHECK(hi.mem_total_bytes > 0 && hi.mem_free_bytes > 0);
	CHECK(wire_accepts(&hi));
	host_probe_get(NULL, &hi, &age); /* no probe: unknown */
	CHECK_EQ_INT(hi.ncpus, 0);
	host_probe_stop(NULL);
}

/* A probe every interval_ms over a fake /proc/stat of 100 busy and 100
 * idle ticks; then each of `stats` in turn, `settle` after each. Returns
 * the idle figures since the mark (made at the start if `mark`) and the
 * latest interval's. */
static int probe_over(unsigned interval_ms, bool mark, const char *const *stats, unsigned n,
		      void (*settle)(struct host_probe *), struct wire_host_info *since,
		      struct wire_host_info *latest)
{
	struct tree t;
	struct host_probe *p;
	char err[128];
	if (tree_new(&t) || put(&t, "proc/stat", "cpu  100 0 0 100 0 0 0 0 0 0\n") ||
	    host_probe_start(t.root, interval_ms, &p, err, sizeof(err)))
		return -1;
	if (mark)
		host_probe_mark(p);
	for (unsigned i = 0; i < n; i++) {
		put(&t, "proc/stat", stats[i]);
		settle(p);
	}
	host_probe_get_since_mark(p, since);
	host_probe_get(p, latest, NULL);
	host_probe_stop(p);
	tree_free(&t);
	return 0;
}

/* Twenty of a 5 ms probe's intervals: it has sampled what was just written. */
static void twenty_intervals(struct host_probe *p)
{
	(void)p;
	usleep(100 * 1000);
}

/* Until the probe's second sample, the first with an idle share. */
static void second_sample(struct host_probe *p)
{
	struct wire_host_info hi;
	uint64_t t0 = mono_ms();
	do {
		usleep(5000);
		host_probe_get(p, &hi, NULL);
	} while (!(hi.flags & WIRE_HOST_IDLE) && mono_ms() - t0 < 2000);
}

/* The planner's window is a pass, not the last interval: 100 busy and
 * 100 idle ticks, then 100 busy ones, read as 1/3 idle since the mark,
 * where the last interval alone saw no idle time at all. */
TEST(the_idle_share_since_the_mark_spans_every_sample_since)
{
	static const char *const stats[] = {"cpu  200 0 0 200 0 0 0 0 0 0\n",
					    "cpu  300 0 0 200 0 0 0 0 0 0\n"};
	struct wire_host_info since, latest;
	CHECK_EQ_INT(probe_over(5, true, stats, 2, twenty_intervals, &since, &latest), 0);
	CHECK(since.flags & WIRE_HOST_IDLE);
	CHECK_EQ_INT(since.cpu_idle_permille, 333);
	CHECK(!(latest.flags & WIRE_HOST_IDLE) || latest.cpu_idle_permille == 0);
}

TEST(without_a_mark_the_latest_interval_is_given)
{
	/* one sample after HOST_PROBE_FIRST_MS, the next a minute later */
	static const char *const stats[] = {"cpu  200 0 0 200 0 0 0 0 0 0\n"};
	struct wire_host_info since, latest;
	CHECK_EQ_INT(probe_over(60000, false, stats, 1, second_sample, &since, &latest), 0);
	CHECK(since.flags & WIRE_HOST_IDLE);
	CHECK_EQ_INT(since.cpu_idle_permille, latest.cpu_idle_permille);
	CHECK_EQ_INT(since.cpu_idle_permille, 500);
}

/* Stopping with a long interval still returns at once. */
TEST(probe_stop_is_prompt)
{
	struct host_probe *p;
	char err[128];
	CHECK_EQ_INT(host_probe_start(NULL, 60000, &p, err, sizeof(err)), 0);
	usleep(80 * 1000); /* past the first interval, into the long one */
	uint64_t t0 = mono_ms();
	host_probe_stop(p);
	CHECK(mono_ms() - t0 < 100);
}

/* A migration over loopback: setup no longer waits for /proc on either
 * side (it did 2 x 50 ms), and the source holds the destination's figures
 * from HELLO_ACK and its SYNC_ACKs. */
TEST(engine_gets_destination_figures_without_waiting)
{
	struct fake_guest src, dst;
	struct dest_run d = {0};
	char uri[64], err[512];
	struct vmig_migration *m;
	fg_init(&src, true);
	fg_init(&dst, false);
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	d.g = &dst;
	dest_start(&d);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = uri;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	wait_final(m, &st);
	pthread_mutex_lock(&m->lock);
	struct wire_host_info dh = m->dest_host;
	uint64_t when = m->dest_host_ns;
	pthread_mutex_unlock(&m->lock);
	bool probe_gone = m->probe == NULL; /* the migration thread stopped it */
	vmig_migration_free(m);
	dest_join(&d);
	fg_free(&src);
	fg_free(&dst);
	fprintf(stderr, "setup %llu ms; destination: %u CPUs, idle %u/1000, %llu MiB free\n",
		(unsigned long long)st.setup_ms, dh.ncpus, dh.cpu_idle_permille,
		(unsigned long long)(dh.mem_free_bytes / MIB));
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK(st.setup_ms < 90);
	CHECK(when != 0 && dh.ncpus > 0 && dh.mem_total_bytes > 0);
	/* the last report came with a SYNC_ACK, after pass 1 (>= 200 ms in):
	 * the destination's probe had an idle share by then */
	CHECK(dh.flags & WIRE_HOST_IDLE);
	CHECK(probe_gone);
}

TEST(own_migration_work_counts_as_idle)
{
	/* 4 usable CPUs, 10 % idle: 1.5 CPUs of our own decoding make 47.5 % */
	struct wire_host_info hi = {.ncpus = 4, .usable_cpus_milli = 4000, .cpu_idle_permille = 100,
				    .flags = WIRE_HOST_IDLE};
	probe_credit_own_work(&hi, 1.5);
	CHECK_EQ_INT(hi.cpu_idle_permille, 475);
	probe_credit_own_work(&hi, 8); /* never more than all of them */
	CHECK_EQ_INT(hi.cpu_idle_permille, 1000);
	CHECK_EQ_INT(wire_check_host_info(&hi, NULL, 0), 0);
	/* no idle share measured yet: nothing to correct */
	struct wire_host_info unknown = {.ncpus = 4, .usable_cpus_milli = 4000};
	probe_credit_own_work(&unknown, 1.5);
	CHECK_EQ_INT(unknown.cpu_idle_permille, 0);
}

RUN_TESTS("test_probe", UT(own_migration_work_counts_as_idle),
	  UT(the_idle_share_since_the_mark_spans_every_sample_since),
	  UT(without_a_mark_the_latest_interval_is_given), UT(v1_quota_gives_fractional_cpus),
	  UT(v1_no_quota_gives_affinity_count), UT(v2_cpu_max_unlimited_gives_affinity_count),
	  UT(v2_parent_quota_applies), UT(quota_above_affinity_is_the_affinity),
	  UT(idle_share_from_two_stat_samples), UT(idle_share_counts_only_the_mask),
	  UT(v1_quota_usage_tighter_than_host_idle), UT(v2_host_idle_tighter_than_quota_usage),
	  UT(v2_memory_limit_below_memavailable), UT(v2_memory_cache_counts_as_headroom),
	  UT(v2_memory_high_and_parent_limit), UT(v1_unlimited_memory_falls_back_to_memavailable),
	  UT(v1_memory_limit_applies), UT(container_mount_of_a_subtree),
	  UT(missing_cgroup_files_fall_back), UT(no_cgroup_and_no_files),
	  UT(empty_files_give_fallbacks), UT(words_for_numbers_give_fallbacks),
	  UT(numbers_out_of_range_give_fallbacks), UT(too_many_fields_give_fallbacks),
	  UT(bare_colons_give_fallbacks), UT(control_bytes_give_fallbacks),
	  UT(a_root_too_long_is_refused), UT(fifos_do_not_block), UT(free_never_above_total),
	  UT(probe_thread_on_this_host), UT(probe_stop_is_prompt),
	  UT(engine_gets_destination_figures_without_waiting))

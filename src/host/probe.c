/* SPDX-License-Identifier: MIT */
/* Host probe (probe.h): cgroup discovery, one sample's file reads, the
 * figures from two samples, and the sampling thread. */
#include "host/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

/* v1 writes "no limit" as a page-rounded LONG_MAX; nothing real is this big. */
#define V1_UNLIMITED (1ull << 62)
#define FILE_BUF 8192 /* memory.stat, meminfo: a few KiB; what we need is early */

/* ---- reading files ---- */

/* Up to len-1 bytes of a file, NUL-terminated. Non-blocking, so that a
 * FIFO in a (fake) tree cannot hang the probe. False if empty or unreadable. */
static bool read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	size_t n = 0;
	while (n < len - 1) {
		ssize_t k = read(fd, buf + n, len - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = 0;
	return n > 0;
}

/* fopen for reading that cannot block on a FIFO either. */
static FILE *open_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (fd >= 0 && !f)
		close(fd);
	return f;
}

static bool join(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);
	return n > 0 && (size_t)n < len;
}

/* A decimal number and then only blanks: anything else is garbage. */
static bool parse_u64(const char *s, uint64_t *v)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno)
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return false;
	*v = x;
	return true;
}

/* The first line of dir/name, as text. */
static bool read_line(const char *dir, const char *name, char *buf, size_t len)
{
	char path[HOST_PROBE_PATH_MAX + 64];
	if (!join(path, sizeof(path), dir, name) || !read_text(path, buf, len))
		return false;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static bool read_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[64];
	return read_line(dir, name, buf, sizeof(buf)) && parse_u64(buf, v);
}

/* A number of m bytes at s, with an optional " unit" after it. */
static bool parse_value(const char *s, size_t m, const char *unit, uint64_t *v)
{
	char num[48];
	if (m >= sizeof(num))
		return false;
	memcpy(num, s, m);
	num[m] = 0;
	size_t ul = unit ? strlen(unit) : 0;
	if (unit && m > ul && !strcmp(num + m - ul, unit) && num[m - ul - 1] == ' ')
		num[m - ul - 1] = 0;
	return parse_u64(num, v);
}

/* The value of "key N" (cpu.stat, memory.stat) or "key: N unit" (meminfo,
 * unit "kB") in text of such lines. */
static bool find_key(const char *text, const char *key, const char *unit, uint64_t *v)
{
	size_t klen = strlen(key);
	for (const char *l = text; *l;) {
		size_t n = strcspn(l, "\n");
		if (n > klen && !strncmp(l, key, klen) && (l[klen] == ' ' || l[klen] == ':'))
			return parse_value(l + klen + 1, n - klen - 1, unit, v);
		l += n + (l[n] == '\n');
	}
	return false;
}

static bool read_key(const char *dir, const char *name, const char *key, uint64_t *v)
{
	char path[HOST_PROBE_PATH_MAX + 64], *buf = malloc(FILE_BUF);
	bool ok = buf && join(path, sizeof(path), dir, name) && read_text(path, buf, FILE_BUF) &&
		  find_key(buf, key, NULL, v);
	free(buf);
	return ok;
}

/* ---- where this process's cgroups are ---- */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* Whether the comma-separated list has the token. */
static bool has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = list;;) {
		if (!strncmp(p, tok, n) && (p[n] == ',' || p[n] == 0))
			return true;
		p = strchr(p, ',');
		if (!p)
			return false;
		p++;
	}
}

/* From /proc/self/cgroup: this process's path in the v1 hierarchy that
 * carries ctl, or (ctl NULL) in the v2 one ("0::/path"). */
static bool self_cgroup(const char *root, const char *ctl, char *path, size_t len)
{
	char file[HOST_PROBE_PATH_MAX + 32], *line = NULL;
	size_t cap = 0;
	bool found = false;
	snprintf(file, sizeof(file), "%s/proc/self/cgroup", root);
	FILE *f = open_read(file);
	while (f && !found && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		*c1 = *c2 = 0;
		if (ctl ? has_token(c1 + 1, ctl) : (!strcmp(line, "0") && !c1[1]))
			found = snprintf(path, len, "%s", c2 + 1) < (int)len;
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - FSTYPE SOURCE SUPER". */
static bool mount_matches(char *line, const char *ctl, char **root, char **point)
{
	char *f[64], *save = NULL;
	int n = 0, dash = -1;
	for (char *t = strtok_r(line, " \n", &save); t && n < 64;
	     t = strtok_r(NULL, " \n", &save)) {
		if (dash < 0 && n >= 6 && !strcmp(t, "-"))
			dash = n;
		f[n++] = t;
	}
	if (dash < 0 || n < dash + 4)
		return false;
	bool ok = ctl ? !strcmp(f[dash + 1], "cgroup") && has_token(f[dash + 3], ctl)
		      : !strcmp(f[dash + 1], "cgroup2");
	*root = f[3];
	*point = f[4];
	return ok;
}

/* From /proc/self/mountinfo: where the hierarchy is mounted and which of
 * its cgroups the mount shows as its root. */
static bool cgroup_mount(const char *root, const char *ctl, char *point, char *mroot, size_t len)
{
	char file[HOST_PROBE_PATH_MAX + 32], *line = NULL, *r, *p;
	size_t cap = 0;
	bool found = false;
	snprintf(file, sizeof(file), "%s/proc/self/mountinfo", root);
	FILE *f = open_read(file);
	while (f && !found && getline(&line, &cap, f) > 0) {
		if (!mount_matches(line, ctl, &r, &p))
			continue;
		unescape(r);
		unescape(p);
		found = snprintf(point, len, "%s", p) < (int)len &&
			snprintf(mroot, len, "%s", r) < (int)len;
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* The cgroup path below the mount. A mount may show a subtree (a
 * container's): strip its root. A path outside what the mount shows (a
 * cgroup namespace's "/.." paths) is taken as the mount's root itself. */
static const char *below_mount(const char *path, const char *mroot)
{
	size_t n = strlen(mroot);
	if (strstr(path, "/..") || path[0] != '/')
		return "";
	if (!strcmp(mroot, "/"))
		return strcmp(path, "/") ? path : "";
	if (!strncmp(path, mroot, n) && (path[n] == '/' || path[n] == 0))
		return path + n;
	return "";
}

static void place(const char *root, const char *ctl, struct probe_cgroup *cg)
{
	char path[HOST_PROBE_PATH_MAX], point[HOST_PROBE_PATH_MAX], mroot[HOST_PROBE_PATH_MAX];
	memset(cg, 0, sizeof(*cg));
	if (self_cgroup(root, ctl, path, sizeof(path)) &&
	    cgroup_mount(root, ctl, point, mroot, sizeof(point)))
		cg->version = 1;
	else if (self_cgroup(root, NULL, path, sizeof(path)) &&
		 cgroup_mount(root, NULL, point, mroot, sizeof(point)))
		cg->version = 2;
	else
		return;
	size_t plen = strlen(point);
	while (plen && point[plen - 1] == '/') /* "/" itself becomes "": no "//x" */
		point[--plen] = 0;
	int n = snprintf(cg->dir, sizeof(cg->dir), "%s%s", root, point);
	cg->top = n > 0 ? (size_t)n : 0;
	if (n < 0 || (size_t)n >= sizeof(cg->dir) ||
	    snprintf(cg->dir + n, sizeof(cg->dir) - (size_t)n, "%s", below_mount(path, mroot)) >=
		(int)(sizeof(cg->dir) - (size_t)n))
		memset(cg, 0, sizeof(*cg)); /* too long to name: as if none */
}

int probe_paths_find(const char *root, struct probe_paths *pp)
{
	memset(pp, 0, sizeof(*pp));
	/* Room left for the longest path below it, so nothing is cut short. */
	if (root && strlen(root) > HOST_PROBE_ROOT_MAX)
		return -ENAMETOOLONG;
	snprintf(pp->root, sizeof(pp->root), "%s", root ? root : "");
	place(pp->root, "cpu", &pp->cpu);
	place(pp->root, "cpuacct", &pp->acct);
	place(pp->root, "memory", &pp->mem);
	return 0;
}

/* One level up the hierarchy, never above its mount point. */
static bool level_up(char *dir, size_t top)
{
	size_t n = strlen(dir);
	if (n <= top)
		return false;
	char *s = strrchr(dir, '/');
	size_t k = s ? (size_t)(s - dir) : top;
	dir[k < top ? top : k] = 0;
	return true;
}

/* ---- one sample ---- */

/* A /proc/stat cpu line's fields after the name: idle + iowait, and the
 * total of user..steal (guest time is already in user and nice). */
static bool stat_fields(const char *s, uint64_t *idle, uint64_t *total)
{
	uint64_t v[8] = {0};
	int n = 0;
	while (n < 8) {
		char *end;
		while (*s == ' ')
			s++;
		if (*s < '0' || *s > '9')
			break;
		errno = 0;
		v[n++] = strtoull(s, &end, 10);
		if (errno)
			return false;
		s = end;
	}
	if (n < 4) /* user nice system idle, at the least */
		return false;
	*idle = v[3] + v[4];
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	return true;
}

/* /proc/stat: ticks over the CPUs of mask (the aggregate line when none
 * of its CPUs has a line of its own, or there is no mask). */
static void sample_stat(const char *root, const cpu_set_t *mask, struct probe_raw *s)
{
	char file[HOST_PROBE_PATH_MAX + 16], *line = NULL;
	size_t cap = 0;
	uint64_t ai = 0, at = 0, i, t, lines = 0;
	bool all_ok = false, mine = false;
	snprintf(file, sizeof(file), "%s/proc/stat", root);
	FILE *f = open_read(file);
	while (f && getline(&line, &cap, f) > 0 && !strncmp(line, "cpu", 3)) {
		char *end;
		if (line[3] == ' ') {
			all_ok = stat_fields(line + 4, &ai, &at);
			continue;
		}
		unsigned long cpu = strtoul(line + 3, &end, 10);
		if (end == line + 3 || *end != ' ' || !stat_fields(end, &i, &t))
			continue;
		lines++;
		if (mask && cpu < CPU_SETSIZE && CPU_ISSET(cpu, mask)) {
			s->idle_ticks += i;
			s->total_ticks += t;
			mine = true;
		}
	}
	free(line);
	if (f)
		fclose(f);
	if (!mine) {
		s->idle_ticks = ai;
		s->total_ticks = at;
	}
	s->has_stat = mine || all_ok;
	s->ncpus = mask ? (unsigned)CPU_COUNT(mask) : (unsigned)(lines < UINT32_MAX ? lines : 0);
}

/* A v1 quota is signed (-1: none); a v2 cpu.max is "max PERIOD" or "QUOTA PERIOD". */
static void read_quota(int version, const char *dir, struct probe_cpu_level *l)
{
	char buf[64], q[32];
	uint64_t quota = 0, period = 0;
	if (version == 1) {
		if (!read_u64(dir, "cpu.cfs_quota_us", &quota) ||
		    !read_u64(dir, "cpu.cfs_period_us", &period))
			quota = 0;
	} else if (read_line(dir, "cpu.max", buf, sizeof(buf))) {
		char *sp = strchr(buf, ' ');
		if (!sp || (size_t)(sp - buf) >= sizeof(q) || !parse_u64(sp + 1, &period))
			period = 0;
		else {
			memcpy(q, buf, (size_t)(sp - buf));
			q[sp - buf] = 0;
			if (!parse_u64(q, &quota)) /* "max" too */
				quota = 0;
		}
	}
	l->quota_us = period ? quota : 0;
	l->period_us = period;
}

/* The CPU time this level's cgroup used: v1 cpuacct.usage (ns), v2
 * cpu.stat usage_usec. */
static bool read_usage(int version, const char *dir, uint64_t *ns)
{
	uint64_t us;
	if (version == 1)
		return read_u64(dir, "cpuacct.usage", ns);
	if (!read_key(dir, "cpu.stat", "usage_usec", &us) || us > UINT64_MAX / 1000)
		return false;
	*ns = us * 1000;
	return true;
}

/* Quota and usage on each level from this process's cgroup up. Usage is
 * read for the same cgroup in the cpuacct hierarchy when that is apart
 * (v1 may mount cpu and cpuacct separately). */
static void sample_cpu_levels(const struct probe_paths *pp, struct probe_raw *s)
{
	char dir[HOST_PROBE_PATH_MAX], adir[2 * HOST_PROBE_PATH_MAX];
	if (!pp->cpu.version)
		return;
	snprintf(dir, sizeof(dir), "%s", pp->cpu.dir);
	for (unsigned i = 0; i < HOST_PROBE_MAX_LEVELS; i++) {
		struct probe_cpu_level *l = &s->cpu[i];
		read_quota(pp->cpu.version, dir, l);
		snprintf(adir, sizeof(adir), "%s", dir);
		if (pp->cpu.version == 1 && pp->acct.version == 1)
			snprintf(adir, sizeof(adir), "%.*s%s", (int)pp->acct.top, pp->acct.dir,
				 dir + pp->cpu.top);
		l->has_usage = read_usage(pp->cpu.version, adir, &l->usage_ns);
		s->cpu_levels = i + 1;
		if (!level_up(dir, pp->cpu.top))
			break;
	}
}

/* The lowest limit on this level: v1 memory.limit_in_bytes; v2 memory.max
 * and memory.high (above high the kernel throttles and reclaims hard). */
static uint64_t mem_limit(int version, const char *dir)
{
	uint64_t v, lim = HOST_PROBE_NO_LIMIT;
	if (version == 1)
		return read_u64(dir, "memory.limit_in_bytes", &v) && v < V1_UNLIMITED ? v : lim;
	if (read_u64(dir, "memory.max", &v)) /* "max" does not parse: no limit */
		lim = v;
	if (read_u64(dir, "memory.high", &v) && v < lim)
		lim = v;
	return lim;
}

/* Limit and headroom on each level: headroom is the limit less the
 * working set (usage less inactive file cache, reclaimed first). */
static void sample_mem_levels(const struct probe_paths *pp, struct probe_raw *s)
{
	char dir[HOST_PROBE_PATH_MAX];
	int v = pp->mem.version;
	s->cg_mem_limit = s->cg_mem_avail = HOST_PROBE_NO_LIMIT;
	if (!v)
		return;
	snprintf(dir, sizeof(dir), "%s", pp->mem.dir);
	for (unsigned i = 0; i < HOST_PROBE_MAX_LEVELS; i++) {
		uint64_t lim = mem_limit(v, dir), use = 0, cache = 0;
		if (lim != HOST_PROBE_NO_LIMIT) {
			if (!read_u64(dir, v == 1 ? "memory.usage_in_bytes" : "memory.current",
				      &use))
				use = 0; /* the limit still bounds what we could get */
			if (!read_key(dir, "memory.stat",
				      v == 1 ? "total_inactive_file" : "inactive_file", &cache) ||
			    cache > use)
				cache = 0;
			uint64_t ws = use - cache, head = lim > ws ? lim - ws : 0;
			s->cg_mem_limit = lim < s->cg_mem_limit ? lim : s->cg_mem_limit;
			s->cg_mem_avail = head < s->cg_mem_avail ? head : s->cg_mem_avail;
		}
		if (!level_up(dir, pp->mem.top))
			break;
	}
}

/* MemTotal and MemAvailable (MemFree on kernels before 3.14), in bytes. */
static void sample_meminfo(const char *root, struct probe_raw *s)
{
	char path[HOST_PROBE_PATH_MAX + 16], *buf = malloc(FILE_BUF);
	uint64_t kb;
	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	if (!buf || !read_text(path, buf, FILE_BUF)) {
		free(buf);
		return;
	}
	if (find_key(buf, "MemTotal", "kB", &kb) && kb <= UINT64_MAX / 1024)
		s->mem_total = kb * 1024;
	if ((find_key(buf, "MemAvailable", "kB", &kb) || find_key(buf, "MemFree", "kB", &kb)) &&
	    kb <= UINT64_MAX / 1024)
		s->mem_avail = kb * 1024;
	free(buf);
}

void probe_sample(const struct probe_paths *pp, const cpu_set_t *mask, struct probe_raw *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ns = now_ns();
	sample_stat(pp->root, mask, s);
	sample_cpu_levels(pp, s);
	sample_mem_levels(pp, s);
	sample_meminfo(pp->root, s);
}

/* ---- figures ---- */

/* Spare CPUs (thousandths) between two samples: the least of what
 * /proc/stat saw idle on our CPUs and what each quota left unused. */
static bool spare_milli(const struct probe_raw *a, const struct probe_raw *b, unsigned ncpus,
			double *spare)
{
	bool known = false;
	if (a->has_stat && b->has_stat && b->total_ticks > a->total_ticks &&
	    b->idle_ticks >= a->idle_ticks) {
		double idle = (double)(b->idle_ticks - a->idle_ticks) /
			      (double)(b->total_ticks - a->total_ticks);
		*spare = (idle < 1 ? idle : 1) * ncpus * 1000.0;
		known = true;
	}
	if (b->t_ns <= a->t_ns || b->cpu_levels != a->cpu_levels)
		return known;
	double dt = (double)(b->t_ns - a->t_ns);
	for (unsigned i = 0; i < b->cpu_levels; i++) {
		const struct probe_cpu_level *x = &a->cpu[i], *y = &b->cpu[i];
		if (!y->quota_us || !x->has_usage || !y->has_usage || y->usage_ns < x->usage_ns)
			continue;
		double used = (double)(y->usage_ns - x->usage_ns) * 1000.0 / dt;
		double quota = (double)y->quota_us * 1000.0 / (double)y->period_us;
		double left = quota > used ? quota - used : 0;
		if (!known || left < *spare)
			*spare = left;
		known = true;
	}
	return known;
}

static void mem_figures(const struct probe_raw *s, struct wire_host_info *hi)
{
	uint64_t total = s->mem_total, avail = s->mem_avail;
	if (s->cg_mem_limit != HOST_PROBE_NO_LIMIT && (!total || s->cg_mem_limit < total)) {
		total = s->cg_mem_limit;
		hi->flags |= WIRE_HOST_MEM_LIMIT;
	}
	if (s->cg_mem_avail != HOST_PROBE_NO_LIMIT && (!avail || s->cg_mem_avail < avail)) {
		avail = s->cg_mem_avail;
		hi->flags |= WIRE_HOST_MEM_LIMIT;
	}
	hi->mem_total_bytes = total;
	hi->mem_free_bytes = total && avail > total ? total : avail;
}

void probe_figures(const struct probe_raw *prev, const struct probe_raw *cur,
		   struct wire_host_info *hi)
{
	memset(hi, 0, sizeof(*hi));
	unsigned ncpus = cur->ncpus < WIRE_MAX_HOST_CPUS ? cur->ncpus : WIRE_MAX_HOST_CPUS;
	uint64_t usable = (uint64_t)ncpus * 1000;
	for (unsigned i = 0; i < cur->cpu_levels; i++) {
		const struct probe_cpu_level *l = &cur->cpu[i];
		if (!l->quota_us)
			continue;
		double q = (double)l->quota_us * 1000.0 / (double)l->period_us;
		uint64_t milli = q < 1 ? 1 : (q >= (double)usable ? usable : (uint64_t)q);
		if (milli < usable) {
			usable = milli;
			hi->flags |= WIRE_HOST_CPU_QUOTA;
		}
	}
	hi->ncpus = ncpus;
	hi->usable_cpus_milli = (uint32_t)usable;
	double spare = 0; /* set by spare_milli when it returns true; gcc -O3 cannot tell */
	if (prev && usable && spare_milli(prev, cur, ncpus, &spare)) {
		double pm = spare * 1000.0 / (double)usable;
		hi->cpu_idle_permille = pm >= 1000 ? 1000 : (uint32_t)(pm + 0.5);
		hi->flags |= WIRE_HOST_IDLE;
	}
	mem_figures(cur, hi);
}

void probe_credit_own_work(struct wire_host_info *hi, double own_cpus)
{
	if (!(hi->flags & WIRE_HOST_IDLE) || !hi->usable_cpus_milli || own_cpus <= 0)
		return;
	double pm = hi->cpu_idle_permille + own_cpus * 1e6 / hi->usable_cpus_milli;
	hi->cpu_idle_permille = pm >= 1000 ? 1000 : (uint32_t)pm;
}

/* ---- the sampling thread ---- */

struct host_probe {
	struct probe_paths paths;
	unsigned interval_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	      /* CLOCK_MONOTONIC; signalled by stop */
	bool stop;		      /* under lock */
	struct wire_host_info latest; /* under lock */
	uint64_t latest_ns;	      /* under lock */
	/* What latest came from. Written under lock by the sampling thread
	 * alone (start's before it runs), which reads it without the lock. */
	struct probe_raw latest_raw;
	struct probe_raw mark; /* under lock: latest_raw at host_probe_mark */
	bool marked;	       /* under lock */
};

/* Samples now against the previous sample and publishes the figures. The
 * affinity is the process's (its main thread's), as an operator sets it. */
static void sample_now(struct host_probe *p, bool have_prev)
{
	struct probe_raw cur;
	struct wire_host_info hi;
	cpu_set_t set;
	bool m = sched_getaffinity(getpid(), sizeof(set), &set) == 0;
	probe_sample(&p->paths, m ? &set : NULL, &cur);
	probe_figures(have_prev ? &p->latest_raw : NULL, &cur, &hi);
	pthread_mutex_lock(&p->lock);
	p->latest = hi;
	p->latest_ns = cur.t_ns;
	p->latest_raw = cur;
	pthread_mutex_unlock(&p->lock);
}

static struct timespec deadline_after(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static void *probe_thread(void *arg)
{
	struct host_probe *p = arg;
	unsigned wait_ms =
	    p->interval_ms < HOST_PROBE_FIRST_MS ? p->interval_ms : HOST_PROBE_FIRST_MS;
	pthread_setname_np(pthread_self(), "vmig-probe");
	for (;;) {
		struct timespec until = deadline_after(wait_ms);
		int rc = 0;
		pthread_mutex_lock(&p->lock);
		while (!p->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&p->cond, &p->lock, &until);
		bool stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		sample_now(p, true);
		wait_ms = p->interval_ms;
	}
}

int host_probe_start(const char *root, unsigned interval_ms, struct host_probe **out, char *err,
		     size_t errlen)
{
	pthread_condattr_t ca;
	*out = NULL;
	struct host_probe *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->interval_ms = interval_ms ? interval_ms : HOST_PROBE_INTERVAL_MS;
	if (probe_paths_find(root, &p->paths)) {
		snprintf(err, errlen, "host probe root too long (at most %d bytes)",
			 HOST_PROBE_ROOT_MAX);
		free(p);
		return -ENAMETOOLONG;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	sample_now(p, false);
	int r = pthread_create(&p->thread, NULL, probe_thread, p);
	if (r) {
		snprintf(err, errlen, "cannot start the host probe thread: %s", strerror(r));
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -r;
	}
	*out = p;
	return 0;
}

void host_probe_get(struct host_probe *p, struct wire_host_info *hi, uint64_t *age_ms)
{
	uint64_t t = 0;
	if (!p) {
		memset(hi, 0, sizeof(*hi));
	} else {
		pthread_mutex_lock(&p->lock);
		*hi = p->latest;
		t = p->latest_ns;
		pthread_mutex_unlock(&p->lock);
	}
	if (age_ms) {
		uint64_t now = now_ns();
		*age_ms = p && now > t ? (now - t) / 1000000 : 0;
	}
}

void host_probe_mark(struct host_probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->mark = p->latest_raw;
	p->marked = true;
	pthread_mutex_unlock(&p->lock);
}

void host_probe_get_since_mark(struct host_probe *p, struct wire_host_info *hi)
{
	if (!p) {
		memset(hi, 0, sizeof(*hi));
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (p->marked && p->latest_raw.t_ns > p->mark.t_ns)
		probe_figures(&p->mark, &p->latest_raw, hi);
	else
		*hi = p->latest;
	pthread_mutex_unlock(&p->lock);
}

void host_probe_stop(struct host_probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* SPDX-License-Identifier: MIT */
/*
 * The auto policy turning the number of data channels that carry pages,
 * both ways, mid-migration (policy/channels.h, migration/active_channels.h):
 * the engine migrating the TEST DOUBLE guest of fake_guest.h over real
 * loopback sockets, both hosts' probes reading the fake /proc and cgroup
 * trees of fake_host.h (TEST DOUBLES), which the tests change while pages
 * flow. Each migration then converges (the writer stops) and the RAM
 * digest must verify, with both memories equal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cut_proxy.h"
#include "fake_guest.h"
#include "fake_host.h"
#include "migration/wire.h"
#include "unittest.h"

#define ONE_CPU "100000 100000\n"  /* cgroup v2 cpu.max */
#define HALF_A_CPU "50000 100000\n"
#define NO_QUOTA "max 100000\n"
#define CPU_MAX "sys/fs/cgroup/vm/cpu.max"
#define WAIT_MS 20000
#define ZSTD_SLOW_LEVEL 19
#define QUIET_IO_TIMEOUT_MS 1000
#define QUIET_LINK (160u << 10) /* bytes/s: pass 1 takes ~2.5 s, a batch every ~0.6 s */
/* zstd's fastest: at ZSTD_SLOW_LEVEL one thread on a busy host took over
 * QUIET_IO_TIMEOUT_MS per batch, a real silence on every channel */
#define QUIET_LEVEL 1
#define GUEST_PAGES 1024 /* 4 MiB: short passes, a decision every ~0.1 s */

struct channels_run {
	struct fake_guest src, dst;
	struct fake_host here, there;
	struct dest_run d;
	char dest_uri[64], proxy_uri[64];
	struct cut_proxy *px;     /* NULL: straight to the destination */
	struct vmig_migration *m;
	struct vmig_migrate_stats st;
};

/* The first decision whose change contains what, or -1. */
static int find_decision(const struct vmig_migrate_stats *st, const char *what)
{
	for (unsigned i = 0; i < st->nr_decisions && i < VMIG_MAX_DECISIONS; i++)
		if (strstr(st->decisions[i].change, what))
			return (int)i;
	return -1;
}

static void print_decisions(const struct vmig_migrate_stats *st)
{
	for (unsigned i = 0; i < st->nr_decisions && i < VMIG_MAX_DECISIONS; i++)
		fprintf(stderr, "pass %llu: %s: %s\n", (unsigned long long)st->decisions[i].pass,
			st->decisions[i].change, st->decisions[i].reason);
}

/* Polls until cond(st, arg) holds or the migration ends; whether it held. */
static bool wait_for(struct channels_run *cr, bool (*cond)(const struct vmig_migrate_stats *,
							    const char *), const char *arg)
{
	for (uint64_t t0 = mono_ms(); mono_ms() - t0 < WAIT_MS; usleep(10000)) {
		vmig_migration_query(cr->m, &cr->st);
		if (cond(&cr->st, arg) || final_status(cr->st.status))
			return cond(&cr->st, arg);
	}
	return false;
}

static bool passes_done(const struct vmig_migrate_stats *st, const char *n)
{
	return st->iterations > (uint64_t)atoi(n);
}

static bool decided(const struct vmig_migrate_stats *st, const char *what)
{
	return find_decision(st, what) >= 0;
}

static bool resumed(const struct vmig_migrate_stats *st, const char *unused)
{
	(void)unused;
	return st->resumes > 0;
}

/* What a case changes of run_begin's migration. */
struct run_opts {
	const char *src_cpu_max, *dst_cpu_max; /* each host's quota at the start */
	const struct cut_rule *cut;            /* through the cut proxy if set */
	int dest_io_timeout_ms;                /* 0: the default */
	uint64_t max_bandwidth;                /* 0: none */
	bool quiet_guest;                      /* no writer: one pass, then the handover */
	int level;                             /* zstd's; 0: ZSTD_SLOW_LEVEL */
};

/*
 * zstd pinned and XBZRLE off (the other rules stay out of it), no throttle, a
 * downtime limit the writer never lets it meet (pages compressed slower
 * than it dirties them): passes go on until the test stops the writer.
 */
static int run_begin(struct channels_run *cr, const struct run_opts *o)
{
	char err[512];
	memset(cr, 0, sizeof(*cr));
	cr->st.size = sizeof(cr->st);
	if (fake_host_new(&cr->here) || fake_host_new(&cr->there) ||
	    fake_host_put(&cr->here, CPU_MAX, o->src_cpu_max) ||
	    fake_host_put(&cr->there, CPU_MAX, o->dst_cpu_max))
		return -1;
	fg_init_pages(&cr->src, GUEST_PAGES, true);
	fg_init_pages(&cr->dst, GUEST_PAGES, false);
	cr->d.g = &cr->dst;
	cr->d.probe_root = cr->there.root;
	cr->d.io_timeout_ms = o->dest_io_timeout_ms;
	cr->d.resume_timeout_ms = o->cut ? 10000 : 0;
	if (listen_any(&cr->d.lfd, cr->dest_uri, sizeof(cr->dest_uri)))
		return -1;
	dest_start(&cr->d);
	const char *uri = cr->dest_uri;
	if (o->cut) {
		if (cut_proxy_start(uri_port(cr->dest_uri), o->cut, cr->proxy_uri,
				    sizeof(cr->proxy_uri), &cr->px))
			return -1;
		uri = cr->proxy_uri;
	}
	/* the writer goes over all of RAM: passes never short enough to end */
	if (!o->quiet_guest)
		fg_start_writer(&cr->src);
	struct vmig_guest g = {&fg_ops, &cr->src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = uri;
	p.codec = "zstd";
	p.level = o->level ? o->level : ZSTD_SLOW_LEVEL;
	p.policy = VMIG_POLICY_AUTO;
	p.pinned = VMIG_PIN_CODEC | VMIG_PIN_LEVEL | VMIG_PIN_CONVERGE | VMIG_PIN_XBZRLE;
	p.host_probe_root = cr->here.root;
	p.downtime_limit_ms = 1;
	p.timeout_ms = 30000;
	p.max_bandwidth = o->max_bandwidth;
	p.resume_timeout_ms = o->cut ? 10000 : 0;
	return vmig_migration_start(&g, &p, &cr->m, err, sizeof(err));
}

/* Stops the writer, lets the migration converge and the destination end. */
static void run_finish(struct channels_run *cr)
{
	fg_stop_writer(&cr->src);
	wait_final(cr->m, &cr->st);
	dest_join(&cr->d);
	print_decisions(&cr->st);
	if (cr->st.status != VMIG_MIG_COMPLETED)
		fprintf(stderr, "source: %s; destination: %s\n", cr->st.error, cr->d.err);
	fprintf(stderr, "%s after %llu passes, %u of %u channels in use at the end\n",
		vmig_mig_status_name(cr->st.status), (unsigned long long)cr->st.iterations,
		cr->st.active_channels, cr->st.nr_channels);
}

static void run_end(struct channels_run *cr)
{
	if (cr->px)
		cut_proxy_stop(cr->px);
	if (cr->m)
		vmig_migration_free(cr->m);
	fg_free(&cr->src);
	fg_free(&cr->dst);
	fake_host_free(&cr->here);
	fake_host_free(&cr->there);
}

/* Completed, the digest checked on both sides, the same memory. */
static void check_exact(struct ut_state *ut_, const struct channels_run *cr, bool same_memory)
{
	CHECK_STR(vmig_mig_status_name(cr->st.status), "completed");
	CHECK_EQ_INT(cr->d.result, 0);
	CHECK(cr->st.verified && cr->d.st.verified);
	CHECK(same_memory);
}

/* Each case: checks only once the run is over and cleaned up (a CHECK
 * returns at once, and the writer and the destination must not outlive
 * the run). */

TEST(a_destination_gone_busy_gets_fewer_channels)
{
	struct channels_run cr;
	struct run_opts o = {.src_cpu_max = NO_QUOTA, .dst_cpu_max = NO_QUOTA};
	bool began = run_begin(&cr, &o) == 0;
	/* Busy as soon as pass 1 (all of RAM) is over: the destination's probe
	 * samples every 200 ms, and on an idle machine the shrinking passes
	 * after it converged once before the busy figures came (CI, 1 in ~30). */
	bool pass_one_over = began && wait_for(&cr, passes_done, "1");
	unsigned before = cr.st.active_channels, connected = cr.st.nr_channels;
	bool none_yet = !decided(&cr.st, "channels ");
	/* the destination's guests leave it one CPU */
	bool busy = fake_host_put(&cr.there, CPU_MAX, ONE_CPU) == 0;
	bool lowered = began && wait_for(&cr, decided, "-> 1");
	if (began)
		run_finish(&cr);
	int i = find_decision(&cr.st, "channels ");
	bool why = i >= 0 && strstr(cr.st.decisions[i].reason, "destination busy") != NULL;
	struct channels_run done = cr;
	bool exact = began && memcmp(cr.src.mem, cr.dst.mem, (size_t)GUEST_PAGES * 4096) == 0;
	run_end(&cr);
	CHECK(pass_one_over && busy);
	CHECK(connected >= 2);
	CHECK_EQ_INT(before, connected);
	CHECK(none_yet);
	CHECK(lowered);
	CHECK(why);
	CHECK_EQ_INT(done.st.active_channels, 1);
	check_exact(ut_, &done, exact);
}

TEST(a_source_with_cpus_freed_gets_more_channels)
{
	struct channels_run cr;
	/* half a CPU here: one compressing thread, one channel in use */
	struct run_opts o = {.src_cpu_max = HALF_A_CPU, .dst_cpu_max = NO_QUOTA};
	bool began = run_begin(&cr, &o) == 0;
	bool two_passes = began && wait_for(&cr, passes_done, "2");
	unsigned before = cr.st.active_channels, connected = cr.st.nr_channels;
	bool none_yet = !decided(&cr.st, "channels ");
	bool freed = fake_host_put(&cr.here, CPU_MAX, NO_QUOTA) == 0;
	bool raised = began && wait_for(&cr, decided, "channels 1 -> ");
	if (began)
		run_finish(&cr);
	struct channels_run done = cr;
	bool exact = began && memcmp(cr.src.mem, cr.dst.mem, (size_t)GUEST_PAGES * 4096) == 0;
	run_end(&cr);
	CHECK(two_passes && freed);
	CHECK_EQ_INT(before, 1);
	CHECK(connected >= 2);
	CHECK(none_yet);
	CHECK(raised);
	CHECK_EQ_INT(done.st.active_channels, connected);
	check_exact(ut_, &done, exact);
}

/* A busy destination from the start: after pass 1 one channel of several
 * carries pages; then the link breaks (the 12th batch: pass 1 has at most
 * 4) and the session resumes on every connection, still with one in use. */
TEST(a_resume_after_the_channels_changed_arrives_exact)
{
	struct channels_run cr;
	struct cut_rule cut = {.type = REC_PAGES, .dir = TO_DEST, .nth = 12, .action = CUT_CLOSE,
			       .outage_ms = 300};
	struct run_opts o = {.src_cpu_max = NO_QUOTA, .dst_cpu_max = ONE_CPU, .cut = &cut};
	bool began = run_begin(&cr, &o) == 0;
	bool back = began && wait_for(&cr, resumed, NULL);
	if (began)
		run_finish(&cr);
	int i = find_decision(&cr.st, "-> 1");
	bool fired = cr.px && cut_proxy_fired(cr.px);
	struct channels_run done = cr;
	bool exact = began && memcmp(cr.src.mem, cr.dst.mem, (size_t)GUEST_PAGES * 4096) == 0;
	run_end(&cr);
	CHECK(back && fired);
	CHECK(i >= 0);
	CHECK(done.st.nr_channels >= 2);
	CHECK_EQ_INT(done.st.resumes, 1);
	CHECK_EQ_INT(done.st.active_channels, 1);
	check_exact(ut_, &done, exact);
}

/* One channel of two in use from the start (half a CPU here), a pass far
 * longer than the destination's I/O timeout: the other channel is silent
 * all that while and must not be taken for a stalled link (it was: "data
 * channel 1: connection stalled"). */
TEST(a_channel_left_out_of_a_long_pass_is_not_stalled)
{
	struct channels_run cr;
	struct run_opts o = {.src_cpu_max = HALF_A_CPU, .dst_cpu_max = NO_QUOTA,
			     .dest_io_timeout_ms = QUIET_IO_TIMEOUT_MS, .max_bandwidth = QUIET_LINK,
			     .quiet_guest = true, .level = QUIET_LEVEL};
	bool began = run_begin(&cr, &o) == 0;
	if (began)
		run_finish(&cr);
	struct channels_run done = cr;
	bool exact = began && memcmp(cr.src.mem, cr.dst.mem, (size_t)GUEST_PAGES * 4096) == 0;
	run_end(&cr);
	fprintf(stderr, "%llu ms, %llu bytes\n", (unsigned long long)done.st.total_ms,
		(unsigned long long)done.st.wire_bytes);
	CHECK(began);
	CHECK_EQ_INT(done.st.active_channels, 1);
	CHECK(done.st.nr_channels >= 2);
	CHECK(done.st.total_ms > QUIET_IO_TIMEOUT_MS * 3 / 2); /* the silence was long */
	check_exact(ut_, &done, exact);
}

RUN_TESTS("channels", UT(a_destination_gone_busy_gets_fewer_channels),
	  UT(a_source_with_cpus_freed_gets_more_channels),
	  UT(a_resume_after_the_channels_changed_arrives_exact),
	  UT(a_channel_left_out_of_a_long_pass_is_not_stalled))

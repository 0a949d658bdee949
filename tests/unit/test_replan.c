/* SPDX-License-Identifier: MIT */
/*
 * The engine re-planning from what it hears during a migration: the
 * destination's host figures come with every pass acknowledgement, and a
 * destination that gets busy mid-migration changes the plan; a hot set
 * re-sent turns XBZRLE on. Both hosts' probes read fake /proc and cgroup
 * trees (fake_host.h, TEST DOUBLES), so the machine's own load does not
 * change the plan; the test lowers the destination's CPU quota while
 * pages flow. One case reads the migration's struct: the order of its
 * start.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cut_proxy.h"
#include "fake_guest.h"
#include "fake_host.h"
#include "migration/linkprobe.h"
#include "migration/sender_internal.h"
#include "migration/wire.h"
#include "unittest.h"

/* The first decision whose change contains what, or -1. */
static int find_decision(const struct vmig_migrate_stats *st, const char *what)
{
	for (unsigned i = 0; i < st->nr_decisions && i < VMIG_MAX_DECISIONS; i++)
		if (strstr(st->decisions[i].change, what))
			return (int)i;
	return -1;
}

/* Polls m until cond holds for its stats or ms pass; returns whether it held. */
static bool wait_for(struct vmig_migration *m, struct vmig_migrate_stats *st, uint64_t ms,
		     bool (*cond)(const struct vmig_migrate_stats *))
{
	for (uint64_t t0 = mono_ms(); mono_ms() - t0 < ms; usleep(10000)) {
		vmig_migration_query(m, st);
		if (cond(st) || final_status(st->status))
			return cond(st);
	}
	return false;
}

static bool two_passes_done(const struct vmig_migrate_stats *st)
{
	return st->iterations >= 3;
}

static bool sends_raw_now(const struct vmig_migrate_stats *st)
{
	return find_decision(st, "-> none") >= 0;
}

TEST(busier_destination_mid_migration_stops_compression)
{
	struct fake_guest src, dst;
	struct fake_host host, here;
	struct dest_run d = {0};
	char uri[64], err[512];
	CHECK_EQ_INT(fake_host_new(&host), 0);
	CHECK_EQ_INT(fake_host_new(&here), 0);
	fg_init(&src, true);
	fg_init(&dst, false);
	/* all of RAM rewritten over a 2 MiB/s link: passes go on until the
	 * test ends them, compressed or not */
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	d.g = &dst;
	d.probe_root = host.root;
	dest_start(&d);
	fg_start_writer(&src);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.size = sizeof(struct vmig_migrate_params), .uri = uri,
					.downtime_limit_ms = 1, .max_bandwidth = 2 << 20,
					.timeout_ms = 30000, .policy = VMIG_POLICY_AUTO,
					.pinned = VMIG_PIN_CONVERGE, .host_probe_root = here.root};
	struct vmig_migration *m;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	bool started = wait_for(m, &st, 20000, two_passes_done);
	bool compressing = strcmp(st.codec, "none") != 0;
	bool raw_before = sends_raw_now(&st);
	/* the destination's guests take all but 2 % of a CPU */
	CHECK_EQ_INT(fake_host_put(&host, "sys/fs/cgroup/vm/cpu.max", "2000 100000\n"), 0);
	bool raw_after = wait_for(m, &st, 20000, sends_raw_now);
	vmig_migration_cancel(m);
	wait_final(m, &st);
	vmig_migration_free(m);
	fg_stop_writer(&src);
	dest_join(&d);
	fake_host_free(&host);
	fake_host_free(&here);

	if (!raw_after)
		fprintf(stderr, "status %s after %llu passes: %s\n", vmig_mig_status_name(st.status),
			(unsigned long long)st.iterations, st.error);
	CHECK(started);
	CHECK(compressing);   /* a 2 MiB/s link and an idle destination: compress */
	CHECK(!raw_before);
	CHECK(raw_after);
	int i = find_decision(&st, "-> none");
	if (i >= 0) {
		fprintf(stderr, "decision at pass %llu: %s: %s\n",
			(unsigned long long)st.decisions[i].pass, st.decisions[i].change,
			st.decisions[i].reason);
		CHECK(strstr(st.decisions[i].reason, "0.0 there") != NULL);
	}
	CHECK_EQ_INT(st.status, VMIG_MIG_CANCELLED);
	CHECK(!src.paused);
	fg_free(&src);
	fg_free(&dst);
}

static bool is_final(const struct vmig_migrate_stats *st)
{
	return final_status(st->status);
}

/* A guest rewriting a 4 MiB hot set over an 8 MiB/s link under the auto
 * policy, p's codec settings on top: after pass 1 the planner sees the
 * set re-sent and switches XBZRLE on. Returns the destination's result;
 * both RAMs stay in src and dst for the caller to compare and free. */
static int hot_set_over_a_slow_link(struct fake_guest *src, struct fake_guest *dst,
				    struct vmig_migrate_params *p, struct vmig_migrate_stats *st,
				    char *err, size_t errlen)
{
	struct fake_host here, there;
	struct dest_run d = {0};
	char uri[64];
	struct vmig_migration *m;
	if (fake_host_new(&here) || fake_host_new(&there))
		return -1;
	fg_init(src, true);
	fg_init(dst, false);
	src->hot = 1024;
	if (listen_any(&d.lfd, uri, sizeof(uri)))
		return -1;
	d.g = dst;
	d.probe_root = there.root;
	dest_start(&d);
	fg_start_writer(src);
	struct vmig_guest g = {&fg_ops, src};
	p->size = sizeof(*p);
	p->uri = uri;
	p->downtime_limit_ms = 50;
	p->max_bandwidth = 8 << 20;
	p->timeout_ms = 60000;
	p->policy = VMIG_POLICY_AUTO;
	p->host_probe_root = here.root;
	int r = vmig_migration_start(&g, p, &m, err, errlen);
	if (!r) {
		wait_for(m, st, 60000, is_final);
		vmig_migration_free(m);
	} else {
		dest_cancel(&d);
	}
	fg_stop_writer(src);
	int dr = dest_join(&d);
	fake_host_free(&here);
	fake_host_free(&there);
	return r ? r : dr;
}

/* After pass 1 XBZRLE goes on; the destination applies the deltas against
 * its own copies, and its memory ends exact. */
TEST(xbzrle_switched_on_mid_migration_arrives_exact)
{
	struct fake_guest src, dst;
	char err[512];
	struct vmig_migrate_params p = {0};
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	int dr = hot_set_over_a_slow_link(&src, &dst, &p, &st, err, sizeof(err));
	int i = find_decision(&st, "XBZRLE on");
	for (unsigned k = 0; k < st.nr_decisions && k < VMIG_MAX_DECISIONS; k++)
		fprintf(stderr, "pass %llu: %s: %s\n", (unsigned long long)st.decisions[k].pass,
			st.decisions[k].change, st.decisions[k].reason);
	fprintf(stderr, "%s after %llu passes: %llu XBZRLE pages, %llu hits %llu misses\n",
		vmig_mig_status_name(st.status), (unsigned long long)st.iterations,
		(unsigned long long)st.pages_xbzrle, (unsigned long long)st.xbzrle_hits,
		(unsigned long long)st.xbzrle_misses);
	CHECK(i >= 0);
	CHECK(i < 0 || st.decisions[i].pass >= 1);
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK_EQ_INT(dr, 0);
	CHECK(st.verified);
	CHECK(st.pages_xbzrle > 0);
	CHECK(memcmp(src.mem, dst.mem, (size_t)PAGES * 4096) == 0);
	fg_free(&src);
	fg_free(&dst);
}

static bool xbzrle_on(const struct vmig_migrate_stats *st)
{
	return find_decision(st, "XBZRLE on") >= 0;
}

/* A re-plan that switched XBZRLE off (the start's plan also says "XBZRLE
 * off", among other things): its index, or -1. */
static int xbzrle_off_decision(const struct vmig_migrate_stats *st)
{
	for (unsigned i = 0; i < st->nr_decisions && i < VMIG_MAX_DECISIONS; i++)
		if (!strcmp(st->decisions[i].change, "XBZRLE off"))
			return (int)i;
	return -1;
}

static bool xbzrle_off(const struct vmig_migrate_stats *st)
{
	return xbzrle_off_decision(st) >= 0;
}

/* The source's memory tightens under a cache XBZRLE has begun to fill:
 * the re-plan drops the cache before its next pages could get the VMM
 * OOM-killed, and the migration carries on to an exact copy (the guest
 * stops writing then, so that it converges). */
TEST(xbzrle_goes_off_when_memory_tightens_and_the_copy_stays_exact)
{
	struct fake_guest src, dst;
	struct fake_host here, there;
	struct dest_run d = {0};
	char uri[64], err[512];
	CHECK_EQ_INT(fake_host_new(&here), 0);
	CHECK_EQ_INT(fake_host_new(&there), 0);
	fg_init(&src, true);
	fg_init(&dst, false);
	/* a 4 MiB hot set rewritten whole (XBZRLE cannot shrink it) over an
	 * 8 MiB/s link, no throttle: passes go on until the writer stops */
	src.hot = 1024;
	src.whole_pages = true;
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	d.g = &dst;
	d.probe_root = there.root;
	dest_start(&d);
	fg_start_writer(&src);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.size = sizeof(p), .uri = uri, .downtime_limit_ms = 1,
					.max_bandwidth = 8 << 20, .timeout_ms = 60000,
					.policy = VMIG_POLICY_AUTO, .pinned = VMIG_PIN_CONVERGE,
					.host_probe_root = here.root};
	struct vmig_migration *m;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	bool on = wait_for(m, &st, 30000, xbzrle_on);
	/* 1 MiB left here: less than any cache the planner picks */
	CHECK_EQ_INT(fake_host_put(&here, "proc/meminfo",
				   "MemTotal:        8388608 kB\nMemAvailable:       1024 kB\n"),
		     0);
	bool off = wait_for(m, &st, 30000, xbzrle_off);
	fg_stop_writer(&src);
	wait_for(m, &st, 60000, is_final);
	vmig_migration_free(m);
	int dr = dest_join(&d);
	fake_host_free(&here);
	fake_host_free(&there);
	bool exact = memcmp(src.mem, dst.mem, (size_t)PAGES * 4096) == 0;
	fg_free(&src);
	fg_free(&dst);
	int i = xbzrle_off_decision(&st);
	if (i >= 0)
		fprintf(stderr, "pass %llu: %s: %s\n", (unsigned long long)st.decisions[i].pass,
			st.decisions[i].change, st.decisions[i].reason);
	CHECK(on);
	CHECK(off);
	CHECK(i < 0 || strstr(st.decisions[i].reason, "memory tightened") != NULL);
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK_EQ_INT(dr, 0);
	CHECK(st.verified);
	CHECK(exact);
}

/* Found on KVM (test_migration.py's QAT case): with --policy auto and
 * --codec qat, the re-plan that switched XBZRLE on renamed the codec
 * "deflate" in query-migrate, as if QAT had been dropped. */
TEST(a_pinned_qat_codec_keeps_its_name_through_a_replan)
{
	struct fake_guest src, dst;
	char lib[512], err[512];
	bool real;
	struct vmig_migrate_params p = {.pinned = VMIG_PIN_CODEC, .codec = "qat",
					.qatzip_library = qatzip_for_test(lib, sizeof(lib), &real)};
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	CHECK_EQ_INT(hot_set_over_a_slow_link(&src, &dst, &p, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK(find_decision(&st, "XBZRLE on") >= 0); /* the re-plan happened */
	CHECK_STR(st.codec, "qat");
	fg_free(&src);
	fg_free(&dst);
}

/* The test double's RAM that is not zero (every third page is). */
#define NONZERO_BYTES ((uint64_t)(PAGES - (PAGES + 2) / 3) * 4096)

/* The test double's RAM over a 4 MiB/s link the source is not told of
 * (a pacing proxy, no bandwidth cap), under the auto policy; pass 1 is a
 * link probe of probe_bytes (0: none). Returns the destination's result. */
static int over_an_unannounced_slow_link(uint64_t probe_bytes, struct vmig_migrate_stats *st,
					 struct fake_guest *src, struct fake_guest *dst)
{
	struct fake_host here, there;
	struct dest_run d = {0};
	char uri[64], puri[64], err[512];
	struct cut_proxy *proxy;
	/* a rule that never acts: the proxy is only a slow link */
	struct cut_rule slow = {.type = 0xffffu, .dir = TO_DEST, .rate_bytes_per_s = 4 << 20};
	if (fake_host_new(&here) || fake_host_new(&there))
		return -1;
	fg_init(src, true);
	fg_init(dst, false);
	if (listen_any(&d.lfd, uri, sizeof(uri)) ||
	    cut_proxy_start(uri_port(uri), &slow, puri, sizeof(puri), &proxy))
		return -1;
	d.g = dst;
	d.probe_root = there.root;
	dest_start(&d);
	sender_link_probe_bytes = probe_bytes;
	struct vmig_guest g = {&fg_ops, src};
	struct vmig_migrate_params p = {.size = sizeof(p), .uri = puri, .downtime_limit_ms = 300,
					.timeout_ms = 60000, .policy = VMIG_POLICY_AUTO,
					.host_probe_root = here.root};
	struct vmig_migration *m;
	int r = vmig_migration_start(&g, &p, &m, err, sizeof(err));
	if (!r) {
		wait_for(m, st, 60000, is_final);
		vmig_migration_free(m);
	} else {
		dest_cancel(&d);
	}
	int dr = dest_join(&d);
	cut_proxy_stop(proxy);
	fake_host_free(&here);
	fake_host_free(&there);
	return r ? r : dr;
}

/* Pass 1 sends a probe raw; the re-plan after it has measured the link and
 * compresses the rest, so most pages never cross the link raw. Without
 * the probe all of RAM went raw in pass 1 before the planner knew. */
TEST(an_unannounced_slow_link_is_probed_before_most_pages_go)
{
	struct fake_guest src, dst;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	int dr = over_an_unannounced_slow_link(1 << 20, &st, &src, &dst);
	int i = find_decision(&st, "codec none ->");
	fprintf(stderr, "%s: %llu wire bytes of %llu non-zero RAM; pass 1 %s\n",
		vmig_mig_status_name(st.status), (unsigned long long)st.wire_bytes,
		(unsigned long long)NONZERO_BYTES, i >= 0 ? st.decisions[i].reason : "(no codec change)");
	CHECK_EQ_INT(dr, 0);
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK(st.verified);
	CHECK(memcmp(src.mem, dst.mem, (size_t)PAGES * 4096) == 0);
	CHECK(i >= 0);
	CHECK_EQ_INT(i >= 0 ? st.decisions[i].pass : 0, 1);
	/* measured to the destination's acknowledgement, not out of the
	 * socket buffers, where 1 MiB looked like 133 MiB/s; that time holds
	 * the destination's taking the pages in too, which under TSan with
	 * both cores busy read 2 of the proxy's 4 MiB/s */
	double link = 0;
	CHECK(i >= 0 && sscanf(st.decisions[i].reason, "link %lf MiB/s", &link) == 1);
	CHECK(link > 1 && link < 8);
	CHECK(st.wire_bytes < NONZERO_BYTES / 2);
	/* connected at the start though raw pages need none, the data
	 * channels spread the codec chosen after the probe */
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) >= 2)
		CHECK(find_decision(&st, "channels 1 -> 2") >= 0);
	fg_free(&src);
	fg_free(&dst);
}

/* A small guest, or one sent with the probe off, is not probed: pass 1
 * carries all of RAM (the sizes the other engine tests rely on). */
TEST(a_guest_under_four_probes_of_ram_is_not_probed)
{
	struct fake_guest src, dst;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	/* 16 MiB of RAM is under four 5 MiB probes */
	int dr = over_an_unannounced_slow_link(5 << 20, &st, &src, &dst);
	CHECK_EQ_INT(dr, 0);
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK(st.wire_bytes >= NONZERO_BYTES);
	fg_free(&src);
	fg_free(&dst);
}

/* The guest's pages are sampled (20-30 ms of one CPU for 1 GiB) before
 * the host probe starts: the probe's first idle share, which decides
 * whether pass 1 probes the link, read that sampling as the host's load
 * and skipped the probe in one 1G run of three. */
TEST(the_guest_is_sampled_before_the_host_probe_starts)
{
	struct fake_guest src;
	struct fake_host here;
	char err[256];
	fg_init(&src, true);
	CHECK_EQ_INT(fake_host_new(&here), 0);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.size = sizeof(p), .uri = "tcp:127.0.0.1:1",
					.policy = VMIG_POLICY_AUTO, .host_probe_root = here.root};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	CHECK(m->guest_sampled_ns != 0);
	CHECK(m->guest_sampled_ns <= m->probe_started_ns);
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	wait_final(m, &st);
	vmig_migration_free(m);
	fake_host_free(&here);
	fg_free(&src);
}

RUN_TESTS("replan", UT(busier_destination_mid_migration_stops_compression),
	  UT(xbzrle_switched_on_mid_migration_arrives_exact),
	  UT(xbzrle_goes_off_when_memory_tightens_and_the_copy_stays_exact),
	  UT(a_pinned_qat_codec_keeps_its_name_through_a_replan),
	  UT(an_unannounced_slow_link_is_probed_before_most_pages_go),
	  UT(a_guest_under_four_probes_of_ram_is_not_probed),
	  UT(the_guest_is_sampled_before_the_host_probe_starts))

/* SPDX-License-Identifier: MIT */
/*
 * What query-migrate says while a pass runs: the RAM still to send falls
 * as the streams send it, where it used to stay at the last harvest's
 * figure for the whole pass (pass 1 of a 1 GiB guest read 960 MiB
 * remaining for 3.6 s, then 0). The TEST DOUBLE guest (fake_guest.h)
 * migrates through a 4 MiB/s proxy (cut_proxy.h), so pass 1 takes seconds.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cut_proxy.h"
#include "fake_guest.h"
#include "unittest.h"

/* Polls m until pass 1 has sent some pages, or ms pass: whether it did. */
static bool pass_one_under_way(struct vmig_migration *m, struct vmig_migrate_stats *st,
			       uint64_t ms)
{
	for (uint64_t t0 = mono_ms(); mono_ms() - t0 < ms; usleep(10000)) {
		vmig_migration_query(m, st);
		if (final_status(st->status))
			return false;
		if (st->iterations == 1 && st->pages_sent_this_pass > 0)
			return true;
	}
	return false;
}

TEST(remaining_ram_falls_during_a_pass)
{
	struct fake_guest src, dst;
	struct dest_run d = {0};
	char uri[64], puri[64], err[512];
	struct cut_proxy *proxy;
	/* a rule that never acts: the proxy is only a slow link */
	struct cut_rule slow = {.type = 0xffffu, .dir = TO_DEST, .rate_bytes_per_s = 4 << 20};
	fg_init(&src, true);
	fg_init(&dst, false);
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	CHECK_EQ_INT(cut_proxy_start(uri_port(uri), &slow, puri, sizeof(puri), &proxy), 0);
	d.g = &dst;
	dest_start(&d);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.size = sizeof(p), .uri = puri, .timeout_ms = 60000};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	struct vmig_migrate_stats a = VMIG_MIGRATE_STATS_INIT, b = VMIG_MIGRATE_STATS_INIT;
	CHECK(pass_one_under_way(m, &a, 10000));
	/* the next batch's sending, at the link's pace */
	for (uint64_t t0 = mono_ms(); mono_ms() - t0 < 10000; usleep(10000)) {
		vmig_migration_query(m, &b);
		if (b.pages_sent_this_pass != a.pages_sent_this_pass || b.iterations != 1)
			break;
	}
	vmig_migration_cancel(m);
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	wait_final(m, &st);
	vmig_migration_free(m);
	dest_join(&d);
	cut_proxy_stop(proxy);
	fg_free(&src);
	fg_free(&dst);
	fprintf(stderr, "pass 1: %llu of %llu pages sent, %llu bytes left; then %llu, %llu\n",
		(unsigned long long)a.pages_sent_this_pass, (unsigned long long)a.pages_this_pass,
		(unsigned long long)a.remaining_bytes, (unsigned long long)b.pages_sent_this_pass,
		(unsigned long long)b.remaining_bytes);
	CHECK(a.remaining_bytes > 0);
	CHECK(a.remaining_bytes <= a.pages_this_pass * 4096);
	CHECK_EQ_INT(b.iterations, 1);
	CHECK(b.remaining_bytes < a.remaining_bytes);
	CHECK_EQ_INT(b.remaining_bytes, (b.pages_this_pass - b.pages_sent_this_pass) * 4096);
}

RUN_TESTS("progress", UT(remaining_ram_falls_during_a_pass))

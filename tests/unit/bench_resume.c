/* SPDX-License-Identifier: MIT */
/*
 * Measures resume after a broken link (not a test: run by hand).
 *
 *   bench_resume [MIB [LINK_MIBS [OUTAGE_MS...]]]   (default 256 50 3000 10000)
 *
 * A TEST DOUBLE guest of MIB MiB (a third of its pages zero, a writer
 * dirtying a hot 1/32 of it) migrates over loopback through the TEST
 * DOUBLE proxy of cut_proxy.h, the link capped at LINK_MIBS MiB/s. First
 * with no cut (what a restart would send at least), then cut in the
 * middle of pass 1 and down for each OUTAGE_MS: status, digest, memory
 * equal, bytes sent after the outage, total time, time lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cut_proxy.h"
#include "fake_guest.h"
#include "migration/wire.h"

#define RESUME_WINDOW_MS 60000
#define BATCH_PAGES_ON_WIRE 256

struct result {
	char status[32];
	bool verified, same_memory;
	uint64_t total_ms, wire_bytes, after_cut, reconnect_ms, attempts;
};

static int one_run(uint64_t pages, uint64_t link, const struct cut_rule *rule, struct result *out)
{
	struct fake_guest src, dst;
	struct dest_run d = {0};
	char dest_uri[64], proxy_uri[64], err[512];
	struct cut_proxy *px;
	struct vmig_migration *m;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;

	fg_init_pages(&src, pages, true);
	fg_init_pages(&dst, pages, false);
	src.hot = pages / 32;
	d.g = &dst;
	d.io_timeout_ms = 2000;
	d.resume_timeout_ms = RESUME_WINDOW_MS;
	if (listen_any(&d.lfd, dest_uri, sizeof(dest_uri)))
		return -1;
	dest_start(&d);
	if (cut_proxy_start(uri_port(dest_uri), rule, proxy_uri, sizeof(proxy_uri), &px))
		return -1;
	fg_start_writer(&src);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = proxy_uri;
	p.max_bandwidth = link;
	p.io_timeout_ms = 2000;
	p.resume_timeout_ms = RESUME_WINDOW_MS;
	if (vmig_migration_start(&g, &p, &m, err, sizeof(err))) {
		fprintf(stderr, "bench_resume: %s\n", err);
		return -1;
	}
	uint64_t t0 = mono_ms();
	while (!final_status(st.status) && mono_ms() - t0 < 300000) {
		usleep(20000);
		vmig_migration_query(m, &st);
	}
	fg_stop_writer(&src);
	dest_join(&d);
	snprintf(out->status, sizeof(out->status), "%s", vmig_mig_status_name(st.status));
	out->verified = st.verified && d.st.verified;
	out->same_memory = !memcmp(src.mem, dst.mem, pages * 4096);
	out->total_ms = st.total_ms;
	out->wire_bytes = st.wire_bytes;
	out->after_cut = cut_proxy_bytes_after_cut(px);
	out->reconnect_ms = st.reconnect_ms;
	out->attempts = st.reconnect_attempts;
	cut_proxy_stop(px);
	vmig_migration_free(m);
	fg_free(&src);
	fg_free(&dst);
	return 0;
}

static void print_row(const char *what, const struct result *r, uint64_t restart)
{
	printf("%-22s %-10s %-8s %-6s %9.1f %9.1f %7.0f%% %8.1f %9.1f %4llu\n", what, r->status,
	       r->verified ? "yes" : "no", r->same_memory ? "yes" : "no", r->wire_bytes / 1048576.0,
	       r->after_cut / 1048576.0, restart ? 100.0 * (double)r->after_cut / (double)restart : 0,
	       r->total_ms / 1000.0, r->reconnect_ms / 1000.0, (unsigned long long)r->attempts);
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
	uint64_t link = (argc > 2 ? strtoull(argv[2], NULL, 10) : 50) << 20;
	uint64_t pages = mib * 256;
	if (!mib || pages % 128 || !link) {
		fprintf(stderr, "usage: bench_resume [MIB (a multiple of 1/2) [LINK_MIBS [OUTAGE_MS...]]]\n");
		return 2;
	}
	/* half of pass 1's batches: two thirds of the pages are not zero, the hot 1/32 waits */
	unsigned middle = (unsigned)(pages * 31 / 32 / BATCH_PAGES_ON_WIRE / 2);
	struct result r;
	struct cut_rule never = {.type = REC_GO, .dir = TO_SOURCE, .action = CUT_CLOSE};
	printf("guest %llu MiB, link %llu MiB/s, cut at batch %u of pass 1\n",
	       (unsigned long long)mib, (unsigned long long)(link >> 20), middle);
	printf("%-22s %-10s %-8s %-6s %9s %9s %8s %8s %9s %4s\n", "run", "status", "digest", "same",
	       "wire MiB", "after MiB", "/restart", "total s", "lost s", "tries");
	if (one_run(pages, link, &never, &r))
		return 1;
	uint64_t restart = r.wire_bytes;
	print_row("no cut (= a restart)", &r, 0);
	const char *def[] = {"3000", "10000"};
	int nout = argc > 3 ? argc - 3 : 2;
	for (int i = 0; i < nout; i++) {
		unsigned outage = (unsigned)strtoul(argc > 3 ? argv[3 + i] : def[i], NULL, 10);
		struct cut_rule cut = {.type = REC_PAGES, .dir = TO_DEST, .nth = middle,
				       .action = CUT_CLOSE, .outage_ms = outage};
		char what[64];
		snprintf(what, sizeof(what), "outage %u ms", outage);
		if (one_run(pages, link, &cut, &r))
			return 1;
		print_row(what, &r, restart);
	}
	return 0;
}

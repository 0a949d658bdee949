/* SPDX-License-Identifier: MIT */
/*
 * Resume after a broken link, before the handover, engine alone (no KVM):
 * the guest is the TEST DOUBLE of fake_guest.h with its writer running,
 * the network a loopback link through the TEST DOUBLE proxy of
 * cut_proxy.h, cut (or stalled) at an exact record and down for a while.
 * Each case checks one promise: an outage shorter than the resume window
 * is survived with the digest verified and memory identical, sending far
 * less than starting over; a longer one fails as before with the source
 * guest running; only the real source may resume; nothing resumes once
 * the handover began.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "cut_proxy.h"
#include "fake_guest.h"
#include "migration/channel.h"
#include "migration/wire.h"
#include "unittest.h"

#define IO_TIMEOUT_MS 1000
#define RESUME_WINDOW_MS 10000
#define LINK_CAP (24u << 20) /* bytes/s: pass 1 of the 16 MiB guest takes ~0.5 s */
/* What starting over sends at least: the guest's non-zero pages (2/3). */
#define RESTART_BYTES ((uint64_t)PAGES * 4096 * 2 / 3)

struct resume_run {
	struct fake_guest src, dst;
	struct dest_run d;
	char dest_uri[64], proxy_uri[64];
	struct cut_proxy *px;
	struct vmig_migration *m;
	struct vmig_migrate_stats st;
	uint64_t t_end_ms; /* when the destination ended */
};

/* Destination, proxy in front of it, source through the proxy; the
 * source guest's writer runs from the start. */
static int run_begin_psk(struct resume_run *rr, const struct cut_rule *rule, unsigned channels,
			 uint64_t src_window_ms, uint64_t dst_window_ms, const char *psk)
{
	char err[512];
	memset(rr, 0, sizeof(*rr));
	rr->st.size = sizeof(rr->st);
	fg_init(&rr->src, true);
	fg_init(&rr->dst, false);
	rr->src.hot = 512; /* the writer keeps 2 MiB busy */
	rr->d.g = &rr->dst;
	rr->d.io_timeout_ms = IO_TIMEOUT_MS;
	rr->d.resume_timeout_ms = dst_window_ms;
	rr->d.tls_psk_file = psk;
	if (listen_any(&rr->d.lfd, rr->dest_uri, sizeof(rr->dest_uri)))
		return -1;
	dest_start(&rr->d);
	if (cut_proxy_start(uri_port(rr->dest_uri), rule, rr->proxy_uri, sizeof(rr->proxy_uri),
			    &rr->px))
		return -1;
	fg_start_writer(&rr->src);
	struct vmig_guest g = {&fg_ops, &rr->src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = rr->proxy_uri;
	p.channels = channels;
	p.max_bandwidth = LINK_CAP;
	p.io_timeout_ms = IO_TIMEOUT_MS;
	p.resume_timeout_ms = src_window_ms;
	p.tls_psk_file = psk;
	p.downtime_limit_ms = 300; /* the hot set converges on half the link too */
	return vmig_migration_start(&g, &p, &rr->m, err, sizeof(err));
}

static int run_begin(struct resume_run *rr, const struct cut_rule *rule, unsigned channels,
		     uint64_t src_window_ms, uint64_t dst_window_ms)
{
	return run_begin_psk(rr, rule, channels, src_window_ms, dst_window_ms, NULL);
}

static void run_finish(struct resume_run *rr)
{
	wait_final(rr->m, &rr->st);
	fg_stop_writer(&rr->src);
	dest_join(&rr->d);
	rr->t_end_ms = mono_ms();
}

static void run_end(struct resume_run *rr)
{
	if (rr->px)
		cut_proxy_stop(rr->px);
	if (rr->m)
		vmig_migration_free(rr->m);
	fg_free(&rr->src);
	fg_free(&rr->dst);
}

/* Completed, checked by the digest on both sides, same memory. */
static void check_completed(struct ut_state *ut_, struct resume_run *rr)
{
	if (rr->st.status != VMIG_MIG_COMPLETED)
		fprintf(stderr, "source: %s; destination: %s\n", rr->st.error, rr->d.err);
	CHECK_STR(vmig_mig_status_name(rr->st.status), "completed");
	CHECK_EQ_INT(rr->d.result, 0);
	CHECK(rr->st.verified && rr->d.st.verified);
	CHECK(rr->dst.resumed);
	CHECK(memcmp(rr->src.mem, rr->dst.mem, (size_t)PAGES * 4096) == 0);
	CHECK(cut_proxy_fired(rr->px));
	CHECK_EQ_INT(rr->st.resumes, 1);
}

/* What the same migration sends with no cut: a restart sends at least that. */
static void uncut_bytes(struct ut_state *ut_, unsigned channels, uint64_t *bytes)
{
	struct resume_run rr;
	/* GO never goes to the source: this rule never acts */
	struct cut_rule never = {.type = REC_GO, .dir = TO_SOURCE, .action = CUT_CLOSE};
	CHECK_EQ_INT(run_begin(&rr, &never, channels, RESUME_WINDOW_MS, RESUME_WINDOW_MS), 0);
	run_finish(&rr);
	CHECK_STR(vmig_mig_status_name(rr.st.status), "completed");
	*bytes = rr.st.wire_bytes;
	run_end(&rr);
}

/* A cut in pass 1 (its 10th batch), the link back after 1.5 s. */
static void cut_in_pass_1(struct ut_state *ut_, unsigned channels)
{
	uint64_t restart = 0;
	uncut_bytes(ut_, channels, &restart);
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_PAGES, .dir = TO_DEST, .nth = 10, .action = CUT_CLOSE,
				.outage_ms = 1500};
	CHECK_EQ_INT(run_begin(&rr, &rule, channels, RESUME_WINDOW_MS, RESUME_WINDOW_MS), 0);
	run_finish(&rr);
	check_completed(ut_, &rr);
	/* 100, 200, 400, 800 ms apart: the fifth try at the latest gets through */
	CHECK(rr.st.reconnect_attempts >= 2 && rr.st.reconnect_attempts <= 6);
	CHECK(rr.st.reconnect_ms >= 1400 && rr.st.reconnect_ms < 4000);
	/* Only what was in flight goes again, not all pass 1 had sent: the
	 * rest of the migration costs less than starting over. */
	uint64_t after = cut_proxy_bytes_after_cut(rr.px);
	fprintf(stderr, "bytes after the outage: %llu (a restart: %llu)\n",
		(unsigned long long)after, (unsigned long long)restart);
	CHECK(after < restart * 9 / 10);
	run_end(&rr);
}

TEST(cut_in_pass_1_resumes_and_completes)
{
	cut_in_pass_1(ut_, 0);
}

TEST(cut_in_pass_1_with_data_channels_resumes_and_completes)
{
	cut_in_pass_1(ut_, 2);
}

/*
 * The destination confirmed pass 1 (its SYNC_ACK is what the cut drops):
 * after the outage only what pass 2 sent and what the guest wrote since
 * goes again, far less than the whole guest a fresh start would send.
 */
/*
 * With TLS every channel authenticates again on the resume and gets a new
 * session, so new keys for the record checks and the digest; the proxy
 * cannot read TLS records, so it cuts after a byte count (4 MiB of the
 * 16 MiB guest's pass 1).
 */
TEST(cut_under_tls_resumes_with_new_sessions_and_completes)
{
	char dir[] = "/tmp/vmig-resume-tls-XXXXXX", psk[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(psk, sizeof(psk), "%s/psk", dir);
	FILE *f = fopen(psk, "w");
	CHECK(f != NULL);
	fputs("vmig:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	struct resume_run rr;
	struct cut_rule rule = {.dir = TO_DEST, .action = CUT_CLOSE, .outage_ms = 1500,
				.after_bytes = 4u << 20};
	int r = run_begin_psk(&rr, &rule, 2, RESUME_WINDOW_MS, RESUME_WINDOW_MS, psk);
	if (!r)
		run_finish(&rr);
	unlink(psk);
	rmdir(dir);
	CHECK_EQ_INT(r, 0);
	check_completed(ut_, &rr);
	CHECK(strstr(rr.st.tls, "psk") != NULL);
	run_end(&rr);
}

TEST(cut_in_pass_2_sends_far_less_than_a_restart)
{
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_SYNC_ACK, .dir = TO_SOURCE, .nth = 1,
				.action = CUT_CLOSE, .outage_ms = 2000};
	CHECK_EQ_INT(run_begin(&rr, &rule, 0, RESUME_WINDOW_MS, RESUME_WINDOW_MS), 0);
	run_finish(&rr);
	check_completed(ut_, &rr);
	uint64_t after = cut_proxy_bytes_after_cut(rr.px);
	uint64_t restart = RESTART_BYTES;
	fprintf(stderr, "bytes after the outage: %llu (a restart: > %llu); %llu ms lost\n",
		(unsigned long long)after, (unsigned long long)restart,
		(unsigned long long)rr.st.reconnect_ms);
	CHECK(after > 0 && after < restart / 2);
	run_end(&rr);
}

/* A link that stalls (no error, no progress) is given up after the I/O
 * deadline and resumed like a closed one. */
TEST(stalled_link_resumes_and_completes)
{
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_PAGES, .dir = TO_DEST, .nth = 8, .action = CUT_STALL,
				.outage_ms = 1000};
	CHECK_EQ_INT(run_begin(&rr, &rule, 0, RESUME_WINDOW_MS, RESUME_WINDOW_MS), 0);
	run_finish(&rr);
	check_completed(ut_, &rr);
	run_end(&rr);
}

/* Down for longer than the window: the source fails as it did without
 * resume, its guest running; the destination ends at its own window. */
TEST(outage_longer_than_the_window_fails_with_the_source_running)
{
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_PAGES, .dir = TO_DEST, .nth = 10, .action = CUT_CLOSE};
	uint64_t t0 = mono_ms();
	CHECK_EQ_INT(run_begin(&rr, &rule, 0, 1500, 1500), 0);
	run_finish(&rr);
	CHECK_STR(vmig_mig_status_name(rr.st.status), "failed");
	CHECK(strstr(rr.st.error, "not back within 1 s") != NULL);
	CHECK(rr.st.reconnect_attempts >= 3);
	CHECK(!fg_is_paused(&rr.src)); /* the guest runs on here */
	CHECK(rr.d.result != 0 && !rr.dst.resumed);
	CHECK(strstr(rr.d.err, "did not resume") != NULL);
	CHECK(rr.t_end_ms - t0 < 1500 + 3 * IO_TIMEOUT_MS + 2000);
	run_end(&rr);
}

/* Connects to uri and says HELLO for a 16 MiB guest (features, session
 * as given); returns the answer's record type, or -1. */
static int hello_from_stranger(const char *uri, uint64_t features, uint64_t session)
{
	char err[256];
	int fd;
	struct wire_hello h = {.magic = WIRE_MAGIC, .version = WIRE_VERSION, .page_size = 4096,
			       .nr_regions = 2, .session = session, .features = features};
	h.regions[0] = (struct wire_region){0, (uint64_t)PAGES * 4096 / 2};
	h.regions[1] = (struct wire_region){1ull << 32, (uint64_t)PAGES * 4096 / 2};
	struct vbuf p;
	struct channel ch;
	struct wire_hdr hdr = {0};
	if (chan_connect(uri, 2000, -1, &fd, err, sizeof(err)))
		return -1;
	chan_init(&ch, fd, -1, 3000);
	vbuf_init(&p);
	wire_encode_hello(&p, &h);
	int r = chan_send_record(&ch, REC_HELLO, p.data, p.len, err, sizeof(err));
	if (!r)
		r = chan_recv_record(&ch, &hdr, &p, 3000, err, sizeof(err));
	vbuf_free(&p);
	chan_close(&ch);
	return r ? -1 : (int)hdr.type;
}

/* While the destination waits for its source, a fresh source and one
 * quoting another session are refused; the real one then resumes. */
TEST(strangers_in_the_resume_window_are_refused_the_source_resumes)
{
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_PAGES, .dir = TO_DEST, .nth = 10, .action = CUT_CLOSE,
				.outage_ms = 2000};
	CHECK_EQ_INT(run_begin(&rr, &rule, 0, RESUME_WINDOW_MS, RESUME_WINDOW_MS), 0);
	for (int i = 0; i < 500 && !cut_proxy_fired(rr.px); i++)
		usleep(10000);
	CHECK(cut_proxy_fired(rr.px));
	usleep(100000); /* the destination sees the cut at once and waits */
	CHECK_EQ_INT(hello_from_stranger(rr.dest_uri, 0, 42), REC_ERROR);
	CHECK_EQ_INT(hello_from_stranger(rr.dest_uri, WIRE_FEATURE_RESUME, 42), REC_ERROR);
	run_finish(&rr);
	check_completed(ut_, &rr);
	run_end(&rr);
}

/* The guest is paused for the handover when the state is cut off: that
 * is not resumed; the source fails and its guest runs again. */
TEST(cut_during_the_handover_is_not_resumed)
{
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_STATE, .dir = TO_DEST, .nth = 1, .action = CUT_CLOSE,
				.outage_ms = 300};
	CHECK_EQ_INT(run_begin(&rr, &rule, 0, RESUME_WINDOW_MS, 1500), 0);
	run_finish(&rr);
	CHECK_STR(vmig_mig_status_name(rr.st.status), "failed");
	CHECK_EQ_INT(rr.st.resumes, 0);
	CHECK_EQ_INT(rr.st.reconnect_attempts, 0);
	CHECK(!fg_is_paused(&rr.src));
	CHECK(rr.d.result != 0 && !rr.dst.resumed);
	run_end(&rr);
}

/* The library's default (0) keeps today's behaviour: a cut fails at once. */
TEST(no_window_fails_at_once)
{
	struct resume_run rr;
	struct cut_rule rule = {.type = REC_PAGES, .dir = TO_DEST, .nth = 10, .action = CUT_CLOSE,
				.outage_ms = 200};
	CHECK_EQ_INT(run_begin(&rr, &rule, 0, 0, 0), 0);
	run_finish(&rr);
	CHECK_STR(vmig_mig_status_name(rr.st.status), "failed");
	CHECK_EQ_INT(rr.st.reconnect_attempts, 0);
	CHECK(!fg_is_paused(&rr.src));
	CHECK(rr.d.result != 0);
	run_end(&rr);
}

RUN_TESTS("test_resume", UT(cut_in_pass_1_resumes_and_completes),
	  UT(cut_in_pass_1_with_data_channels_resumes_and_completes),
	  UT(cut_under_tls_resumes_with_new_sessions_and_completes),
	  UT(cut_in_pass_2_sends_far_less_than_a_restart), UT(stalled_link_resumes_and_completes),
	  UT(outage_longer_than_the_window_fails_with_the_source_running),
	  UT(strangers_in_the_resume_window_are_refused_the_source_resumes),
	  UT(cut_during_the_handover_is_not_resumed), UT(no_window_fails_at_once))

/* SPDX-License-Identifier: MIT */
/*
 * The failure paths a hostile or flaky network reaches, engine alone (no
 * KVM): the guest is the TEST DOUBLE of fake_guest.h, the network a real
 * loopback TCP link, cut or stalled at exact records by the TEST DOUBLE
 * proxy of cut_proxy.h. Each case checks the promise: the guest never runs
 * in two places, a failure before handover leaves the source running, a
 * lost confirmation leaves it paused and alive, strangers on the port do
 * not disturb the real source, and no wait outlives its deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "cut_proxy.h"
#include "fake_guest.h"
#include "migration/acceptor.h"
#include "migration/channel.h"
#include "migration/wire.h"
#include "unittest.h"

#define IO_TIMEOUT_MS 1000
/* Over an 8 MiB/s link a batch waits seconds behind the socket buffers:
 * not a stall. */
#define SLOW_LINK_IO_TIMEOUT_MS 8000

/* A source and a destination of fake guests; the source goes through
 * uri (the destination's own, or a proxy's). */
struct pair {
	struct fake_guest src, dst;
	struct dest_run d;
	char dest_uri[64];
	struct vmig_migration *m;
	struct vmig_migrate_stats st;
};

static int pair_begin(struct pair *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->st.size = sizeof(pr->st);
	fg_init(&pr->src, true);
	fg_init(&pr->dst, false);
	pr->d.g = &pr->dst;
	pr->d.io_timeout_ms = IO_TIMEOUT_MS;
	if (listen_any(&pr->d.lfd, pr->dest_uri, sizeof(pr->dest_uri)))
		return -1;
	dest_start(&pr->d);
	return 0;
}

/* The same, the destination keeping its state this long for a resume. */
static int pair_begin_resumable(struct pair *pr, uint64_t resume_timeout_ms)
{
	memset(pr, 0, sizeof(*pr));
	pr->st.size = sizeof(pr->st);
	fg_init(&pr->src, true);
	fg_init(&pr->dst, false);
	pr->d.g = &pr->dst;
	pr->d.io_timeout_ms = SLOW_LINK_IO_TIMEOUT_MS;
	pr->d.resume_timeout_ms = resume_timeout_ms;
	if (listen_any(&pr->d.lfd, pr->dest_uri, sizeof(pr->dest_uri)))
		return -1;
	dest_start(&pr->d);
	return 0;
}

static int pair_migrate(struct pair *pr, const char *uri, unsigned channels, uint64_t bw)
{
	char err[512];
	struct vmig_guest g = {&fg_ops, &pr->src};
	struct vmig_migrate_params p = {.size = sizeof(struct vmig_migrate_params), .uri = uri, .channels = channels, .max_bandwidth = bw,
					.io_timeout_ms = IO_TIMEOUT_MS};
	return vmig_migration_start(&g, &p, &pr->m, err, sizeof(err));
}

static void pair_end(struct pair *pr)
{
	if (pr->m)
		vmig_migration_free(pr->m);
	fg_free(&pr->src);
	fg_free(&pr->dst);
}

/* A migration through a proxy that acts on one record; returns the
 * source's final status in pr->st and joins the destination. */
static void through_proxy(struct ut_state *ut_, struct pair *pr, const struct cut_rule *rule)
{
	struct cut_proxy *px;
	char puri[64];
	CHECK_EQ_INT(pair_begin(pr), 0);
	CHECK_EQ_INT(cut_proxy_start(uri_port(pr->dest_uri), rule, puri, sizeof(puri), &px), 0);
	CHECK_EQ_INT(pair_migrate(pr, puri, 0, 0), 0);
	wait_final(pr->m, &pr->st);
	dest_join(&pr->d);
	CHECK(cut_proxy_fired(px));
	cut_proxy_stop(px);
}

TEST(lost_go_keeps_source_paused_and_unconfirmed)
{
	struct pair pr;
	struct cut_rule rule = {.type = REC_GO, .dir = TO_DEST, .nth = 1, .action = CUT_CLOSE};
	through_proxy(ut_, &pr, &rule);
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_UNCONFIRMED);
	CHECK(strstr(pr.st.error, "did not confirm") != NULL);
	CHECK(fg_is_paused(&pr.src));     /* alive, paused: the operator decides */
	CHECK(!fg_was_resumed(&pr.src));
	CHECK(pr.d.result != 0);          /* no GO: the destination discards */
	CHECK(!fg_was_resumed(&pr.dst));
	pair_end(&pr);
}

TEST(lost_resumed_keeps_source_paused_while_destination_runs)
{
	struct pair pr;
	struct cut_rule rule = {.type = REC_RESUMED, .dir = TO_SOURCE, .nth = 1, .action = CUT_CLOSE};
	through_proxy(ut_, &pr, &rule);
	/* seen once under TSan on a loaded machine: FAILED; say why if again */
	CHECK_MSG(pr.st.status == VMIG_MIG_UNCONFIRMED, "status %d (want %d): %s",
		  (int)pr.st.status, (int)VMIG_MIG_UNCONFIRMED, pr.st.error);
	CHECK(fg_is_paused(&pr.src));
	CHECK(!fg_was_resumed(&pr.src));
	CHECK_MSG(pr.d.result == 0, "destination: %d", pr.d.result);
	CHECK(fg_was_resumed(&pr.dst));
	CHECK(memcmp(pr.src.mem, pr.dst.mem, (size_t)PAGES * 4096) == 0);
	pair_end(&pr);
}

TEST(stalled_go_ends_destination_within_its_deadline)
{
	struct pair pr;
	struct cut_rule rule = {.type = REC_GO, .dir = TO_DEST, .nth = 1, .action = CUT_STALL};
	uint64_t t0 = mono_ms();
	through_proxy(ut_, &pr, &rule);
	uint64_t took = mono_ms() - t0;
	CHECK(pr.d.result != 0);
	CHECK(!fg_was_resumed(&pr.dst));
	/* Whichever deadline ends first: the destination's word that it gave
	 * up reaches the source (the guest comes back here), or the source's
	 * wait for RESUMED ends (paused, unconfirmed). Never both running. */
	if (pr.st.status == VMIG_MIG_FAILED)
		CHECK(fg_was_resumed(&pr.src) && !fg_is_paused(&pr.src));
	else
		CHECK(pr.st.status == VMIG_MIG_UNCONFIRMED && fg_is_paused(&pr.src));
	CHECK(took < 10000); /* not the 60 s it once waited */
	pair_end(&pr);
}

TEST(destination_failing_after_go_gives_the_guest_back)
{
	/* The destination cannot start the guest and says so: the source
	 * knows for sure that it does not run there, and resumes it. */
	struct pair pr;
	CHECK_EQ_INT(pair_begin(&pr), 0);
	pr.dst.fail_resume = true;
	CHECK_EQ_INT(pair_migrate(&pr, pr.dest_uri, 0, 0), 0);
	wait_final(pr.m, &pr.st);
	dest_join(&pr.d);
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_FAILED);
	CHECK(strstr(pr.st.error, "cannot resume") != NULL);
	CHECK(!fg_is_paused(&pr.src));
	CHECK(fg_was_resumed(&pr.src));
	pair_end(&pr);
}

/* A connection to uri that sends n bytes of garbage (0: nothing) and
 * stays open until closed by the caller. */
static int stranger(const char *uri, size_t n)
{
	char err[256];
	int fd;
	if (chan_connect(uri, 2000, -1, &fd, err, sizeof(err)))
		return -1;
	uint8_t junk[256];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	if (n && send(fd, junk, n < sizeof(junk) ? n : sizeof(junk), MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void migrate_after_strangers(struct ut_state *ut_, size_t garbage, unsigned channels)
{
	struct pair pr;
	CHECK_EQ_INT(pair_begin(&pr), 0);
	int fds[4];
	for (int i = 0; i < 4; i++)
		CHECK((fds[i] = stranger(pr.dest_uri, garbage)) >= 0);
	usleep(100000);
	CHECK_EQ_INT(pair_migrate(&pr, pr.dest_uri, channels, 0), 0);
	wait_final(pr.m, &pr.st);
	dest_join(&pr.d);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_COMPLETED);
	CHECK_EQ_INT(pr.d.result, 0);
	CHECK(memcmp(pr.src.mem, pr.dst.mem, (size_t)PAGES * 4096) == 0);
	pair_end(&pr);
}

TEST(garbage_connections_do_not_end_the_listener)
{
	migrate_after_strangers(ut_, 200, 0);
}

TEST(idle_connections_do_not_delay_the_source)
{
	/* four silent strangers hold connections open while the source comes */
	uint64_t t0 = mono_ms();
	migrate_after_strangers(ut_, 0, 0);
	CHECK(mono_ms() - t0 < 8000);
}

TEST(strangers_do_not_disturb_data_channels)
{
	migrate_after_strangers(ut_, 0, 3);
}

/* Keeps opening garbage connections until told to stop. */
struct pest {
	const char *uri;
	bool stop;
	unsigned sent;
};

static void *pest_thread(void *arg)
{
	struct pest *p = arg;
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		int fd = stranger(p->uri, 16);
		if (fd >= 0) {
			p->sent++;
			close(fd);
		}
		usleep(5000);
	}
	return NULL;
}

TEST(strangers_during_the_channel_window_are_refused_one_by_one)
{
	struct pair pr;
	struct pest pest = {0};
	pthread_t t;
	CHECK_EQ_INT(pair_begin(&pr), 0);
	pest.uri = pr.dest_uri;
	pthread_create(&t, NULL, pest_thread, &pest);
	CHECK_EQ_INT(pair_migrate(&pr, pr.dest_uri, 4, 0), 0);
	wait_final(pr.m, &pr.st);
	__atomic_store_n(&pest.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	dest_join(&pr.d);
	if (pr.st.status != VMIG_MIG_COMPLETED)
		fprintf(stderr, "source: %s\ndestination: %s\n", pr.st.error, pr.d.err);
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_COMPLETED);
	CHECK_EQ_INT(pr.d.result, 0);
	CHECK(pest.sent > 0);
	pair_end(&pr);
}

TEST(second_source_is_refused_first_completes)
{
	struct pair a;
	struct fake_guest b_guest;
	char err[512];
	CHECK_EQ_INT(pair_begin(&a), 0);
	fg_init(&b_guest, true);
	struct vmig_guest gb = {&fg_ops, &b_guest};
	struct vmig_migrate_params pb = {.size = sizeof(struct vmig_migrate_params), .uri = a.dest_uri, .channels = 2, .io_timeout_ms = IO_TIMEOUT_MS};
	struct vmig_migration *mb;
	CHECK_EQ_INT(pair_migrate(&a, a.dest_uri, 2, 0), 0);
	CHECK_EQ_INT(vmig_migration_start(&gb, &pb, &mb, err, sizeof(err)), 0);
	struct vmig_migrate_stats sb = VMIG_MIGRATE_STATS_INIT;
	wait_final(a.m, &a.st);
	wait_final(mb, &sb);
	dest_join(&a.d);
	vmig_migration_free(mb);
	/* exactly one got through; the other was told, and runs on */
	CHECK_EQ_INT(a.d.result, 0);
	CHECK((a.st.status == VMIG_MIG_COMPLETED) != (sb.status == VMIG_MIG_COMPLETED));
	struct fake_guest *loser = a.st.status == VMIG_MIG_COMPLETED ? &b_guest : &a.src;
	fprintf(stderr, "first: %s \"%s\"; second: %s \"%s\"\n", vmig_mig_status_name(a.st.status),
		a.st.error, vmig_mig_status_name(sb.status), sb.error);
	CHECK(!fg_is_paused(loser));
	CHECK(strstr(a.st.status == VMIG_MIG_COMPLETED ? sb.error : a.st.error, "another migration") ||
	      strstr(a.st.status == VMIG_MIG_COMPLETED ? sb.error : a.st.error, "cannot connect"));
	fg_free(&b_guest);
	pair_end(&a);
}

/* A source whose connection still waits in the kernel's backlog when the
 * destination stops listening is told why, not reset unexplained (the
 * cause of a flaky second_source_is_refused_first_completes). */
TEST(a_connection_in_the_backlog_is_told_why_when_the_door_closes)
{
	char uri[64], err[256], reply[512];
	int lfd, cfd;
	struct acceptor *a;
	CHECK_EQ_INT(listen_any(&lfd, uri, sizeof(uri)), 0);
	CHECK_EQ_INT(acceptor_new(lfd, -1, IO_TIMEOUT_MS, &a), 0);
	CHECK_EQ_INT(chan_connect(uri, 2000, -1, &cfd, err, sizeof(err)), 0);
	static const char hello_like[64] = "bytes the destination never reads";
	CHECK(send(cfd, hello_like, sizeof(hello_like), MSG_NOSIGNAL) == (ssize_t)sizeof(hello_like));
	acceptor_free(a, "another migration is already incoming");
	close(lfd);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(cfd, reply, sizeof(reply) - 1, 0);
	if (n < 0)
		fprintf(stderr, "the client read: %s\n", strerror(errno));
	CHECK(n > WIRE_HDR_SIZE);
	reply[n > 0 ? n : 0] = 0;
	CHECK(memmem(reply, (size_t)(n > 0 ? n : 0), "another migration", 17) != NULL);
	close(cfd);
}

/* A hand-made source: HELLO for the fake guest's layout with n data
 * channels; returns the main connection (HELLO_ACK read). */
static int handmade_source(const char *uri, uint32_t nch, uint64_t session, uint64_t ram_bytes)
{
	char err[256];
	int fd;
	struct wire_hello h = {.magic = WIRE_MAGIC, .version = WIRE_VERSION, .page_size = 4096,
			       .nr_regions = 2, .nr_channels = nch, .session = session};
	h.regions[0] = (struct wire_region){0, ram_bytes / 2};
	h.regions[1] = (struct wire_region){1ull << 32, ram_bytes / 2};
	struct vbuf p;
	vbuf_init(&p);
	wire_encode_hello(&p, &h);
	struct channel ch;
	if (chan_connect(uri, 2000, -1, &fd, err, sizeof(err)))
		return -1;
	chan_init(&ch, fd, -1, 5000);
	int r = chan_send_record(&ch, REC_HELLO, p.data, p.len, err, sizeof(err));
	vbuf_free(&p);
	struct wire_hdr hdr;
	vbuf_init(&p);
	if (!r)
		r = chan_recv_record(&ch, &hdr, &p, 5000, err, sizeof(err));
	vbuf_free(&p);
	if (r || hdr.type != REC_HELLO_ACK) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(silence_after_channel_end_ends_the_destination)
{
	struct pair pr;
	char err[256];
	CHECK_EQ_INT(pair_begin(&pr), 0);
	uint64_t session = 0x5e55;
	int mfd = handmade_source(pr.dest_uri, 1, session, (uint64_t)PAGES * 4096);
	CHECK(mfd >= 0);
	int dfd;
	struct channel dc;
	CHECK_EQ_INT(chan_connect(pr.dest_uri, 2000, -1, &dfd, err, sizeof(err)), 0);
	chan_init(&dc, dfd, -1, 5000);
	uint8_t chello[WIRE_CHANNEL_HELLO_SIZE];
	wire_encode_channel_hello(chello, &(struct wire_channel_hello){.session = session, .index = 0});
	CHECK_EQ_INT(chan_send_record(&dc, REC_CHANNEL_HELLO, chello, sizeof(chello), err, sizeof(err)), 0);
	CHECK_EQ_INT(chan_send_record(&dc, REC_CHANNEL_END, NULL, 0, err, sizeof(err)), 0);
	uint64_t t0 = mono_ms();
	dest_join(&pr.d); /* then silence on the main channel */
	uint64_t took = mono_ms() - t0;
	close(mfd);
	chan_close(&dc);
	CHECK(pr.d.result != 0);
	CHECK(strstr(pr.d.err, "went silent") != NULL);
	CHECK(took < 4 * IO_TIMEOUT_MS);
	CHECK(!fg_was_resumed(&pr.dst));
	pair_end(&pr);
}

TEST(source_over_the_ram_limit_is_refused_and_the_wait_goes_on)
{
	struct pair pr;
	memset(&pr, 0, sizeof(pr));
	pr.st.size = sizeof(pr.st);
	fg_init(&pr.src, true);
	fg_init(&pr.dst, false);
	pr.d.g = &pr.dst;
	pr.d.io_timeout_ms = IO_TIMEOUT_MS;
	pr.d.max_ram_bytes = 8 << 20; /* the fake guest has 16 MiB */
	CHECK_EQ_INT(listen_any(&pr.d.lfd, pr.dest_uri, sizeof(pr.dest_uri)), 0);
	dest_start(&pr.d);
	CHECK_EQ_INT(pair_migrate(&pr, pr.dest_uri, 0, 0), 0);
	wait_final(pr.m, &pr.st);
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_FAILED);
	CHECK(strstr(pr.st.error, "at most 8 MiB") != NULL);
	CHECK(!fg_is_paused(&pr.src));
	usleep(200000);
	struct vmig_incoming *in = __atomic_load_n(&pr.d.in, __ATOMIC_ACQUIRE);
	CHECK(in != NULL); /* still waiting for a source within the limits */
	CHECK(!pr.d.accepted);
	CHECK(dest_cancel(&pr.d));
	CHECK_EQ_INT(dest_join(&pr.d), -ECANCELED);
	pair_end(&pr);
}

TEST(cancel_ends_an_incoming_wait_at_once)
{
	struct pair pr;
	CHECK_EQ_INT(pair_begin(&pr), 0);
	struct vmig_incoming *in = NULL;
	for (int i = 0; i < 200 && !in; i++) {
		usleep(5000);
		in = __atomic_load_n(&pr.d.in, __ATOMIC_ACQUIRE);
	}
	CHECK(in != NULL);
	uint64_t t0 = mono_ms();
	CHECK(dest_cancel(&pr.d));
	CHECK_EQ_INT(dest_join(&pr.d), -ECANCELED);
	CHECK(mono_ms() - t0 < 100);
	pair_end(&pr);
}

/* Cancel must not wait for the rate limiter: at 1000 bytes/s one batch
 * takes a minute, and the bug it guards against took 9 s. It takes a few
 * ms; the bound leaves room for TSan on a loaded 2-core machine, where
 * 100 ms failed now and then. */
#define CANCEL_PROMPT_MS 1000

TEST(cancel_under_a_tiny_bandwidth_takes_effect_at_once)
{
	struct pair pr;
	CHECK_EQ_INT(pair_begin(&pr), 0);
	CHECK_EQ_INT(pair_migrate(&pr, pr.dest_uri, 0, 1000), 0); /* 1000 bytes/s */
	usleep(500000);
	uint64_t t0 = mono_ms();
	vmig_migration_cancel(pr.m);
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	for (;;) {
		vmig_migration_query(pr.m, &st);
		if (final_status(st.status) || mono_ms() - t0 > 5000)
			break;
		usleep(1000);
	}
	uint64_t took = mono_ms() - t0;
	dest_join(&pr.d);
	CHECK_EQ_INT(st.status, VMIG_MIG_CANCELLED);
	if (took >= CANCEL_PROMPT_MS)
		fprintf(stderr, "cancel took %llu ms\n", (unsigned long long)took);
	CHECK(took < CANCEL_PROMPT_MS);
	CHECK(!fg_is_paused(&pr.src));
	pair_end(&pr);
}

TEST(cancel_under_a_tiny_bandwidth_with_channels)
{
	struct pair pr;
	CHECK_EQ_INT(pair_begin(&pr), 0);
	CHECK_EQ_INT(pair_migrate(&pr, pr.dest_uri, 2, 1000), 0);
	usleep(500000);
	uint64_t t0 = mono_ms();
	vmig_migration_cancel(pr.m);
	vmig_migration_free(pr.m); /* joins: what quit does */
	pr.m = NULL;
	uint64_t took = mono_ms() - t0;
	dest_join(&pr.d);
	if (took >= CANCEL_PROMPT_MS)
		fprintf(stderr, "cancel took %llu ms\n", (unsigned long long)took);
	CHECK(took < CANCEL_PROMPT_MS);
	CHECK(!fg_is_paused(&pr.src));
	pair_end(&pr);
}

/*
 * A source that gives up (its --timeout) over a slow link must still tell
 * the destination: the ERROR record sits behind pages in the send queue,
 * and closing a socket with unread acknowledgements sends a reset that
 * throws that queue away, so the destination saw a lost link and waited
 * its whole resume window for a source that had already failed (found by
 * bench/enginesim on a 1 Gbit/s netns link).
 */
#define GIVE_UP_RESUME_WINDOW_MS 20000
#define GIVE_UP_TOLD_WITHIN_MS 5000
#define GIVE_UP_TIMEOUT_MS 2500

/* A source that never converges over an 8 MiB/s paced link: 8 MiB
 * rewritten all the time is a second a pass, never under the 300 ms
 * downtime limit, so it gives up at its timeout. pr->st holds its
 * final figures; the destination is still running (not joined). */
static void give_up_over_a_slow_link(struct ut_state *ut_, struct pair *pr, unsigned channels,
				     uint64_t timeout_ms, struct cut_proxy **px)
{
	char puri[64], err[512];
	struct cut_rule slow = {.type = 0xffffu, .dir = TO_DEST, .rate_bytes_per_s = 8 << 20};
	CHECK_EQ_INT(pair_begin_resumable(pr, GIVE_UP_RESUME_WINDOW_MS), 0);
	CHECK_EQ_INT(cut_proxy_start(uri_port(pr->dest_uri), &slow, puri, sizeof(puri), px), 0);
	pr->src.hot = 2048;
	fg_start_writer(&pr->src);
	struct vmig_guest g = {&fg_ops, &pr->src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = puri;
	p.channels = channels;
	p.io_timeout_ms = SLOW_LINK_IO_TIMEOUT_MS;
	p.timeout_ms = timeout_ms;
	p.resume_timeout_ms = GIVE_UP_RESUME_WINDOW_MS;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &pr->m, err, sizeof(err)), 0);
	wait_final(pr->m, &pr->st);
	fg_stop_writer(&pr->src);
}

TEST(a_source_that_gives_up_over_a_slow_link_tells_the_destination)
{
	struct pair pr;
	struct cut_proxy *px = NULL;
	give_up_over_a_slow_link(ut_, &pr, 0, GIVE_UP_TIMEOUT_MS, &px);
	uint64_t t_failed = mono_ms();
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_FAILED);
	dest_join(&pr.d);
	uint64_t took = mono_ms() - t_failed;
	if (took >= GIVE_UP_TOLD_WITHIN_MS)
		fprintf(stderr, "the destination ended %llu ms after the source: %s\n",
			(unsigned long long)took, pr.d.err);
	CHECK(took < GIVE_UP_TOLD_WITHIN_MS);
	CHECK(strstr(pr.d.err, "aborted") != NULL);
	CHECK(!fg_is_paused(&pr.src));
	cut_proxy_stop(px);
	pair_end(&pr);
}

/*
 * The same with two data channels: the pass fitted in the channels'
 * socket buffers, so its time per page read a hundred times too fast, and
 * the source switched over expecting 4 ms and paused the guest for 1.07 s
 * (limit 300 ms; the benchmark's 1G-tight auto run: 1078 ms).
 */
TEST(a_pass_that_fits_in_the_socket_buffers_is_not_taken_for_a_fast_link)
{
	struct pair pr;
	struct cut_proxy *px = NULL;
	give_up_over_a_slow_link(ut_, &pr, 2, GIVE_UP_TIMEOUT_MS, &px);
	if (pr.st.status != VMIG_MIG_FAILED || !strstr(pr.st.error, "timed out"))
		fprintf(stderr, "status %d after %u passes, downtime %llu ms (expected %llu): %s\n",
			(int)pr.st.status, (unsigned)pr.st.iterations,
			(unsigned long long)pr.st.downtime_ms,
			(unsigned long long)pr.st.expected_downtime_ms, pr.st.error);
	CHECK_EQ_INT(pr.st.status, VMIG_MIG_FAILED);
	CHECK(strstr(pr.st.error, "timed out") != NULL);
	dest_join(&pr.d);
	cut_proxy_stop(px);
	pair_end(&pr);
}

RUN_TESTS("failures", UT(lost_go_keeps_source_paused_and_unconfirmed),
	  UT(lost_resumed_keeps_source_paused_while_destination_runs),
	  UT(stalled_go_ends_destination_within_its_deadline),
	  UT(destination_failing_after_go_gives_the_guest_back),
	  UT(garbage_connections_do_not_end_the_listener), UT(idle_connections_do_not_delay_the_source),
	  UT(strangers_do_not_disturb_data_channels),
	  UT(strangers_during_the_channel_window_are_refused_one_by_one),
	  UT(second_source_is_refused_first_completes),
	  UT(a_connection_in_the_backlog_is_told_why_when_the_door_closes),
	  UT(silence_after_channel_end_ends_the_destination),
	  UT(source_over_the_ram_limit_is_refused_and_the_wait_goes_on),
	  UT(cancel_ends_an_incoming_wait_at_once),
	  UT(cancel_under_a_tiny_bandwidth_takes_effect_at_once),
	  UT(cancel_under_a_tiny_bandwidth_with_channels),
	  UT(a_source_that_gives_up_over_a_slow_link_tells_the_destination),
	  UT(a_pass_that_fits_in_the_socket_buffers_is_not_taken_for_a_fast_link))

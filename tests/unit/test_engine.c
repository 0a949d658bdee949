/* SPDX-License-Identifier: MIT */
/*
 * The migration engine alone, with no KVM: a TEST DOUBLE guest (plain
 * memory, dirty tracking by hand, a writer thread standing in for vCPUs)
 * migrates between a source and a destination in one process over
 * loopback TCP. Checks that the destination ends with exactly the
 * source's memory, that pause/resume and state pass through, and that
 * failures leave the source running.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unittest.h"
#include "vmig/migration.h"

#define PAGES 4096 /* 16 MiB in two regions */

/* Test double of the guest interface. */
struct fake_guest {
	uint8_t *mem;
	uint64_t pages;
	uint64_t *dirty;       /* bit per page, set by the writer */
	pthread_mutex_t lock;  /* guards dirty and paused */
	bool paused, tracking, resumed;
	uint64_t writes;
	char state[64];
	/* writer stand-in for a vCPU */
	pthread_t writer;
	bool stop;
	unsigned seed;
	uint64_t hot;          /* writer touches only pages [0, hot) if set */
};

static unsigned fg_regions(void *o, struct vmig_ram_region *out, unsigned max)
{
	struct fake_guest *g = o;
	uint64_t half = g->pages / 2 * 4096;
	out[0] = (struct vmig_ram_region){0, half, g->mem};
	out[1] = (struct vmig_ram_region){1ull << 32, half, g->mem + half};
	return 2;
}

static int fg_dirty_start(void *o, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->tracking = true;
	memset(g->dirty, 0xff, g->pages / 8);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void fg_dirty_stop(void *o)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->tracking = false;
	pthread_mutex_unlock(&g->lock);
}

static int fg_harvest(void *o, unsigned region, uint64_t *bitmap, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	uint64_t first = region * g->pages / 2;
	pthread_mutex_lock(&g->lock);
	for (uint64_t w = 0; w < g->pages / 2 / 64; w++)
		bitmap[w] |= g->dirty[first / 64 + w];
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_clear(void *o, unsigned region, uint64_t first, uint64_t n, const uint64_t *bits,
		    char *err, size_t errlen)
{
	struct fake_guest *g = o;
	uint64_t base = region * g->pages / 2 + first;
	pthread_mutex_lock(&g->lock);
	for (uint64_t i = 0; i < n; i++)
		if (bits[i / 64] & (1ull << (i % 64)))
			g->dirty[(base + i) / 64] &= ~(1ull << ((base + i) % 64));
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_pause(void *o)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->paused = true;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_resume(void *o)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->paused = false;
	g->resumed = true;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_save(void *o, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	*blob = malloc(sizeof(g->state));
	memcpy(*blob, g->state, sizeof(g->state));
	*len = sizeof(g->state);
	return 0;
}

static int fg_load(void *o, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	if (len != sizeof(g->state)) {
		snprintf(err, errlen, "bad state");
		return -EINVAL;
	}
	memcpy(g->state, blob, len);
	return 0;
}

static const struct vmig_guest_ops fg_ops = {
	.ram_regions = fg_regions,
	.dirty_start = fg_dirty_start,
	.dirty_stop = fg_dirty_stop,
	.dirty_harvest = fg_harvest,
	.dirty_clear = fg_clear,
	.pause = fg_pause,
	.resume = fg_resume,
	.save_state = fg_save,
	.load_state = fg_load,
};

/* Writes random words into random pages while not paused, marking them
 * dirty under the lock as KVM would. */
static void *writer_thread(void *arg)
{
	struct fake_guest *g = arg;
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&g->lock);
		if (!g->paused) {
			for (int k = 0; k < 8; k++) {
				uint64_t p = (uint64_t)rand_r(&g->seed) % (g->hot ? g->hot : g->pages);
				uint64_t off = p * 4096 + ((uint64_t)rand_r(&g->seed) % 512) * 8;
				uint64_t v = ((uint64_t)rand_r(&g->seed) << 32) | (uint64_t)rand_r(&g->seed);
				memcpy(g->mem + off, &v, 8);
				if (g->tracking)
					g->dirty[p / 64] |= 1ull << (p % 64);
				g->writes++;
			}
		}
		pthread_mutex_unlock(&g->lock);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void fg_init(struct fake_guest *g, bool fill)
{
	memset(g, 0, sizeof(*g));
	g->pages = PAGES;
	g->mem = calloc(PAGES, 4096);
	g->dirty = calloc(PAGES / 64, 8);
	pthread_mutex_init(&g->lock, NULL);
	g->seed = 12345;
	if (fill) {
		for (uint64_t p = 0; p < PAGES; p++)
			if (p % 3) /* every third page stays zero */
				for (unsigned i = 0; i < 4096; i += 8) {
					uint64_t v = p * 1000003u + i;
					memcpy(g->mem + p * 4096 + i, &v, 8);
				}
		snprintf(g->state, sizeof(g->state), "cpu state of the test double");
	}
}

static void fg_free(struct fake_guest *g)
{
	free(g->mem);
	free(g->dirty);
	pthread_mutex_destroy(&g->lock);
}

struct dest_run {
	struct fake_guest *g;
	int lfd;
	int result;
	char err[512];
	struct vmig_incoming_stats st;
};

static void *dest_thread(void *arg)
{
	struct dest_run *d = arg;
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	d->result = vmig_incoming_accept(d->lfd, 10000, 3000, &in, &cfg, d->err, sizeof(d->err));
	if (d->result)
		return NULL;
	struct vmig_guest g = {&fg_ops, d->g};
	d->result = vmig_incoming_run(in, &g, &d->st, d->err, sizeof(d->err));
	vmig_incoming_free(in);
	return NULL;
}

static int listen_any(int *lfd, char *uri, size_t urilen)
{
	char err[256];
	for (int port = 23000 + (int)(getpid() % 1000); port < 30000; port += 7) {
		snprintf(uri, urilen, "tcp:127.0.0.1:%d", port);
		if (vmig_incoming_listen(uri, lfd, err, sizeof(err)) == 0)
			return 0;
	}
	return -1;
}

static void wait_final(struct vmig_migration *m, struct vmig_migrate_stats *st)
{
	for (int i = 0; i < 3000; i++) {
		vmig_migration_query(m, st);
		if (st->status == VMIG_MIG_COMPLETED || st->status == VMIG_MIG_FAILED ||
		    st->status == VMIG_MIG_CANCELLED)
			return;
		usleep(10000);
	}
}

static void busy_guest(struct ut_state *ut_, unsigned channels, const char *codec,
		       uint64_t xbzrle);

TEST(migrates_busy_guest_exactly)
{
	busy_guest(ut_, 0, NULL, 0);
}

TEST(migrates_busy_guest_over_three_channels)
{
	busy_guest(ut_, 3, NULL, 0);
}

TEST(migrates_with_each_codec)
{
	busy_guest(ut_, 0, "lz4", 0);
	busy_guest(ut_, 2, "zstd", 0);
	busy_guest(ut_, 2, "deflate", 0);
}

TEST(migrates_with_xbzrle_and_compression)
{
	busy_guest(ut_, 0, NULL, 4 << 20);
	busy_guest(ut_, 3, "lz4", 8 << 20);
}

static void busy_guest(struct ut_state *ut_, unsigned channels, const char *codec,
		       uint64_t xbzrle)
{
	struct fake_guest src, dst;
	struct dest_run d = {0};
	char uri[64], err[512];
	fg_init(&src, true);
	fg_init(&dst, false);
	if (xbzrle)
		src.hot = 2048; /* the same pages come back every pass: deltas */
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	d.g = &dst;
	pthread_t dt;
	pthread_create(&dt, NULL, dest_thread, &d);
	pthread_create(&src.writer, NULL, writer_thread, &src);

	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.uri = uri, .downtime_limit_ms = xbzrle ? 5 : 50, .channels = channels,
					.codec = codec, .xbzrle_cache_bytes = xbzrle, .compress_threads = 2};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	struct vmig_migrate_stats st;
	wait_final(m, &st);
	__atomic_store_n(&src.stop, true, __ATOMIC_RELEASE);
	pthread_join(src.writer, NULL);
	pthread_join(dt, NULL);
	vmig_migration_free(m);

	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK_EQ_INT(d.result, 0);
	CHECK(st.verified && d.st.verified);
	CHECK(src.writes > 0);
	CHECK(src.paused);   /* the source never runs again */
	CHECK(dst.resumed);  /* the destination runs */
	CHECK(memcmp(src.mem, dst.mem, (size_t)PAGES * 4096) == 0);
	CHECK_STR(dst.state, "cpu state of the test double");
	CHECK(st.pages_zero > 0 && st.pages_normal > 0);
	if (codec)
		CHECK(st.pages_compressed > 0 && st.bytes_after_compression < st.bytes_before_compression);
	if (xbzrle && !(st.pages_xbzrle > 0 && st.xbzrle_hits > 0))
		fprintf(stderr, "xbzrle: pages %llu hits %llu misses %llu iterations %llu normal %llu\n",
			(unsigned long long)st.pages_xbzrle, (unsigned long long)st.xbzrle_hits,
			(unsigned long long)st.xbzrle_misses, (unsigned long long)st.iterations,
			(unsigned long long)st.pages_normal);
	if (xbzrle)
		CHECK(st.pages_xbzrle > 0 && st.xbzrle_hits > 0);
	fg_free(&src);
	fg_free(&dst);
}

TEST(layout_mismatch_is_refused)
{
	/* The destination's guest has half the RAM: it must refuse in
	 * HELLO_ACK, and the source must report why and keep running. */
	struct fake_guest src, dst;
	struct dest_run d = {0};
	char uri[64], err[512];
	fg_init(&src, true);
	fg_init(&dst, false);
	dst.pages = PAGES / 2;
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	d.g = &dst;
	pthread_t dt;
	pthread_create(&dt, NULL, dest_thread, &d);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.uri = uri};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	struct vmig_migrate_stats st;
	wait_final(m, &st);
	pthread_join(dt, NULL);
	vmig_migration_free(m);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	CHECK(strstr(st.error, "RAM layout differs") != NULL);
	CHECK(d.result != 0);
	CHECK(!dst.resumed);
	CHECK(!src.paused);
	fg_free(&src);
	fg_free(&dst);
}

TEST(refused_destination_leaves_source_running)
{
	struct fake_guest src;
	char uri[64], err[512];
	int lfd;
	fg_init(&src, true);
	CHECK_EQ_INT(listen_any(&lfd, uri, sizeof(uri)), 0);
	close(lfd); /* nobody listens there now */
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.uri = uri};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	struct vmig_migrate_stats st;
	wait_final(m, &st);
	vmig_migration_free(m);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	CHECK(strstr(st.error, "cannot connect") != NULL);
	CHECK(!src.paused);
	CHECK(!src.tracking);
	fg_free(&src);
}

TEST(destination_vanishing_mid_stream_resumes_source)
{
	struct fake_guest src, dst;
	struct dest_run d = {0};
	char uri[64], err[512];
	fg_init(&src, true);
	fg_init(&dst, false);
	CHECK_EQ_INT(listen_any(&d.lfd, uri, sizeof(uri)), 0);
	struct vmig_guest g = {&fg_ops, &src};
	/* slow link so the destination can be cut mid-way */
	struct vmig_migrate_params p = {.uri = uri, .max_bandwidth = 4 << 20, .io_timeout_ms = 2000};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	CHECK_EQ_INT(vmig_incoming_accept(d.lfd, 5000, 3000, &in, &cfg, err, sizeof(err)), 0);
	usleep(300000);
	vmig_incoming_free(in); /* hang up without a word */
	struct vmig_migrate_stats st;
	wait_final(m, &st);
	vmig_migration_free(m);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	CHECK(!src.paused);
	CHECK(!src.tracking);
	fg_free(&src);
	fg_free(&dst);
}

TEST(cancel_ends_a_stuck_setup_promptly)
{
	struct fake_guest src;
	char uri[64], err[512];
	int lfd;
	fg_init(&src, true);
	CHECK_EQ_INT(listen_any(&lfd, uri, sizeof(uri)), 0);
	/* a listener that never accepts: the connect succeeds (backlog), the
	 * HELLO_ACK never comes; cancel must end it promptly */
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = {.uri = uri, .io_timeout_ms = 20000};
	struct vmig_migration *m;
	CHECK_EQ_INT(vmig_migration_start(&g, &p, &m, err, sizeof(err)), 0);
	usleep(200000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vmig_migration_cancel(m);
	struct vmig_migrate_stats st;
	wait_final(m, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	vmig_migration_free(m);
	CHECK_EQ_INT(st.status, VMIG_MIG_CANCELLED);
	CHECK(t1.tv_sec - t0.tv_sec < 3);
	CHECK(!src.paused);
	close(lfd);
	fg_free(&src);
}

RUN_TESTS("engine", UT(migrates_busy_guest_exactly), UT(migrates_busy_guest_over_three_channels),
	  UT(migrates_with_each_codec), UT(migrates_with_xbzrle_and_compression), UT(layout_mismatch_is_refused),
	  UT(refused_destination_leaves_source_running),
	  UT(destination_vanishing_mid_stream_resumes_source), UT(cancel_ends_a_stuck_setup_promptly))

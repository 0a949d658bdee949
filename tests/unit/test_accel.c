/* SPDX-License-Identifier: MIT */
/*
 * The offload engine: CPU backend round trips with many jobs in flight,
 * -EAGAIN when full, poll timeouts, corrupt input, statistics, per-caller
 * completion queues; the QAT backend against the real Intel QATzip in
 * software mode (sw_backup=1; VMIG_TEST_REAL_QATZIP names the library,
 * which `make test` builds from ../shared/vendor; the cases skip loudly
 * without it), and against the QATzip TEST DOUBLE (tests/qat_standin, found
 * through VMIG_TEST_QATZIP or next to this binary) for what the real one
 * cannot show: what vmig asked of QATzip (its call counts) and a host with
 * no device on a machine that has one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accel/accel.h"
#include "codec/codec.h"
#include "fake_guest.h"
#include "../qat_standin/qatzip_standin.h"
#include "unittest.h"

#define QZ_DEFLATE_RAW 3 /* QATzip's QzDataFormat_T value */

/* ---- helpers ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Page-like data: zero pages, text-ish runs, counters and noise. */
static void fill(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t off = 0; off < len; off += 4096) {
		size_t n = len - off < 4096 ? len - off : 4096;
		switch (rng_next(&s) % 4) {
		case 0: memset(p + off, 0, n); break;
		case 1:
			for (size_t i = 0; i < n; i++)
				p[off + i] = (uint8_t)("vmig migrates memory pages "[i % 27]);
			break;
		case 2:
			for (size_t i = 0; i < n; i++)
				p[off + i] = (uint8_t)((i / 8) ^ seed);
			break;
		default:
			for (size_t i = 0; i < n; i++)
				p[off + i] = (uint8_t)rng_next(&s);
			break;
		}
	}
}

static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rng_next(&s);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One test job: the data, its compressed form, and the way back. */
struct tjob {
	struct accel_job j;
	uint8_t *orig, *comp, *back;
	size_t len, comp_cap, comp_len;
	int seen;
	int owner;
};

static void tjob_init(struct tjob *t, enum codec_id codec, int level, size_t len, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->len = len;
	t->orig = malloc(len ? len : 1);
	t->comp_cap = codec_bound(codec, len) + 64;
	t->comp = malloc(t->comp_cap);
	t->back = malloc(len ? len : 1);
	fill(t->orig, len, seed);
	t->j.codec = codec;
	t->j.level = level;
	t->j.user = t;
}

static void tjob_free(struct tjob *t)
{
	free(t->orig);
	free(t->comp);
	free(t->back);
}

static void set_compress(struct tjob *t)
{
	t->j.op = ACCEL_COMPRESS;
	t->j.src = t->orig;
	t->j.src_len = t->len;
	t->j.dst = t->comp;
	t->j.dst_cap = t->comp_cap;
	t->j.expected_len = 0;
	t->seen = 0;
}

static void set_decompress(struct tjob *t)
{
	t->j.op = ACCEL_DECOMPRESS;
	t->j.src = t->comp;
	t->j.src_len = t->comp_len;
	t->j.dst = t->back;
	t->j.dst_cap = t->len;
	t->j.expected_len = t->len;
	t->seen = 0;
}

/*
 * Submits every job (to q; NULL: the default queue), polling whenever the
 * engine is full, until all came back. Returns 0, or -1 if a job came back
 * twice or a call failed. *max_in_flight: the most submitted-not-polled.
 */
static int run_all(struct accel *a, struct accel_queue *q, struct tjob *t, size_t n,
		   unsigned *max_in_flight)
{
	size_t next = 0, back = 0;
	unsigned in_flight = 0, peak = 0;
	struct accel_job *done[16];

	while (back < n) {
		while (next < n) {
			int rc = accel_submit_to(a, q, &t[next].j);
			if (rc == -EAGAIN)
				break;
			if (rc != 0)
				return -1;
			next++;
			if (++in_flight > peak)
				peak = in_flight;
		}
		int got = q ? accel_poll_queue(q, done, 16, in_flight ? -1 : 1)
			    : accel_poll(a, done, 16, in_flight ? -1 : 1);
		if (got < 0)
			return -1;
		for (int i = 0; i < got; i++) {
			struct tjob *tj = done[i]->user;
			if (tj->seen++)
				return -1;
			if (tj->j.op == ACCEL_COMPRESS && tj->j.status == 0)
				tj->comp_len = tj->j.dst_len;
		}
		back += (size_t)got;
		in_flight -= (unsigned)got;
	}
	if (max_in_flight)
		*max_in_flight = peak;
	return 0;
}

/*
 * Compresses each job's data with the CPU codec (ISA-L deflate, levels
 * 0-3 in turn), then has the engine decode them all: each must come back
 * whole and exact. A CHECK here fails the calling test.
 */
static void cpu_deflate_then_engine_inflates(struct ut_state *ut_, struct accel *a,
					     struct codec_ctx *ctx, struct tjob *t, int n_jobs)
{
	for (int i = 0; i < n_jobs; i++) {
		size_t n = 0;
		CHECK_EQ_INT(codec_compress(ctx, CODEC_DEFLATE, i % 4, t[i].orig, t[i].len,
					    t[i].comp, t[i].comp_cap, &n),
			     0);
		t[i].comp_len = n;
		set_decompress(&t[i]);
		memset(t[i].back, 0x66, t[i].len);
	}
	CHECK_EQ_INT(run_all(a, NULL, t, (size_t)n_jobs, NULL), 0);
	for (int i = 0; i < n_jobs; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		CHECK_EQ_INT(t[i].j.dst_len, t[i].len);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
}


static struct accel *open_cpu(unsigned threads, unsigned depth)
{
	struct accel_config cfg = {.kind = ACCEL_CPU, .threads = threads, .queue_depth = depth};
	struct accel *a = NULL;
	char err[256];
	if (accel_open(&cfg, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "accel_open: %s\n", err);
		return NULL;
	}
	return a;
}

/* ---- CPU backend ---- */

TEST(cpu_roundtrip_many_in_flight)
{
	enum { N = 240 };
	static const enum codec_id codecs[] = {CODEC_NONE, CODEC_LZ4, CODEC_ZSTD, CODEC_DEFLATE};
	struct tjob *t = calloc(N, sizeof(*t));
	struct accel *a = open_cpu(4, 32);
	CHECK(a && t);
	CHECK(strcmp(accel_describe(a), "cpu (4 threads)") == 0);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_CPU);

	for (int i = 0; i < N; i++) {
		enum codec_id c = codecs[i % 4];
		int lo, hi, def;
		codec_levels(c, &lo, &hi, &def);
		int level = lo + (i / 4) % (hi - lo + 1);
		if (c == CODEC_ZSTD && level > 9)
			level = def; /* keep the test quick */
		tjob_init(&t[i], c, level, 4096 * (size_t)(1 + i % 16), (uint64_t)i);
		set_compress(&t[i]);
	}
	unsigned peak = 0;
	CHECK_EQ_INT(run_all(a, NULL, t, N, &peak), 0);
	CHECK_EQ_INT(peak, 32); /* the queue filled up */
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		CHECK(t[i].comp_len > 0 && t[i].comp_len <= t[i].comp_cap);
		set_decompress(&t[i]);
	}
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		CHECK_EQ_INT(t[i].j.dst_len, t[i].len);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
	/* What the engine made is what the codec reads. */
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(ctx);
	for (int i = 0; i < 8; i++) {
		memset(t[i].back, 0xAA, t[i].len);
		CHECK_EQ_INT(codec_decompress(ctx, t[i].j.codec, t[i].comp, t[i].comp_len,
					      t[i].back, t[i].len, t[i].len),
			     0);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
	codec_ctx_free(ctx);
	accel_close(a);
	for (int i = 0; i < N; i++)
		tjob_free(&t[i]);
	free(t);
}

TEST(cpu_eagain_when_full)
{
	enum { DEPTH = 4 };
	struct tjob t[DEPTH + 1];
	struct accel *a = open_cpu(1, DEPTH);
	CHECK(a);
	for (int i = 0; i <= DEPTH; i++) {
		tjob_init(&t[i], CODEC_LZ4, 1, 65536, (uint64_t)i);
		set_compress(&t[i]);
	}
	for (int i = 0; i < DEPTH; i++)
		CHECK_EQ_INT(accel_submit(a, &t[i].j), 0);
	/* Done or not, a job holds its place until it is polled. */
	CHECK_EQ_INT(accel_submit(a, &t[DEPTH].j), -EAGAIN);
	usleep(20000);
	CHECK_EQ_INT(accel_submit(a, &t[DEPTH].j), -EAGAIN);

	struct accel_job *done[DEPTH];
	int got = 0;
	while (got < 1) {
		int rc = accel_poll(a, done, 1, -1);
		CHECK(rc >= 0);
		got += rc;
	}
	CHECK_EQ_INT(accel_submit(a, &t[DEPTH].j), 0);
	int total = got;
	while (total < DEPTH + 1) {
		int rc = accel_poll(a, done, DEPTH, 1000);
		CHECK(rc > 0);
		for (int i = 0; i < rc; i++)
			CHECK_EQ_INT(done[i]->status, 0);
		total += rc;
	}
	CHECK_EQ_INT(accel_poll(a, done, DEPTH, 0), 0);
	accel_close(a);
	for (int i = 0; i <= DEPTH; i++)
		tjob_free(&t[i]);
}

TEST(cpu_poll_timeouts)
{
	struct accel *a = open_cpu(2, 8);
	struct accel_job *done[4];
	CHECK(a);

	long long t0 = now_ms();
	CHECK_EQ_INT(accel_poll(a, done, 4, 0), 0);
	CHECK(now_ms() - t0 < 50);

	t0 = now_ms();
	CHECK_EQ_INT(accel_poll(a, done, 4, 120), 0);
	long long waited = now_ms() - t0;
	CHECK(waited >= 110 && waited < 2000);

	/* Nothing in flight: no timeout returns at once instead of hanging. */
	t0 = now_ms();
	CHECK_EQ_INT(accel_poll(a, done, 4, -1), 0);
	CHECK(now_ms() - t0 < 50);

	CHECK_EQ_INT(accel_poll(a, NULL, 4, 0), -EINVAL);
	CHECK_EQ_INT(accel_poll(a, done, 0, 0), 0);

	/* One job: a waiting poll returns it. */
	struct tjob t;
	tjob_init(&t, CODEC_ZSTD, 3, 1 << 20, 7);
	set_compress(&t);
	CHECK_EQ_INT(accel_submit(a, &t.j), 0);
	CHECK_EQ_INT(accel_poll(a, done, 4, -1), 1);
	CHECK(done[0] == &t.j);
	CHECK_EQ_INT(t.j.status, 0);

	/* Bad jobs are refused at submit. */
	struct accel_job bad = t.j;
	bad.codec = (enum codec_id)99;
	CHECK_EQ_INT(accel_submit(a, &bad), -EINVAL);
	bad = t.j;
	bad.op = (enum accel_op)7;
	CHECK_EQ_INT(accel_submit(a, &bad), -EINVAL);
	CHECK_EQ_INT(accel_submit(a, NULL), -EINVAL);

	accel_close(a);
	tjob_free(&t);
}

TEST(cpu_corrupt_input_ebadmsg)
{
	static const enum codec_id codecs[] = {CODEC_LZ4, CODEC_ZSTD, CODEC_DEFLATE};
	enum { PER = 3, N = 3 * PER };
	struct tjob t[N];
	struct accel *a = open_cpu(3, 16);
	CHECK(a);
	for (int c = 0; c < 3; c++) {
		int def;
		codec_levels(codecs[c], NULL, NULL, &def);
		for (int k = 0; k < PER; k++) {
			tjob_init(&t[c * PER + k], codecs[c], def, 64 * 1024, (uint64_t)(c * 10 + k));
			set_compress(&t[c * PER + k]);
		}
	}
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		set_decompress(&t[i]);
		switch (i % PER) {
		case 0: /* cut short */
			t[i].j.src_len = t[i].comp_len / 2;
			break;
		case 1: /* the sender lied about the size */
			t[i].j.expected_len = t[i].len - 1;
			break;
		default: /* garbage */
			fill_random(t[i].comp, t[i].comp_len, (uint64_t)i + 99);
			break;
		}
	}
	struct accel_stats before, after;
	accel_get_stats(a, &before);
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	for (int i = 0; i < N; i++) {
		if (t[i].j.status != -EBADMSG)
			fprintf(stderr, "job %d (%s, case %d): status %d\n", i,
				codec_name(t[i].j.codec), i % PER, t[i].j.status);
		CHECK_EQ_INT(t[i].j.status, -EBADMSG);
		CHECK_EQ_INT(t[i].j.dst_len, 0);
	}
	accel_get_stats(a, &after);
	CHECK_EQ_INT(after.failed - before.failed, N);
	CHECK_EQ_INT(after.jobs - before.jobs, N);
	accel_close(a);
	for (int i = 0; i < N; i++)
		tjob_free(&t[i]);
}

TEST(cpu_stats_time_and_bytes)
{
	enum { N = 12 };
	struct tjob t[N];
	struct accel *a = open_cpu(2, 8);
	CHECK(a);
	struct accel_stats s;
	accel_get_stats(a, &s);
	CHECK(s.jobs == 0 && s.bytes_in == 0 && s.compress_ns == 0);

	uint64_t in = 0, out = 0;
	for (int i = 0; i < N; i++) {
		tjob_init(&t[i], i % 2 ? CODEC_ZSTD : CODEC_DEFLATE, i % 2 ? 3 : 2, 256 * 1024,
			  (uint64_t)i);
		set_compress(&t[i]);
		in += t[i].len;
	}
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		out += t[i].comp_len;
	}
	accel_get_stats(a, &s);
	CHECK_EQ_INT(s.jobs, N);
	CHECK_EQ_INT(s.failed, 0);
	CHECK_EQ_INT(s.bytes_in, in);
	CHECK_EQ_INT(s.bytes_out, out);
	CHECK(s.compress_ns > 0);
	CHECK_EQ_INT(s.decompress_ns, 0);

	for (int i = 0; i < N; i++)
		set_decompress(&t[i]);
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	accel_get_stats(a, &s);
	CHECK_EQ_INT(s.jobs, 2 * N);
	CHECK_EQ_INT(s.bytes_in, in + out);
	CHECK_EQ_INT(s.bytes_out, out + in);
	CHECK(s.decompress_ns > 0);
	accel_close(a);
	for (int i = 0; i < N; i++)
		tjob_free(&t[i]);
}

/* Two channel threads, each with its own completion queue, and a third on
 * the default queue, sharing one engine with few slots. */
struct chan_arg {
	struct accel *a;
	int id;
	int use_default;
	int ok;
	char why[128];
};

static void *chan_main(void *p)
{
	enum { N = 150 };
	struct chan_arg *arg = p;
	struct accel_queue *q = NULL;
	struct tjob *t = calloc(N, sizeof(*t));
	struct accel_job *done[8];
	static const enum codec_id codecs[] = {CODEC_LZ4, CODEC_ZSTD, CODEC_DEFLATE};

	if (!t || (!arg->use_default && accel_queue_new(arg->a, &q) != 0)) {
		snprintf(arg->why, sizeof(arg->why), "setup");
		goto out;
	}
	for (int i = 0; i < N; i++) {
		tjob_init(&t[i], codecs[i % 3], 1, 4096 * (size_t)(1 + i % 8),
			  (uint64_t)(arg->id * 1000 + i));
		t[i].owner = arg->id;
	}
	for (int phase = 0; phase < 2; phase++) {
		size_t next = 0, back = 0;
		for (int i = 0; i < N; i++)
			phase ? set_decompress(&t[i]) : set_compress(&t[i]);
		while (back < N) {
			while (next < N) {
				int rc = accel_submit_to(arg->a, q, &t[next].j);
				if (rc == -EAGAIN)
					break;
				if (rc != 0) {
					snprintf(arg->why, sizeof(arg->why), "submit %d", rc);
					goto out;
				}
				next++;
			}
			/* Slots may all be held by the other threads: wait a little. */
			int got = q ? accel_poll_queue(q, done, 8, 2) : accel_poll(arg->a, done, 8, 2);
			if (got < 0) {
				snprintf(arg->why, sizeof(arg->why), "poll %d", got);
				goto out;
			}
			for (int i = 0; i < got; i++) {
				struct tjob *tj = done[i]->user;
				if (tj->owner != arg->id || tj->seen++ || tj->j.status != 0) {
					snprintf(arg->why, sizeof(arg->why),
						 "job of %d came to %d (seen %d, status %d)", tj->owner,
						 arg->id, tj->seen, tj->j.status);
					goto out;
				}
				if (!phase)
					tj->comp_len = tj->j.dst_len;
			}
			back += (size_t)got;
		}
		if (q && accel_queue_in_flight(q) != 0) {
			snprintf(arg->why, sizeof(arg->why), "in flight after all came back");
			goto out;
		}
	}
	for (int i = 0; i < N; i++) {
		if (memcmp(t[i].orig, t[i].back, t[i].len) != 0) {
			snprintf(arg->why, sizeof(arg->why), "job %d: data differs", i);
			goto out;
		}
	}
	arg->ok = 1;
out:
	accel_queue_free(q);
	if (t) {
		for (int i = 0; i < N; i++)
			tjob_free(&t[i]);
		free(t);
	}
	return NULL;
}

TEST(cpu_per_caller_queues_threads)
{
	/*
	 * With two channel threads and one on the default queue, a job could
	 * only reach the wrong thread through the default queue if two threads
	 * shared it; here each job must come back to its own submitter.
	 */
	struct accel *a = open_cpu(3, 12);
	CHECK(a);
	struct chan_arg args[3] = {{a, 1, 0, 0, ""}, {a, 2, 0, 0, ""}, {a, 3, 1, 0, ""}};
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, chan_main, &args[i]), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++) {
		if (!args[i].ok)
			fprintf(stderr, "channel %d: %s\n", args[i].id, args[i].why);
		CHECK(args[i].ok);
	}
	struct accel_stats s;
	accel_get_stats(a, &s);
	CHECK_EQ_INT(s.jobs, 3 * 2 * 150);
	CHECK_EQ_INT(s.failed, 0);
	accel_close(a);
}

TEST(cpu_queue_free_and_close_with_jobs_in_flight)
{
	enum { N = 40 };
	struct tjob t[N];
	struct accel *a = open_cpu(2, 64);
	struct accel_queue *q = NULL;
	CHECK(a);
	CHECK_EQ_INT(accel_queue_new(a, &q), 0);
	for (int i = 0; i < N; i++) {
		tjob_init(&t[i], CODEC_ZSTD, 5, 128 * 1024, (uint64_t)i);
		set_compress(&t[i]);
	}
	/* A queue belongs to its engine. */
	struct accel *b = open_cpu(1, 4);
	struct accel_queue *qb = NULL;
	CHECK(b);
	CHECK_EQ_INT(accel_queue_new(b, &qb), 0);
	CHECK_EQ_INT(accel_submit_to(a, qb, &t[0].j), -EINVAL);
	accel_queue_free(qb);
	accel_close(b);
	/* A queue freed with jobs in flight: those running finish, the rest
	 * are dropped, and the slots come back. */
	for (int i = 0; i < N / 2; i++)
		CHECK_EQ_INT(accel_submit_to(a, q, &t[i].j), 0);
	CHECK_EQ_INT(accel_queue_in_flight(q), N / 2);
	accel_queue_free(q);
	for (int i = 0; i < N / 2; i++)
		CHECK(t[i].j.status == 0 || t[i].j.status == -ECANCELED);

	/* Closing with jobs in flight: every one is finished first. */
	for (int i = N / 2; i < N; i++)
		CHECK_EQ_INT(accel_submit(a, &t[i].j), 0);
	accel_close(a);
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(ctx);
	for (int i = N / 2; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		CHECK_EQ_INT(codec_decompress(ctx, CODEC_ZSTD, t[i].comp, t[i].j.dst_len, t[i].back,
					      t[i].len, t[i].len),
			     0);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
	codec_ctx_free(ctx);
	for (int i = 0; i < N; i++)
		tjob_free(&t[i]);
}

TEST(open_config_checks)
{
	struct accel *a = NULL;
	char err[256];
	struct accel_config cfg = {.kind = ACCEL_CPU, .threads = 65};
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "at most 64"));
	cfg.threads = 0;
	cfg.kind = (enum accel_kind)9;
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(accel_open(NULL, &a, err, sizeof(err)), -EINVAL);

	cfg.kind = ACCEL_CPU;
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), 0);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char want[64];
	snprintf(want, sizeof(want), "cpu (%ld %s)", ncpu > 64 ? 64 : ncpu,
		 ncpu == 1 ? "thread" : "threads");
	CHECK_STR(accel_describe(a), want);
	accel_close(a);

	enum accel_kind k;
	CHECK_EQ_INT(accel_kind_parse("qat", &k), 0);
	CHECK_EQ_INT(k, ACCEL_QAT);
	CHECK_EQ_INT(accel_kind_parse("auto", &k), 0);
	CHECK_EQ_INT(k, ACCEL_AUTO);
	CHECK_EQ_INT(accel_kind_parse("gpu", &k), -EINVAL);
	CHECK_STR(accel_kind_name(ACCEL_CPU), "cpu");
}

/* ---- QAT backend, through the QATzip TEST DOUBLE ---- */

struct standin {
	void *dl;
	char path[PATH_MAX];
	void (*get_counts)(struct vmig_qat_standin_counts *);
	void (*reset_counts)(void);
	void (*set_nodev)(int);
};

static int standin_open(struct standin *s)
{
	const char *env = getenv("VMIG_TEST_QATZIP");
	memset(s, 0, sizeof(*s));
	if (env && env[0]) {
		snprintf(s->path, sizeof(s->path), "%s", env);
	} else {
		char exe[PATH_MAX];
		if (test_binary_dir(exe, sizeof(exe)))
			return -1;
		snprintf(s->path, sizeof(s->path), "%s/qat_standin/libqatzip.so.3", exe);
		if (access(s->path, R_OK) != 0)
			snprintf(s->path, sizeof(s->path), "%s/libqatzip.so.3", exe);
	}
	s->dl = dlopen(s->path, RTLD_NOW | RTLD_LOCAL);
	if (!s->dl) {
		fprintf(stderr, "QATzip TEST DOUBLE not found (%s): set VMIG_TEST_QATZIP\n",
			dlerror());
		return -1;
	}
	void *p;
	p = dlsym(s->dl, "vmig_qat_standin_get_counts");
	memcpy(&s->get_counts, &p, sizeof(p));
	p = dlsym(s->dl, "vmig_qat_standin_reset_counts");
	memcpy(&s->reset_counts, &p, sizeof(p));
	p = dlsym(s->dl, "vmig_qat_standin_set_nodev");
	memcpy(&s->set_nodev, &p, sizeof(p));
	if (!s->get_counts || !s->reset_counts || !s->set_nodev) {
		dlclose(s->dl);
		return -1;
	}
	s->reset_counts();
	s->set_nodev(0);
	return 0;
}

static void standin_close(struct standin *s)
{
	if (s->dl) {
		s->set_nodev(0);
		dlclose(s->dl);
	}
}

static struct accel *open_qat(enum accel_kind kind, const char *path, unsigned threads,
			      unsigned depth, char *err, size_t errlen, int *rc)
{
	struct accel_config cfg = {
		.kind = kind, .threads = threads, .queue_depth = depth, .qatzip_path = path};
	struct accel *a = NULL;
	*rc = accel_open(&cfg, &a, err, errlen);
	return *rc == 0 ? a : NULL;
}

/* The QAT backend on the QATzip TEST DOUBLE: 4 workers (a session each),
 * QAT_DOUBLE_DEPTH jobs deep. */
#define QAT_DOUBLE_DEPTH 24
struct qat_double {
	struct standin sd;
	struct accel *a;
};

static int qat_double_open(struct qat_double *q)
{
	char err[512];
	int rc;
	if (standin_open(&q->sd) != 0)
		return -1;
	q->a = open_qat(ACCEL_QAT, q->sd.path, 4, QAT_DOUBLE_DEPTH, err, sizeof(err), &rc);
	if (!q->a) {
		fprintf(stderr, "open: %s\n", err);
		standin_close(&q->sd);
		return -1;
	}
	return 0;
}

static void qat_double_close(struct qat_double *q)
{
	accel_close(q->a);
	standin_close(&q->sd);
}

/* n deflate jobs (level 1) of 1 to 16 pages each. */
static struct tjob *deflate_jobs(int n)
{
	struct tjob *t = calloc((size_t)n, sizeof(*t));
	for (int i = 0; t && i < n; i++)
		tjob_init(&t[i], CODEC_DEFLATE, 1, 4096 * (size_t)(1 + i % 16), (uint64_t)i + 500);
	return t;
}

static void free_jobs(struct tjob *t, int n)
{
	for (int i = 0; i < n; i++)
		tjob_free(&t[i]);
	free(t);
}

/* The engine compresses every job: each must come back, and ISA-L (the CPU
 * codec) must decode it exactly. *peak: the most jobs in flight. */
static void engine_deflates_then_cpu_inflates(struct ut_state *ut_, struct accel *a,
					      struct codec_ctx *ctx, struct tjob *t, int n_jobs,
					      unsigned *peak)
{
	for (int i = 0; i < n_jobs; i++)
		set_compress(&t[i]);
	CHECK_EQ_INT(run_all(a, NULL, t, (size_t)n_jobs, peak), 0);
	for (int i = 0; i < n_jobs; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		memset(t[i].back, 0x55, t[i].len);
		CHECK_EQ_INT(codec_decompress(ctx, CODEC_DEFLATE, t[i].comp, t[i].comp_len,
					      t[i].back, t[i].len, t[i].len),
			     0);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
}

TEST(qat_double_describes_itself)
{
	struct qat_double q;
	CHECK_EQ_INT(qat_double_open(&q), 0);
	CHECK_EQ_INT(accel_kind_in_use(q.a), ACCEL_QAT);
	CHECK(strncmp(accel_describe(q.a), "qat (", 5) == 0);
	CHECK(strstr(accel_describe(q.a), "TEST DOUBLE"));
	CHECK(strstr(accel_describe(q.a), "4 sessions"));
	qat_double_close(&q);
}

TEST(qat_opens_a_raw_deflate_session_per_worker)
{
	struct qat_double q;
	struct vmig_qat_standin_counts c;
	CHECK_EQ_INT(qat_double_open(&q), 0);
	q.sd.get_counts(&c);
	CHECK_EQ_INT(c.init_ok, 4);
	CHECK_EQ_INT(c.setup, 4); /* one session per worker, default level */
	CHECK_EQ_INT(c.last_data_fmt, QZ_DEFLATE_RAW);
	CHECK_EQ_INT(c.last_sw_backup, 0);
	qat_double_close(&q);
}

/* QAT compresses a queue kept full; ISA-L decodes. */
TEST(qat_compresses_a_full_queue_for_isal_to_decode)
{
	enum { N = 96 };
	struct qat_double q;
	struct vmig_qat_standin_counts c;
	struct tjob *t = deflate_jobs(N);
	struct codec_ctx *ctx = codec_ctx_new();
	unsigned peak = 0;
	CHECK(t && ctx);
	CHECK_EQ_INT(qat_double_open(&q), 0);
	engine_deflates_then_cpu_inflates(ut_, q.a, ctx, t, N, &peak);
	if (ut_->failed_here)
		return;
	CHECK_EQ_INT(peak, QAT_DOUBLE_DEPTH);
	q.sd.get_counts(&c);
	CHECK_EQ_INT(c.compress, N);
	qat_double_close(&q);
	codec_ctx_free(ctx);
	free_jobs(t, N);
}

/* ISA-L compresses; QAT decodes. */
TEST(qat_decodes_what_isal_compresses)
{
	enum { N = 96 };
	struct qat_double q;
	struct vmig_qat_standin_counts c;
	struct tjob *t = deflate_jobs(N);
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(t && ctx);
	CHECK_EQ_INT(qat_double_open(&q), 0);
	cpu_deflate_then_engine_inflates(ut_, q.a, ctx, t, N);
	if (ut_->failed_here)
		return;
	q.sd.get_counts(&c);
	CHECK_EQ_INT(c.decompress, N);
	qat_double_close(&q);
	codec_ctx_free(ctx);
	free_jobs(t, N);
}

TEST(qat_stats_count_jobs_and_time_both_ways)
{
	enum { N = 8 };
	struct qat_double q;
	struct accel_stats s;
	struct tjob *t = deflate_jobs(N);
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(t && ctx);
	CHECK_EQ_INT(qat_double_open(&q), 0);
	engine_deflates_then_cpu_inflates(ut_, q.a, ctx, t, N, NULL);
	if (ut_->failed_here)
		return;
	cpu_deflate_then_engine_inflates(ut_, q.a, ctx, t, N);
	if (ut_->failed_here)
		return;
	accel_get_stats(q.a, &s);
	CHECK_EQ_INT(s.jobs, 2 * N);
	CHECK_EQ_INT(s.failed, 0);
	CHECK(s.compress_ns > 0 && s.decompress_ns > 0);
	qat_double_close(&q);
	codec_ctx_free(ctx);
	free_jobs(t, N);
}

/* QAT does deflate only (auto sends the rest to the CPU: qat_auto_other_codecs_on_cpu). */
TEST(qat_refuses_other_codecs)
{
	struct qat_double q;
	struct tjob lz;
	CHECK_EQ_INT(qat_double_open(&q), 0);
	tjob_init(&lz, CODEC_LZ4, 1, 8192, 3);
	set_compress(&lz);
	CHECK_EQ_INT(accel_submit(q.a, &lz.j), -ENOTSUP);
	tjob_free(&lz);
	qat_double_close(&q);
}

TEST(qat_close_ends_every_session)
{
	struct qat_double q;
	struct vmig_qat_standin_counts c;
	CHECK_EQ_INT(qat_double_open(&q), 0);
	accel_close(q.a);
	q.sd.get_counts(&c);
	CHECK_EQ_INT(c.sessions_live, 0);
	CHECK_EQ_INT(c.close, c.init_ok);
	standin_close(&q.sd);
}

/* --qat-fallback qatzip: sessions allow QATzip's software path. */
TEST(qat_fallback_qatzip_allows_its_software_path)
{
	struct standin sd;
	struct vmig_qat_standin_counts c;
	struct accel *a = NULL;
	char err[512];
	CHECK_EQ_INT(standin_open(&sd), 0);
	struct accel_config cfg = {.kind = ACCEL_QAT,
				   .threads = 1,
				   .qatzip_path = sd.path,
				   .qat_fallback = ACCEL_QAT_FALLBACK_QATZIP};
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), 0);
	sd.get_counts(&c);
	CHECK_EQ_INT(c.last_sw_backup, 1);
	accel_close(a);
	standin_close(&sd);
}

TEST(qat_auto_other_codecs_on_cpu)
{
	struct standin sd;
	char err[512];
	int rc;
	CHECK_EQ_INT(standin_open(&sd), 0);
	struct accel *a = open_qat(ACCEL_AUTO, sd.path, 2, 16, err, sizeof(err), &rc);
	CHECK(a);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_QAT);
	CHECK(strstr(accel_describe(a), "other codecs on cpu, 2 threads"));

	struct tjob t[2];
	tjob_init(&t[0], CODEC_LZ4, 1, 32768, 1);
	tjob_init(&t[1], CODEC_DEFLATE, 1, 32768, 2);
	set_compress(&t[0]);
	set_compress(&t[1]);
	CHECK_EQ_INT(run_all(a, NULL, t, 2, NULL), 0);
	CHECK_EQ_INT(t[0].j.status, 0);
	CHECK_EQ_INT(t[1].j.status, 0);
	struct vmig_qat_standin_counts c;
	sd.get_counts(&c);
	CHECK_EQ_INT(c.compress, 1); /* only the deflate job went to QATzip */
	set_decompress(&t[0]);
	set_decompress(&t[1]);
	CHECK_EQ_INT(run_all(a, NULL, t, 2, NULL), 0);
	CHECK_EQ_INT(t[0].j.status, 0);
	CHECK_EQ_INT(t[1].j.status, 0);
	CHECK(memcmp(t[0].orig, t[0].back, t[0].len) == 0);
	CHECK(memcmp(t[1].orig, t[1].back, t[1].len) == 0);
	sd.get_counts(&c);
	CHECK_EQ_INT(c.decompress, 1);
	accel_close(a);
	tjob_free(&t[0]);
	tjob_free(&t[1]);
	standin_close(&sd);
}

TEST(qat_missing_library)
{
	char err[512] = "";
	int rc;
	struct accel *a =
		open_qat(ACCEL_QAT, "/nonexistent/libqatzip.so.3", 2, 8, err, sizeof(err), &rc);
	CHECK(!a);
	CHECK(rc < 0);
	CHECK(strstr(err, "QAT: cannot load /nonexistent/libqatzip.so.3: "));
	CHECK(strstr(err, "(QATzip is not in Debian; install it from Intel)"));

	a = open_qat(ACCEL_AUTO, "/nonexistent/libqatzip.so.3", 2, 8, err, sizeof(err), &rc);
	CHECK(a);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_CPU);
	CHECK(strncmp(accel_describe(a), "cpu (2 threads; QAT unavailable: QAT: cannot load", 49) ==
	      0);
	struct tjob t;
	tjob_init(&t, CODEC_DEFLATE, 1, 16384, 9);
	set_compress(&t);
	CHECK_EQ_INT(run_all(a, NULL, &t, 1, NULL), 0);
	CHECK_EQ_INT(t.j.status, 0);
	accel_close(a);
	tjob_free(&t);

	/* The default name: no QATzip is installed on test machines. */
	a = open_qat(ACCEL_AUTO, NULL, 1, 8, err, sizeof(err), &rc);
	CHECK(a);
	if (accel_kind_in_use(a) == ACCEL_CPU)
		CHECK(strstr(accel_describe(a), "cannot load libqatzip.so.3"));
	accel_close(a);
}

TEST(qat_double_no_device)
{
	struct standin sd;
	char err[512] = "";
	int rc;
	CHECK_EQ_INT(standin_open(&sd), 0);

	for (int how = 0; how < 2; how++) {
		if (how == 0)
			sd.set_nodev(1);
		else
			setenv("VMIG_QAT_STANDIN_NODEV", "1", 1);
		struct accel *a = open_qat(ACCEL_QAT, sd.path, 3, 8, err, sizeof(err), &rc);
		CHECK(!a);
		CHECK_EQ_INT(rc, -ENODEV);
		CHECK(strstr(err, "QAT: qzInit: QZ_NOSW_NO_HW (-101): no QAT device found"));

		a = open_qat(ACCEL_AUTO, sd.path, 3, 8, err, sizeof(err), &rc);
		CHECK(a);
		CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_CPU);
		CHECK(strstr(accel_describe(a), "cpu (3 threads; QAT unavailable: QAT: qzInit: "
						"QZ_NOSW_NO_HW (-101): no QAT device found"));
		accel_close(a);
		sd.set_nodev(0);
		unsetenv("VMIG_QAT_STANDIN_NODEV");
	}
	struct vmig_qat_standin_counts c;
	sd.get_counts(&c);
	CHECK_EQ_INT(c.init_ok, 0);
	CHECK_EQ_INT(c.sessions_live, 0);
	CHECK(c.init >= 4);

	/* The operator's fallbacks on that host: vmig's CPU, or QATzip's software. */
	sd.set_nodev(1);
	struct accel_config cfg = {.kind = ACCEL_QAT, .threads = 2, .qatzip_path = sd.path,
				   .qat_fallback = ACCEL_QAT_FALLBACK_CPU};
	struct accel *a = NULL;
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_CPU);
	CHECK(strstr(accel_describe(a), "cpu (2 threads; QAT unavailable: QAT: qzInit: "
					"QZ_NOSW_NO_HW (-101)"));
	accel_close(a);
	cfg.qat_fallback = ACCEL_QAT_FALLBACK_QATZIP;
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_QAT);
	CHECK(strstr(accel_describe(a), "in software: no QAT device, sw_backup=1, 2 sessions"));
	accel_close(a);
	sd.set_nodev(0);
	standin_close(&sd);
}

/* ---- QAT backend against the real Intel QATzip, in software mode ---- */

/*
 * The real library, or NULL and why not. `make test` builds QATzip 1.3.1
 * from ../shared/vendor and names it in VMIG_TEST_REAL_QATZIP.
 */
static const char *real_qatzip(char *why, size_t whylen)
{
	const char *p = getenv("VMIG_TEST_REAL_QATZIP");
	if (!p || !p[0]) {
		snprintf(why, whylen,
			 "THE REAL QATzip IS NOT HERE (VMIG_TEST_REAL_QATZIP unset): `make test` "
			 "builds it from ../shared/vendor when that folder exists");
		return NULL;
	}
	if (access(p, R_OK) != 0) {
		snprintf(why, whylen, "THE REAL QATzip IS NOT HERE: %s: %s", p, strerror(errno));
		return NULL;
	}
	return p;
}

#define NEED_REAL_QATZIP(path)                                            \
	char why_[512];                                                   \
	const char *path = real_qatzip(why_, sizeof(why_));               \
	if (!path)                                                        \
	SKIP_TEST("%s", why_)

/* QAT through the real library with QATzip's software fallback. */
static struct accel *open_real(const char *path, unsigned threads, char *err, size_t errlen)
{
	struct accel_config cfg = {.kind = ACCEL_QAT, .threads = threads, .queue_depth = 32,
				   .qatzip_path = path,
				   .qat_fallback = ACCEL_QAT_FALLBACK_QATZIP};
	struct accel *a = NULL;
	if (accel_open(&cfg, &a, err, errlen) != 0)
		return NULL;
	return a;
}

TEST(qat_real_sw_roundtrip_both_ways)
{
	enum { N = 40 };
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob *t = calloc(N, sizeof(*t));
	CHECK(t);
	struct accel *a = open_real(path, 2, err, sizeof(err));
	if (!a)
		fprintf(stderr, "open: %s\n", err);
	CHECK(a);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_QAT);
	fprintf(stderr, "accel: %s\n", accel_describe(a));
	CHECK(strncmp(accel_describe(a), "qat (QATzip", 11) == 0);
	CHECK(!strstr(accel_describe(a), "TEST DOUBLE"));

	/* QATzip compresses; ISA-L decodes. */
	for (int i = 0; i < N; i++) {
		tjob_init(&t[i], CODEC_DEFLATE, i % 4, 4096 * (size_t)(1 + i % 32), (uint64_t)i + 900);
		set_compress(&t[i]);
	}
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(ctx);
	size_t in = 0, out = 0;
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		in += t[i].len;
		out += t[i].comp_len;
		memset(t[i].back, 0x55, t[i].len);
		CHECK_EQ_INT(codec_decompress(ctx, CODEC_DEFLATE, t[i].comp, t[i].comp_len,
					      t[i].back, t[i].len, t[i].len),
			     0);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
	CHECK(out < in / 2); /* it really compressed */

	/* ISA-L compresses; QATzip decodes. */
	cpu_deflate_then_engine_inflates(ut_, a, ctx, t, N);
	if (ut_->failed_here)
		return;
	struct accel_stats s;
	accel_get_stats(a, &s);
	CHECK_EQ_INT(s.jobs, 2 * N);
	CHECK_EQ_INT(s.failed, 0);
	CHECK_EQ_INT(s.qat_jobs_on_cpu, 0); /* all of them went through QATzip */
	accel_close(a);
	codec_ctx_free(ctx);
	for (int i = 0; i < N; i++)
		tjob_free(&t[i]);
	free(t);
}

/* Runs the one job t through a and waits for it: its status. */
static int run_one(struct accel *a, struct tjob *t)
{
	return run_all(a, NULL, t, 1, NULL) == 0 ? t->j.status : -EIO;
}

/* A 64 KiB deflate job at level 1, compressed by QATzip (one session). */
static int real_compressed_job(struct accel *a, struct tjob *t)
{
	tjob_init(t, CODEC_DEFLATE, 1, 64 * 1024, 11);
	set_compress(t);
	return run_one(a, t);
}

/* Every job went through QATzip, none to vmig's CPU codecs; then closes a. */
static void check_all_on_qatzip_and_close(struct ut_state *ut_, struct accel *a)
{
	struct accel_stats s;
	accel_get_stats(a, &s);
	accel_close(a);
	CHECK_EQ_INT(s.qat_jobs_on_cpu, 0);
}

/* vmig level 3 is QAT level 9: a second session, set up on demand. */
TEST(qat_real_level_3_sets_up_its_own_session)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	tjob_init(&t, CODEC_DEFLATE, 3, 64 * 1024, 11);
	set_compress(&t);
	CHECK_EQ_INT(run_one(a, &t), 0);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

TEST(qat_real_refuses_a_level_out_of_range)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	tjob_init(&t, CODEC_DEFLATE, 4, 64 * 1024, 11); /* deflate's levels are 0..3 */
	set_compress(&t);
	CHECK_EQ_INT(run_one(a, &t), -EINVAL);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

TEST(qat_real_refuses_a_wrong_expected_size)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	CHECK_EQ_INT(real_compressed_job(a, &t), 0);
	set_decompress(&t);
	t.j.expected_len = t.len - 100;
	CHECK_EQ_INT(run_one(a, &t), -EBADMSG);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

TEST(qat_real_refuses_input_cut_short)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	CHECK_EQ_INT(real_compressed_job(a, &t), 0);
	set_decompress(&t);
	t.j.src_len = t.comp_len - 7;
	CHECK_EQ_INT(run_one(a, &t), -EBADMSG);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

TEST(qat_real_refuses_garbage)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	CHECK_EQ_INT(real_compressed_job(a, &t), 0);
	set_decompress(&t);
	fill_random(t.comp, t.comp_len, 5);
	CHECK_EQ_INT(run_one(a, &t), -EBADMSG);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

/* Random data in codec_bound's room: QATzip's output does not fit (QZ_FAIL
 * in 1.3.1), stored blocks go instead, and ISA-L reads them. */
TEST(qat_real_stores_incompressible_data_within_the_bound)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(a && ctx);
	tjob_init(&t, CODEC_DEFLATE, 1, 64 * 1024, 11);
	fill_random(t.orig, t.len, 77);
	t.comp_cap = codec_bound(CODEC_DEFLATE, t.len);
	set_compress(&t);
	CHECK_EQ_INT(run_one(a, &t), 0);
	CHECK(t.comp_len <= t.comp_cap);
	CHECK_EQ_INT(codec_decompress(ctx, CODEC_DEFLATE, t.comp, t.comp_len, t.back, t.len, t.len),
		     0);
	CHECK(memcmp(t.orig, t.back, t.len) == 0);
	codec_ctx_free(ctx);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

/* ... and when even stored blocks do not fit, -ENOSPC. */
TEST(qat_real_too_small_a_buffer_is_enospc)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct tjob t;
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	tjob_init(&t, CODEC_DEFLATE, 1, 64 * 1024, 11);
	fill_random(t.orig, t.len, 77);
	t.comp_cap = 100;
	set_compress(&t);
	CHECK_EQ_INT(run_one(a, &t), -ENOSPC);
	tjob_free(&t);
	check_all_on_qatzip_and_close(ut_, a);
}

/*
 * QATzip returns QZ_OK with partial output when the output buffer is too
 * small and leaves the session mid-stream; the next good stream on that
 * session must still decode right (one worker: the same session).
 */
TEST(qat_real_short_decompress_rebuilds_session)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(ctx);
	struct tjob t[2];
	for (int i = 0; i < 2; i++) {
		tjob_init(&t[i], CODEC_DEFLATE, 1, 16 * 4096, 300 + (uint64_t)i);
		size_t n = 0;
		CHECK_EQ_INT(codec_compress(ctx, CODEC_DEFLATE, 1, t[i].orig, t[i].len, t[i].comp,
					    t[i].comp_cap, &n),
			     0);
		t[i].comp_len = n;
	}
	for (int round = 0; round < 3; round++) {
		set_decompress(&t[0]);
		t[0].j.expected_len = t[0].len / 2; /* the sender lied about the size */
		CHECK_EQ_INT(run_all(a, NULL, &t[0], 1, NULL), 0);
		CHECK_EQ_INT(t[0].j.status, -EBADMSG);
		set_decompress(&t[1]);
		memset(t[1].back, 0x77, t[1].len);
		CHECK_EQ_INT(run_all(a, NULL, &t[1], 1, NULL), 0);
		CHECK_EQ_INT(t[1].j.status, 0);
		CHECK(memcmp(t[1].orig, t[1].back, t[1].len) == 0);
	}
	accel_close(a);
	codec_ctx_free(ctx);
	tjob_free(&t[0]);
	tjob_free(&t[1]);
}

/* No device here: none fails as QATzip says, cpu falls back and says so. */
TEST(qat_real_without_device_fallbacks)
{
	NEED_REAL_QATZIP(path);
	char err[512] = "";
	struct accel_config cfg = {.kind = ACCEL_QAT, .threads = 2, .qatzip_path = path,
				   .qat_fallback = ACCEL_QAT_FALLBACK_NONE};
	struct accel *a = NULL;
	int rc = accel_open(&cfg, &a, err, sizeof(err));
	if (rc == 0) {
		accel_close(a);
		SKIP_TEST("a QAT device is present: this case is for a host without one");
	}
	CHECK_EQ_INT(rc, -ENODEV);
	CHECK(strstr(err, "QAT: qzInit: QZ_NOSW_NO_HW (-101): no QAT device found"));

	cfg.qat_fallback = ACCEL_QAT_FALLBACK_CPU;
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_CPU);
	CHECK(strstr(accel_describe(a), "QAT unavailable: QAT: qzInit: QZ_NOSW_NO_HW (-101)"));
	accel_close(a);

	cfg.qat_fallback = ACCEL_QAT_FALLBACK_QATZIP;
	CHECK_EQ_INT(accel_open(&cfg, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(accel_kind_in_use(a), ACCEL_QAT);
	CHECK(strstr(accel_describe(a), "in software: no QAT device, sw_backup=1"));
	accel_close(a);
}

/* Beyond hw_buff_sz a device fails raw deflate: the worker inflates it on the CPU. */
TEST(qat_real_large_inflate_on_cpu)
{
	NEED_REAL_QATZIP(path);
	char err[512];
	struct accel *a = open_real(path, 1, err, sizeof(err));
	CHECK(a);
	struct tjob t;
	tjob_init(&t, CODEC_DEFLATE, 1, 2 * (size_t)ACCEL_QAT_MAX_JOB_BYTES, 42);
	set_compress(&t);
	CHECK_EQ_INT(run_all(a, NULL, &t, 1, NULL), 0);
	CHECK_EQ_INT(t.j.status, 0);
	set_decompress(&t);
	CHECK_EQ_INT(run_all(a, NULL, &t, 1, NULL), 0);
	CHECK_EQ_INT(t.j.status, 0);
	CHECK(memcmp(t.orig, t.back, t.len) == 0);
	struct accel_stats s;
	accel_get_stats(a, &s);
	CHECK_EQ_INT(s.qat_jobs_on_cpu, 1);
	CHECK_EQ_INT(accel_max_job_bytes(a), ACCEL_QAT_MAX_JOB_BYTES);
	accel_close(a);
	tjob_free(&t);
}

/* The index a new pthread key gets: how many this process has used. */
static long next_key_index(void)
{
	pthread_key_t k;
	if (pthread_key_create(&k, NULL) != 0)
		return -1;
	pthread_key_delete(k);
	return (long)k;
}

/*
 * Without a device each QATzip call leaks a pthread key; past its budget
 * the backend stops calling QATzip, and the process can still make keys.
 */
TEST(qat_real_no_device_key_leak_bounded)
{
	enum { N = 700 };
	NEED_REAL_QATZIP(path);
	char err[512];
	long before = next_key_index();
	struct accel *a = open_real(path, 2, err, sizeof(err));
	CHECK(a);
	if (!strstr(accel_describe(a), "in software")) {
		accel_close(a);
		SKIP_TEST("a QAT device is present: no per-call leak to bound");
	}
	struct tjob *t = calloc(N, sizeof(*t));
	CHECK(t);
	for (int i = 0; i < N; i++) {
		tjob_init(&t[i], CODEC_DEFLATE, 1, 4096, (uint64_t)i);
		set_compress(&t[i]);
	}
	CHECK_EQ_INT(run_all(a, NULL, t, N, NULL), 0);
	struct codec_ctx *ctx = codec_ctx_new();
	CHECK(ctx);
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(t[i].j.status, 0);
		CHECK_EQ_INT(codec_decompress(ctx, CODEC_DEFLATE, t[i].comp, t[i].comp_len,
					      t[i].back, t[i].len, t[i].len),
			     0);
		CHECK(memcmp(t[i].orig, t[i].back, t[i].len) == 0);
	}
	struct accel_stats s;
	accel_get_stats(a, &s);
	long after = next_key_index();
	fprintf(stderr, "keys: %ld before, %ld after %d jobs; %llu on the CPU\n", before, after,
		N, (unsigned long long)s.qat_jobs_on_cpu);
	CHECK(s.qat_jobs_on_cpu > 0);
	CHECK(after >= 0);
	CHECK(after - before <= 520); /* the budget, and the sessions' qzInit */
	accel_close(a);
	codec_ctx_free(ctx);
	for (int i = 0; i < N; i++)
		tjob_free(&t[i]);
	free(t);
}

/* Lines QATzip (not vmig) writes to fd 2 while compressing n jobs at log level lvl. */
static int qatzip_stderr_lines(const char *path, enum accel_qatzip_log lvl, int n)
{
	char tmpl[] = "/tmp/vmig-qzlog-XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return -1;
	unlink(tmpl);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	struct accel_config cfg = {.kind = ACCEL_QAT, .threads = 1, .qatzip_path = path,
				   .qat_fallback = ACCEL_QAT_FALLBACK_QATZIP, .qatzip_log = lvl};
	struct accel *a = NULL;
	char err[512];
	int rc = accel_open(&cfg, &a, err, sizeof(err));
	for (int i = 0; rc == 0 && i < n; i++) {
		struct tjob t;
		tjob_init(&t, CODEC_DEFLATE, 1, 8192, (uint64_t)i);
		set_compress(&t);
		if (run_all(a, NULL, &t, 1, NULL) != 0 || t.j.status != 0)
			rc = -1;
		tjob_free(&t);
	}
	accel_close(a);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	int lines = 0;
	char buf[4096];
	ssize_t got;
	lseek(fd, 0, SEEK_SET);
	bool line_start = true;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)got, stdout); /* what was said, for the record */
		for (ssize_t i = 0; i < got; i++) {
			lines += line_start && buf[i] == '['; /* QATzip's "[Error] [date] ..." */
			line_start = buf[i] == '\n';
		}
	}
	close(fd);
	return rc == 0 ? lines : -1;
}

/* QATzip's own stderr lines: none by default, some when asked for. */
TEST(qat_real_log_level)
{
	NEED_REAL_QATZIP(path);
	CHECK_EQ_INT(qatzip_stderr_lines(path, ACCEL_QATZIP_LOG_NONE, 8), 0);
	int chatty = qatzip_stderr_lines(path, ACCEL_QATZIP_LOG_WARNING, 8);
	fprintf(stderr, "QATzip at warning level: %d lines for 8 jobs\n", chatty);
	CHECK(chatty > 0);
}

RUN_TESTS("test_accel", UT(cpu_roundtrip_many_in_flight), UT(cpu_eagain_when_full),
	  UT(cpu_poll_timeouts), UT(cpu_corrupt_input_ebadmsg), UT(cpu_stats_time_and_bytes),
	  UT(cpu_per_caller_queues_threads), UT(cpu_queue_free_and_close_with_jobs_in_flight),
	  UT(open_config_checks), UT(qat_double_describes_itself),
	  UT(qat_opens_a_raw_deflate_session_per_worker),
	  UT(qat_compresses_a_full_queue_for_isal_to_decode), UT(qat_decodes_what_isal_compresses),
	  UT(qat_stats_count_jobs_and_time_both_ways), UT(qat_refuses_other_codecs),
	  UT(qat_close_ends_every_session), UT(qat_fallback_qatzip_allows_its_software_path),
	  UT(qat_auto_other_codecs_on_cpu), UT(qat_missing_library), UT(qat_double_no_device),
	  UT(qat_real_sw_roundtrip_both_ways), UT(qat_real_level_3_sets_up_its_own_session),
	  UT(qat_real_refuses_a_level_out_of_range), UT(qat_real_refuses_a_wrong_expected_size),
	  UT(qat_real_refuses_input_cut_short), UT(qat_real_refuses_garbage),
	  UT(qat_real_stores_incompressible_data_within_the_bound),
	  UT(qat_real_too_small_a_buffer_is_enospc), UT(qat_real_short_decompress_rebuilds_session),
	  UT(qat_real_without_device_fallbacks), UT(qat_real_large_inflate_on_cpu),
	  UT(qat_real_no_device_key_leak_bounded), UT(qat_real_log_level))

/* SPDX-License-Identifier: MIT */
/*
 * Page codecs: names, levels, bounds; round trips of every codec and level
 * on every kind of page, one page and 64-page batches; and hostile input
 * (truncation, bit flips, garbage, wrong sizes, wrong codec), which must
 * fail cleanly and never write past the expected output.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "unittest.h"

#define PAGE 4096u
#define BATCH 64u
#define GUARD 64u /* canary bytes after every output buffer */
#define CANARY 0xa5

/* ---- deterministic test data ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

enum kind { K_ZERO, K_TEXT, K_BINARY, K_RANDOM, K_MIXED, K_COUNT };
static const char *const kind_name[K_COUNT] = {"zero", "text", "binary", "random", "mixed"};

static const char *const words[] = {
    "the",   "of",    "and",	"to",	   "a",	       "in",	 "is",	      "it",
    "that",  "was",   "for",	"on",	   "with",     "as",	 "be",	      "at",
    "one",   "have",  "this",	"from",	   "page",     "memory", "migration", "kernel",
    "guest", "dirty", "bitmap", "channel", "compress", "vmig",
};

static void fill_text(uint8_t *p, size_t n, uint64_t *s)
{
	size_t i = 0;
	while (i < n) {
		uint64_t r = rnd(s);
		/* The product of two uniform bytes favours the first words. */
		const char *w = words[(((r & 0xff) * ((r >> 8) & 0xff)) >> 8) % 30];
		for (size_t k = 0; w[k] && i < n; k++)
			p[i++] = (uint8_t)w[k];
		if (i < n)
			p[i++] = ((r >> 16) & 15) == 0 ? '.' : ' ';
	}
}

static void fill_binary(uint8_t *p, size_t n, uint64_t *s)
{
	/* x86-ish: opcodes with a few random bits, pointers with shared high
	 * bytes, small integers and zeros. */
	static const uint64_t shape[8] = {
	    0x0000000000c08948ull, 0x00000000f8458b48ull, 0x000000ffff0000e8ull,
	    0xffffffff81000000ull, 0xffff888000000000ull, 0,
	    0x0000000000000001ull, 0x0000000000441f0full,
	};
	static const uint64_t noise[8] = {0x3f0000,   0xf8380000, 0xffff00, 0x3ffff8,
					  0xfffff000, 0x3ff,	  0,	    0};
	static const unsigned len[8] = {3, 4, 5, 8, 8, 8, 4, 5};
	size_t i = 0;
	while (i < n) {
		uint64_t r = rnd(s);
		unsigned k = (unsigned)(r >> 61);
		uint64_t v = shape[k] ^ (r & noise[k]);
		for (unsigned b = 0; b < len[k] && i < n; b++)
			p[i++] = (uint8_t)(v >> (8 * b));
	}
}

static void fill_random(uint8_t *p, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd(s) >> 32);
}

static void fill(enum kind k, uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 7919 + 1;
	switch (k) {
	case K_ZERO: memset(p, 0, n); break;
	case K_TEXT: fill_text(p, n, &s); break;
	case K_BINARY: fill_binary(p, n, &s); break;
	case K_RANDOM: fill_random(p, n, &s); break;
	default:
		/* Page by page: zero, text, binary or random. */
		for (size_t off = 0; off < n; off += PAGE) {
			size_t m = n - off < PAGE ? n - off : PAGE;
			fill((enum kind)(rnd(&s) % 4), p + off, m, rnd(&s));
		}
		break;
	}
}

/* A buffer of cap bytes followed by GUARD canary bytes. */
static uint8_t *guarded(size_t cap)
{
	uint8_t *p = malloc(cap + GUARD);
	if (p)
		memset(p, CANARY, cap + GUARD);
	return p;
}

static bool untouched(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != CANARY)
			return false;
	return true;
}

static const enum codec_id all_ids[] = {CODEC_NONE, CODEC_LZ4, CODEC_ZSTD, CODEC_DEFLATE};
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define NIDS COUNT_OF(all_ids)

/* ---- names, levels, bounds ---- */

TEST(names_and_parse)
{
	enum codec_id id = CODEC_COUNT;
	CHECK_STR(codec_name(CODEC_NONE), "none");
	CHECK_STR(codec_name(CODEC_LZ4), "lz4");
	CHECK_STR(codec_name(CODEC_ZSTD), "zstd");
	CHECK_STR(codec_name(CODEC_DEFLATE), "deflate");
	CHECK_STR(codec_name(CODEC_COUNT), "unknown");
	CHECK_STR(codec_name((enum codec_id) - 1), "unknown");
	for (unsigned i = 0; i < NIDS; i++) {
		CHECK_EQ_INT(codec_parse(codec_name(all_ids[i]), &id), 0);
		CHECK_EQ_INT(id, all_ids[i]);
	}
	/* Wire values never change. */
	CHECK_EQ_INT(CODEC_NONE, 0);
	CHECK_EQ_INT(CODEC_LZ4, 1);
	CHECK_EQ_INT(CODEC_ZSTD, 2);
	CHECK_EQ_INT(CODEC_DEFLATE, 3);
	CHECK_EQ_INT(codec_parse("LZ4", &id), -EINVAL);
	CHECK_EQ_INT(codec_parse("", &id), -EINVAL);
	CHECK_EQ_INT(codec_parse("gzip", &id), -EINVAL);
	CHECK_EQ_INT(codec_parse("zstd ", &id), -EINVAL);
	CHECK_EQ_INT(codec_parse("unknown", &id), -EINVAL);
	CHECK_EQ_INT(codec_parse(NULL, &id), -EINVAL);
	CHECK_EQ_INT(id, CODEC_DEFLATE); /* untouched by the failures */
}

TEST(levels)
{
	int mn, mx, def;
	codec_levels(CODEC_NONE, &mn, &mx, &def);
	CHECK(mn == 0 && mx == 0 && def == 0);
	codec_levels(CODEC_LZ4, &mn, &mx, &def);
	CHECK(mn == 1 && mx == 12 && def >= mn && def <= mx);
	codec_levels(CODEC_ZSTD, &mn, &mx, &def);
	CHECK(mn == 1 && mx == 19 && def >= mn && def <= mx);
	codec_levels(CODEC_DEFLATE, &mn, &mx, &def);
	CHECK(mn == 0 && mx == 3 && def >= mn && def <= mx);
	codec_levels(CODEC_COUNT, &mn, &mx, &def);
	CHECK(mn > mx);				   /* nothing is valid */
	codec_levels(CODEC_LZ4, NULL, NULL, NULL); /* NULLs are allowed */
}

TEST(default_level_is_the_one_codec_levels_gives)
{
	int def;
	codec_levels(CODEC_ZSTD, NULL, NULL, &def);
	CHECK_EQ_INT(codec_default_level(CODEC_ZSTD), def);
	CHECK_EQ_INT(codec_default_level(CODEC_NONE), 0);
}

#define BATCH_BYTES (PAGE * BATCH)
static const size_t bound_sizes[] = {0, 1, 100, PAGE, 65535, 65536, 65541, BATCH_BYTES, 1 << 20};
#define NBOUND_SIZES COUNT_OF(bound_sizes)

TEST(bound_of_none_is_the_input_size)
{
	for (unsigned s = 0; s < NBOUND_SIZES; s++)
		CHECK_MSG(codec_bound(CODEC_NONE, bound_sizes[s]) == bound_sizes[s], "%zu bytes",
			  bound_sizes[s]);
}

TEST(bound_of_a_compressor_exceeds_the_input_size)
{
	for (unsigned s = 0; s < NBOUND_SIZES; s++)
		for (unsigned i = 1; i < NIDS; i++)
			CHECK_MSG(codec_bound(all_ids[i], bound_sizes[s]) > bound_sizes[s],
				  "%s, %zu bytes: bound %zu", codec_name(all_ids[i]),
				  bound_sizes[s], codec_bound(all_ids[i], bound_sizes[s]));
}

TEST(bound_of_an_unknown_codec_is_zero)
{
	for (unsigned s = 0; s < NBOUND_SIZES; s++)
		CHECK_MSG(codec_bound(CODEC_COUNT, bound_sizes[s]) == 0, "%zu bytes",
			  bound_sizes[s]);
}

/* A 4 KiB page never needs more than a little slack. */
TEST(bound_of_a_page_needs_little_slack)
{
	for (unsigned i = 0; i < NIDS; i++)
		CHECK_MSG(codec_bound(all_ids[i], PAGE) <= PAGE + 128, "%s: bound %zu",
			  codec_name(all_ids[i]), codec_bound(all_ids[i], PAGE));
}

TEST(bad_arguments)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t src[PAGE] = {1, 2, 3}, dst[2 * PAGE];
	size_t n = 12345;
	CHECK(ctx);
	/* Levels out of range. */
	CHECK_EQ_INT(codec_compress(ctx, CODEC_NONE, 1, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_LZ4, 0, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_LZ4, 13, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_ZSTD, 0, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_ZSTD, 20, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_DEFLATE, -1, src, PAGE, dst, sizeof(dst), &n),
		     -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_DEFLATE, 4, src, PAGE, dst, sizeof(dst), &n),
		     -EINVAL);
	/* Unknown codecs. */
	CHECK_EQ_INT(codec_compress(ctx, CODEC_COUNT, 0, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, (enum codec_id) - 1, 0, src, PAGE, dst, sizeof(dst), &n),
		     -EINVAL);
	CHECK_EQ_INT(codec_decompress(ctx, CODEC_COUNT, src, 10, dst, sizeof(dst), PAGE), -EINVAL);
	/* Missing pointers. */
	CHECK_EQ_INT(codec_compress(ctx, CODEC_LZ4, 1, src, PAGE, dst, sizeof(dst), NULL), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_LZ4, 1, NULL, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(ctx, CODEC_LZ4, 1, src, PAGE, NULL, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_compress(NULL, CODEC_LZ4, 1, src, PAGE, dst, sizeof(dst), &n), -EINVAL);
	CHECK_EQ_INT(codec_decompress(NULL, CODEC_ZSTD, src, 10, dst, sizeof(dst), PAGE), -EINVAL);
	CHECK_EQ_INT(codec_decompress(ctx, CODEC_ZSTD, NULL, 10, dst, sizeof(dst), PAGE), -EINVAL);
	/* "none" needs no context. */
	CHECK_EQ_INT(codec_compress(NULL, CODEC_NONE, 0, src, PAGE, dst, sizeof(dst), &n), 0);
	CHECK_EQ_INT(n, PAGE);
	CHECK_EQ_INT(codec_decompress(NULL, CODEC_NONE, dst, PAGE, src, PAGE, PAGE), 0);
	codec_ctx_free(ctx);
	codec_ctx_free(NULL);
}

/* ---- round trips ---- */

/* Compresses into a bound-sized guarded buffer, decompresses into an
 * exact-size guarded one (with a fresh context: blocks are independent),
 * and compares. Returns the compressed size, or 0 on any failure. */
static size_t round_trip(struct codec_ctx *ctx, struct codec_ctx *dctx, enum codec_id id, int level,
			 const uint8_t *src, size_t len)
{
	size_t cap = codec_bound(id, len), clen = 0;
	uint8_t *c = guarded(cap), *out = guarded(len);
	size_t ret = 0;
	if (!c || !out)
		goto done;
	if (codec_compress(ctx, id, level, src, len, c, cap, &clen) != 0 || clen > cap ||
	    !untouched(c, cap, cap + GUARD))
		goto done;
	if (codec_decompress(dctx, id, c, clen, out, len, len) != 0 ||
	    !untouched(out, len, len + GUARD) || memcmp(out, src, len) != 0)
		goto done;
	ret = clen ? clen : 1;
done:
	free(c);
	free(out);
	return ret;
}

TEST(round_trip_every_level_kind_and_batch)
{
	struct codec_ctx *ctx = codec_ctx_new(), *dctx = codec_ctx_new();
	uint8_t *data = malloc(PAGE * BATCH);
	CHECK(ctx && dctx && data);
	for (unsigned k = 0; k < K_COUNT; k++) {
		for (unsigned pages = 1; pages <= BATCH; pages += BATCH - 1) {
			size_t len = (size_t)pages * PAGE;
			fill((enum kind)k, data, len, 1000 + k * 10 + pages);
			for (unsigned i = 0; i < NIDS; i++) {
				int mn, mx;
				codec_levels(all_ids[i], &mn, &mx, NULL);
				for (int lv = mn; lv <= mx; lv++) {
					size_t clen =
					    round_trip(ctx, dctx, all_ids[i], lv, data, len);
					if (!clen)
						snprintf(ut_->msg, sizeof(ut_->msg),
							 "%s level %d on %u %s pages failed",
							 codec_name(all_ids[i]), lv, pages,
							 kind_name[k]);
					if (!clen) {
						ut_->failed_here = 1;
						goto out;
					}
					/* Zero pages and text must actually shrink (lz4-1: ~1.9x on
					 * text). */
					if (all_ids[i] != CODEC_NONE &&
					    (k == K_ZERO || k == K_TEXT))
						CHECK(clen < len * 3 / 5);
					if (all_ids[i] != CODEC_NONE && k == K_ZERO)
						CHECK(clen < 64 + len / 256);
				}
			}
		}
	}
out:
	free(data);
	codec_ctx_free(ctx);
	codec_ctx_free(dctx);
}

/*
 * Round trips of text, binary and random data of each size in sizes,
 * through every codec: every level for small sizes, the ends of the range
 * for big ones. Random data must still fit in codec_bound. The message
 * names the codec, level, size and kind that failed.
 */
static void round_trips_of_sizes(struct ut_state *ut_, const size_t *sizes, unsigned nsizes)
{
	size_t most = 1;
	for (unsigned s = 0; s < nsizes; s++)
		most = sizes[s] > most ? sizes[s] : most;
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *data = malloc(most);
	CHECK(ctx && data);
	for (unsigned s = 0; s < nsizes; s++) {
		for (unsigned k = K_TEXT; k <= K_RANDOM; k++) {
			fill((enum kind)k, data, sizes[s], sizes[s] * 31 + k);
			for (unsigned i = 0; i < NIDS; i++) {
				int mn, mx;
				codec_levels(all_ids[i], &mn, &mx, NULL);
				int step = sizes[s] > 5000 && mx > mn ? mx - mn : 1;
				for (int lv = mn; lv <= mx; lv += step)
					CHECK_MSG(
					    round_trip(ctx, ctx, all_ids[i], lv, data, sizes[s]),
					    "%s level %d, %zu %s bytes", codec_name(all_ids[i]), lv,
					    sizes[s], kind_name[k]);
			}
		}
	}
	free(data);
	codec_ctx_free(ctx);
}

TEST(round_trip_empty_input)
{
	static const size_t sizes[] = {0};
	round_trips_of_sizes(ut_, sizes, COUNT_OF(sizes));
}

TEST(round_trip_tails_shorter_than_a_word)
{
	static const size_t sizes[] = {1, 2, 7, 8, 9};
	round_trips_of_sizes(ut_, sizes, COUNT_OF(sizes));
}

TEST(round_trip_sizes_short_of_a_page)
{
	static const size_t sizes[] = {100, 4095};
	round_trips_of_sizes(ut_, sizes, COUNT_OF(sizes));
}

/* Data that does not shrink goes as stored blocks of at most 65535 bytes
 * (src/codec/deflate.c): one, two, and two with an odd tail. */
TEST(round_trip_around_the_stored_block_limit)
{
	static const size_t sizes[] = {65535, 65536, 65541};
	round_trips_of_sizes(ut_, sizes, COUNT_OF(sizes));
}

TEST(round_trip_large_odd_size)
{
	static const size_t sizes[] = {200003};
	round_trips_of_sizes(ut_, sizes, COUNT_OF(sizes));
}

TEST(compress_enospc)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *data = malloc(PAGE * BATCH);
	CHECK(ctx && data);
	fill(K_MIXED, data, PAGE * BATCH, 77);
	for (unsigned i = 0; i < NIDS; i++) {
		int mn, mx;
		codec_levels(all_ids[i], &mn, &mx, NULL);
		for (int lv = mn; lv <= mx; lv++) {
			/* Single pages at odd and slow levels, batches at the others. */
			size_t len = (lv & 1) || lv > 9 ? PAGE : PAGE * BATCH;
			size_t cap = codec_bound(all_ids[i], len);
			size_t clen = 0, n = 0;
			uint8_t *c = guarded(cap);
			CHECK(c);
			CHECK_EQ_INT(codec_compress(ctx, all_ids[i], lv, data, len, c, cap, &clen),
				     0);
			/* One byte short, and much too short: -ENOSPC, nothing past cap. */
			const size_t smalls[] = {clen - 1, clen / 2, 7, 0};
			for (unsigned j = 0; j < 4; j++) {
				size_t small = smalls[j];
				uint8_t *d = guarded(small);
				CHECK(d);
				int rc =
				    codec_compress(ctx, all_ids[i], lv, data, len, d, small, &n);
				bool ok = rc == -ENOSPC && untouched(d, small, small + GUARD);
				free(d);
				if (!ok) {
					free(c);
					snprintf(ut_->msg, sizeof(ut_->msg),
						 "%s level %d cap %zu: rc %d",
						 codec_name(all_ids[i]), lv, small, rc);
					ut_->failed_here = 1;
					goto out;
				}
			}
			free(c);
			/* The context still works after a failure. */
			CHECK(round_trip(ctx, ctx, all_ids[i], lv, data, len));
		}
	}
out:
	free(data);
	codec_ctx_free(ctx);
}

/* ---- hostile input ---- */

/* Decompresses src into a guarded buffer of dst_cap; the result must be
 * 0 or -EBADMSG and nothing past expected_len may change. Returns rc, or
 * 1 if the rules were broken. */
static int hostile(struct codec_ctx *ctx, enum codec_id id, const uint8_t *src, size_t src_len,
		   size_t dst_cap, size_t expected)
{
	/* One buffer for every call, refilled each time: the tests below make
	 * thousands of calls, and a fresh 256 KiB allocation each (ASan maps
	 * and poisons it) took most of their time. The output sits at the END
	 * of the array, so a write past the canary still hits ASan's redzone. */
	static uint8_t space[3 * PAGE * BATCH + GUARD]; /* the largest dst_cap below: 2 batches */
	int rc;
	if (dst_cap + GUARD > sizeof(space))
		return 1;
	uint8_t *out = space + sizeof(space) - (dst_cap + GUARD);
	memset(out, CANARY, dst_cap + GUARD);
	rc = codec_decompress(ctx, id, src, src_len, out, dst_cap, expected);
	if (rc != 0 && rc != -EBADMSG)
		rc = 1;
	if (!untouched(out, expected < dst_cap ? expected : dst_cap, dst_cap + GUARD))
		rc = 1;
	return rc;
}

struct sample {
	uint8_t *c;
	size_t clen, len;
};

/* Valid compressed samples: text and mixed, one page and a batch. */
static int make_sample(struct codec_ctx *ctx, enum codec_id id, int level, const uint8_t *data,
		       size_t len, struct sample *s)
{
	size_t cap = codec_bound(id, len);
	s->c = malloc(cap);
	s->len = len;
	if (!s->c)
		return -ENOMEM;
	return codec_compress(ctx, id, level, data, len, s->c, cap, &s->clen);
}

TEST(hostile_truncation)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *data = malloc(PAGE * BATCH);
	CHECK(ctx && data);
	for (unsigned i = 0; i < NIDS; i++) {
		int mn, mx;
		codec_levels(all_ids[i], &mn, &mx, NULL);
		for (int lv = mn; lv <= mx; lv += (mx - mn) / 2 > 0 ? (mx - mn) / 2 : 1) {
			for (unsigned pages = 1; pages <= BATCH; pages += BATCH - 1) {
				struct sample s;
				fill(pages == 1 ? K_TEXT : K_MIXED, data, pages * PAGE, pages + lv);
				CHECK_EQ_INT(
				    make_sample(ctx, all_ids[i], lv, data, pages * PAGE, &s), 0);
				size_t step = s.clen > 2000 ? s.clen / 293 + 1 : 1;
				for (size_t cut = 0; cut < s.clen; cut += step) {
					int rc = hostile(ctx, all_ids[i], s.c, cut, s.len, s.len);
					if (rc != -EBADMSG) {
						snprintf(ut_->msg, sizeof(ut_->msg),
							 "%s level %d: cut at %zu of %zu gave %d",
							 codec_name(all_ids[i]), lv, cut, s.clen,
							 rc);
						ut_->failed_here = 1;
						free(s.c);
						goto out;
					}
				}
				/* The last few cuts one by one. */
				for (size_t cut = s.clen > 16 ? s.clen - 16 : 0; cut < s.clen;
				     cut++)
					CHECK_EQ_INT(
					    hostile(ctx, all_ids[i], s.c, cut, s.len, s.len),
					    -EBADMSG);
				/* The whole thing still decodes. */
				CHECK_EQ_INT(hostile(ctx, all_ids[i], s.c, s.clen, s.len, s.len),
					     0);
				free(s.c);
			}
		}
	}
out:
	free(data);
	codec_ctx_free(ctx);
}

/* One valid batch of mixed pages per codec, at its default level: what the
 * size and trailing-byte cases below bend. */
struct batch_samples {
	struct codec_ctx *ctx;
	struct sample s[NIDS];
};

static int batch_samples_make(struct batch_samples *b)
{
	uint8_t *data = malloc(PAGE * BATCH);
	int rc = -ENOMEM;
	memset(b, 0, sizeof(*b));
	b->ctx = codec_ctx_new();
	if (!b->ctx || !data)
		goto out;
	fill(K_MIXED, data, PAGE * BATCH, 5);
	for (unsigned i = 0; i < NIDS; i++) {
		int def;
		codec_levels(all_ids[i], NULL, NULL, &def);
		rc = make_sample(b->ctx, all_ids[i], def, data, PAGE * BATCH, &b->s[i]);
		if (rc != 0)
			break;
	}
out:
	free(data);
	return rc;
}

static void batch_samples_free(struct batch_samples *b)
{
	for (unsigned i = 0; i < NIDS; i++)
		free(b->s[i].c);
	codec_ctx_free(b->ctx);
}

/* Codec i's sample decoded into dst_cap bytes, as if it held `expected`. */
static int decode_sample(struct batch_samples *b, unsigned i, size_t dst_cap, size_t expected)
{
	return hostile(b->ctx, all_ids[i], b->s[i].c, b->s[i].clen, dst_cap, expected);
}

TEST(decode_refuses_an_expected_length_past_the_stream)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 0; i < NIDS; i++) {
		size_t len = b.s[i].len;
		CHECK_MSG(decode_sample(&b, i, len + 100, len + 1) == -EBADMSG, "%s",
			  codec_name(all_ids[i]));
	}
	batch_samples_free(&b);
}

TEST(decode_refuses_an_expected_length_short_of_the_stream)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 0; i < NIDS; i++) {
		size_t len = b.s[i].len;
		const char *name = codec_name(all_ids[i]);
		CHECK_MSG(decode_sample(&b, i, len + 100, len - 1) == -EBADMSG, "%s, 1 short",
			  name);
		CHECK_MSG(decode_sample(&b, i, len + 100, len - PAGE) == -EBADMSG,
			  "%s, a page short", name);
		CHECK_MSG(decode_sample(&b, i, len, 0) == -EBADMSG, "%s, 0 expected", name);
		CHECK_MSG(decode_sample(&b, i, len, 1) == -EBADMSG, "%s, 1 expected", name);
	}
	batch_samples_free(&b);
}

/* Output space too small for what the sender claims. */
TEST(decode_refuses_output_space_short_of_the_expected_length)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 0; i < NIDS; i++) {
		size_t len = b.s[i].len;
		const char *name = codec_name(all_ids[i]);
		CHECK_MSG(decode_sample(&b, i, len - 1, len) == -EBADMSG, "%s, 1 short", name);
		CHECK_MSG(decode_sample(&b, i, 0, len) == -EBADMSG, "%s, no space", name);
	}
	batch_samples_free(&b);
}

/* Refused before any work, whatever the space. */
TEST(decode_refuses_an_absurd_expected_length)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 0; i < NIDS; i++)
		CHECK_MSG(decode_sample(&b, i, b.s[i].len, (size_t)-1) == -EBADMSG, "%s",
			  codec_name(all_ids[i]));
	batch_samples_free(&b);
}

TEST(decode_accepts_exact_and_larger_output_space)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 0; i < NIDS; i++) {
		size_t len = b.s[i].len;
		const char *name = codec_name(all_ids[i]);
		CHECK_MSG(decode_sample(&b, i, len, len) == 0, "%s, exact space", name);
		CHECK_MSG(decode_sample(&b, i, len + 4096, len) == 0, "%s, a page more", name);
	}
	batch_samples_free(&b);
}

TEST(decode_refuses_bytes_after_the_end_of_the_stream)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 0; i < NIDS; i++) {
		const struct sample *s = &b.s[i];
		uint8_t *ext = malloc(s->clen + 16);
		CHECK(ext);
		memcpy(ext, s->c, s->clen);
		for (unsigned extra = 1; extra <= 16; extra++) {
			memset(ext + s->clen, (int)(extra * 37), 16);
			int rc =
			    hostile(b.ctx, all_ids[i], ext, s->clen + extra, s->len + 64, s->len);
			CHECK_MSG(rc == -EBADMSG, "%s: %u trailing bytes gave %d",
				  codec_name(all_ids[i]), extra, rc);
		}
		free(ext);
	}
	batch_samples_free(&b);
}

/* "none" has no end of stream to find: only the compressors here. */
TEST(decode_refuses_a_second_stream_appended)
{
	struct batch_samples b;
	CHECK_EQ_INT(batch_samples_make(&b), 0);
	for (unsigned i = 1; i < NIDS; i++) {
		const struct sample *s = &b.s[i];
		uint8_t *twice = malloc(2 * s->clen);
		CHECK(twice);
		memcpy(twice, s->c, s->clen);
		memcpy(twice + s->clen, s->c, s->clen);
		int rc = hostile(b.ctx, all_ids[i], twice, 2 * s->clen, 2 * s->len, s->len);
		free(twice);
		CHECK_MSG(rc == -EBADMSG, "%s gave %d", codec_name(all_ids[i]), rc);
	}
	batch_samples_free(&b);
}

TEST(hostile_bit_flips)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *data = malloc(PAGE * BATCH), *bad;
	uint64_t seed = 99;
	CHECK(ctx && data);
	for (unsigned i = 1; i < NIDS; i++) {
		int mn, mx;
		codec_levels(all_ids[i], &mn, &mx, NULL);
		for (int lv = mn; lv <= mx; lv += mx - mn) {
			for (unsigned pages = 1; pages <= BATCH; pages += BATCH - 1) {
				struct sample s;
				unsigned errors = 0, tries = pages == 1 ? 3000 : 300;
				fill(K_MIXED, data, pages * PAGE, lv * 3 + pages);
				CHECK_EQ_INT(
				    make_sample(ctx, all_ids[i], lv, data, pages * PAGE, &s), 0);
				bad = malloc(s.clen);
				CHECK(bad);
				for (unsigned t = 0; t < tries; t++) {
					memcpy(bad, s.c, s.clen);
					/* One to four flipped bits, biased to the header. */
					unsigned flips = 1 + (unsigned)(rnd(&seed) % 4);
					for (unsigned f = 0; f < flips; f++) {
						uint64_t r = rnd(&seed);
						size_t at =
						    (r & 1) ? (r >> 8) % (s.clen < 32 ? s.clen : 32)
							    : (r >> 8) % s.clen;
						bad[at] ^= (uint8_t)(1u << ((r >> 4) & 7));
					}
					int rc =
					    hostile(ctx, all_ids[i], bad, s.clen, s.len, s.len);
					CHECK(rc == 0 || rc == -EBADMSG);
					errors += rc != 0;
				}
				/* Most damage is noticed (no codec here has a checksum,
				 * so a flipped literal can pass). */
				CHECK(errors > tries / 10);
				free(bad);
				free(s.c);
			}
		}
	}
	free(data);
	codec_ctx_free(ctx);
}

/*
 * Random bytes of every length up to 300, then some longer, through every
 * compressor, as one page and as a batch, reps draws of each length;
 * shape (when not NULL) first dresses the junk up as the start of a real
 * stream.
 */
static void garbage_refused(struct ut_state *ut_, void (*shape)(uint8_t *junk, size_t len),
			    unsigned reps)
{
	uint64_t seed = 4242;
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *junk = malloc(PAGE * 2);
	CHECK(ctx && junk);
	for (unsigned i = 1; i < NIDS; i++) {
		for (size_t len = 1; len < 2 * PAGE; len += len < 300 ? 1 : 397) {
			for (unsigned rep = 0; rep < reps; rep++) {
				fill_random(junk, len, &seed);
				if (shape)
					shape(junk, len);
				int rc = hostile(ctx, all_ids[i], junk, len, PAGE, PAGE);
				CHECK_MSG(rc == -EBADMSG, "%s, %zu bytes as a page: %d",
					  codec_name(all_ids[i]), len, rc);
				rc =
				    hostile(ctx, all_ids[i], junk, len, PAGE * BATCH, PAGE * BATCH);
				CHECK_MSG(rc == -EBADMSG, "%s, %zu bytes as a batch: %d",
					  codec_name(all_ids[i]), len, rc);
			}
		}
	}
	free(junk);
	codec_ctx_free(ctx);
}

static void zstd_magic(uint8_t *junk, size_t len)
{
	if (len >= 4)
		junk[0] = 0x28, junk[1] = 0xb5, junk[2] = 0x2f, junk[3] = 0xfd;
}

/* BFINAL set, BTYPE 00: a final stored block follows. */
static void deflate_final_block(uint8_t *junk, size_t len)
{
	(void)len;
	junk[0] = (uint8_t)((junk[0] & ~7u) | 1u);
}

TEST(decode_refuses_random_bytes)
{
	garbage_refused(ut_, NULL, 2);
}

TEST(decode_refuses_random_bytes_behind_a_zstd_magic)
{
	garbage_refused(ut_, zstd_magic, 1);
}

TEST(decode_refuses_random_bytes_behind_a_final_deflate_block_header)
{
	garbage_refused(ut_, deflate_final_block, 1);
}

/* Every codec's output, of every kind of page, fed to every other decoder. */
TEST(decode_refuses_another_codecs_output)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *data = malloc(PAGE * BATCH);
	CHECK(ctx && data);
	for (unsigned k = K_ZERO; k <= K_MIXED; k++) {
		fill((enum kind)k, data, PAGE * BATCH, 300 + k);
		for (unsigned a = 0; a < NIDS; a++) {
			int def;
			struct sample s;
			codec_levels(all_ids[a], NULL, NULL, &def);
			CHECK_EQ_INT(make_sample(ctx, all_ids[a], def, data, PAGE * BATCH, &s), 0);
			for (unsigned b = 0; b < NIDS; b++) {
				if (b == a)
					continue;
				int rc = hostile(ctx, all_ids[b], s.c, s.clen, s.len, s.len);
				CHECK_MSG(rc == -EBADMSG, "%s data (%s) through %s gave %d",
					  codec_name(all_ids[a]), kind_name[k],
					  codec_name(all_ids[b]), rc);
			}
			free(s.c);
		}
	}
	free(data);
	codec_ctx_free(ctx);
}

/* ---- the deflate wire format is plain raw deflate ---- */

/* Made by zlib (deflateInit2 with windowBits -15), not ISA-L: what any
 * other raw-deflate engine, QAT included, may send. zlib_dyn holds
 * LINE_REPEATS copies of line, zlib_stored holds "abc". */
static const uint8_t zlib_dyn[] = {
    0x2b, 0xcb, 0xcd, 0x4c, 0x57, 0x00, 0xe2, 0xa2, 0xc4, 0x92, 0xd4, 0x62, 0x85, 0x82, 0xc4,
    0xf4, 0xd4, 0x62, 0x6b, 0x85, 0x32, 0x4c, 0x41, 0x85, 0xc4, 0xf4, 0xc4, 0xcc, 0x3c, 0x85,
    0xc4, 0xbc, 0x14, 0x08, 0x4b, 0x0f, 0x9b, 0xa2, 0x51, 0x9d, 0x03, 0xae, 0x13, 0x00,
};
static const uint8_t zlib_stored[] = {0x01, 0x03, 0x00, 0xfc, 0xff, 'a', 'b', 'c'};
static const char line[] = "vmig migrates pages; vmig migrates pages again and again. ";
#define LINE_LEN (sizeof(line) - 1)
#define LINE_REPEATS 8

static void fill_lines(uint8_t want[LINE_REPEATS * LINE_LEN])
{
	for (unsigned i = 0; i < LINE_REPEATS; i++)
		memcpy(want + i * LINE_LEN, line, LINE_LEN);
}

TEST(deflate_decodes_zlibs_raw_dynamic_blocks)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t want[LINE_REPEATS * LINE_LEN], out[sizeof(want)];
	CHECK(ctx);
	CHECK_EQ_INT(LINE_LEN, 58);
	fill_lines(want);
	CHECK_EQ_INT(codec_decompress(ctx, CODEC_DEFLATE, zlib_dyn, sizeof(zlib_dyn), out,
				      sizeof(out), sizeof(want)),
		     0);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	codec_ctx_free(ctx);
}

TEST(deflate_decodes_zlibs_raw_stored_blocks)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t out[64];
	CHECK(ctx);
	CHECK_EQ_INT(codec_decompress(ctx, CODEC_DEFLATE, zlib_stored, sizeof(zlib_stored), out,
				      sizeof(out), 3),
		     0);
	CHECK(memcmp(out, "abc", 3) == 0);
	codec_ctx_free(ctx);
}

/* The same data behind a zlib header is not raw deflate. */
TEST(deflate_refuses_a_zlib_header)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t wrapped[2 + sizeof(zlib_stored)] = {0x78, 0x01}, out[64];
	CHECK(ctx);
	memcpy(wrapped + 2, zlib_stored, sizeof(zlib_stored));
	CHECK_EQ_INT(
	    codec_decompress(ctx, CODEC_DEFLATE, wrapped, sizeof(wrapped), out, sizeof(out), 3),
	    -EBADMSG);
	codec_ctx_free(ctx);
}

/* ISA-L's output has no wrapper either: not gzip (1f 8b), not zlib (78 xx),
 * and it decodes from its first byte. */
TEST(deflate_output_is_raw_at_every_level)
{
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t want[LINE_REPEATS * LINE_LEN], out[sizeof(want)], c[1024];
	size_t clen;
	CHECK(ctx);
	fill_lines(want);
	for (int lv = 0; lv <= 3; lv++) {
		CHECK_MSG(codec_compress(ctx, CODEC_DEFLATE, lv, want, sizeof(want), c, sizeof(c),
					 &clen) == 0,
			  "level %d", lv);
		CHECK_MSG(!(c[0] == 0x1f && c[1] == 0x8b) && c[0] != 0x78,
			  "level %d starts %02x %02x", lv, c[0], c[1]);
		CHECK_MSG(codec_decompress(ctx, CODEC_DEFLATE, c, clen, out, sizeof(out),
					   sizeof(want)) == 0,
			  "level %d", lv);
		CHECK_MSG(memcmp(out, want, sizeof(want)) == 0, "level %d", lv);
	}
	codec_ctx_free(ctx);
}

/* An input that cannot shrink still fits codec_bound as stored blocks,
 * even when the buffer is exactly that size. */
TEST(deflate_fits_incompressible_input_in_its_bound)
{
	uint64_t seed = 1;
	size_t len = 70000, cap = codec_bound(CODEC_DEFLATE, len), clen;
	struct codec_ctx *ctx = codec_ctx_new();
	uint8_t *rnd_data = malloc(len), *cc = guarded(cap), *back = malloc(len);
	CHECK(ctx && rnd_data && cc && back);
	fill_random(rnd_data, len, &seed);
	for (int lv = 0; lv <= 3; lv++) {
		CHECK_MSG(codec_compress(ctx, CODEC_DEFLATE, lv, rnd_data, len, cc, cap, &clen) ==
			      0,
			  "level %d", lv);
		CHECK_MSG(clen <= cap && untouched(cc, cap, cap + GUARD), "level %d: %zu of %zu",
			  lv, clen, cap);
		CHECK_MSG(codec_decompress(ctx, CODEC_DEFLATE, cc, clen, back, len, len) == 0,
			  "level %d", lv);
		CHECK_MSG(memcmp(back, rnd_data, len) == 0, "level %d", lv);
	}
	free(rnd_data);
	free(cc);
	free(back);
	codec_ctx_free(ctx);
}

TEST(contexts_are_independent_and_reusable)
{
	/* Many batches through one context, alternating codecs and levels,
	 * each decoded by a different context. */
	struct codec_ctx *a = codec_ctx_new(), *b = codec_ctx_new();
	uint8_t *data = malloc(PAGE * 8);
	CHECK(a && b && data);
	for (unsigned round = 0; round < 200; round++) {
		enum codec_id id = all_ids[round % NIDS];
		int mn, mx;
		codec_levels(id, &mn, &mx, NULL);
		int lv = mn + (int)(round / NIDS) % (mx - mn + 1);
		fill((enum kind)(round % K_COUNT), data, PAGE * (1 + round % 8), round);
		CHECK(round_trip(a, b, id, lv, data, PAGE * (1 + round % 8)));
	}
	free(data);
	codec_ctx_free(a);
	codec_ctx_free(b);
}

RUN_TESTS("test_codec", UT(names_and_parse), UT(levels), UT(default_level_is_the_one_codec_levels_gives), UT(bound_of_none_is_the_input_size),
	  UT(bound_of_a_compressor_exceeds_the_input_size), UT(bound_of_an_unknown_codec_is_zero),
	  UT(bound_of_a_page_needs_little_slack), UT(bad_arguments),
	  UT(round_trip_every_level_kind_and_batch), UT(round_trip_empty_input),
	  UT(round_trip_tails_shorter_than_a_word), UT(round_trip_sizes_short_of_a_page),
	  UT(round_trip_around_the_stored_block_limit), UT(round_trip_large_odd_size),
	  UT(compress_enospc), UT(hostile_truncation),
	  UT(decode_refuses_an_expected_length_past_the_stream),
	  UT(decode_refuses_an_expected_length_short_of_the_stream),
	  UT(decode_refuses_output_space_short_of_the_expected_length),
	  UT(decode_refuses_an_absurd_expected_length),
	  UT(decode_accepts_exact_and_larger_output_space),
	  UT(decode_refuses_bytes_after_the_end_of_the_stream),
	  UT(decode_refuses_a_second_stream_appended), UT(hostile_bit_flips),
	  UT(decode_refuses_random_bytes), UT(decode_refuses_random_bytes_behind_a_zstd_magic),
	  UT(decode_refuses_random_bytes_behind_a_final_deflate_block_header),
	  UT(decode_refuses_another_codecs_output), UT(deflate_decodes_zlibs_raw_dynamic_blocks),
	  UT(deflate_decodes_zlibs_raw_stored_blocks), UT(deflate_refuses_a_zlib_header),
	  UT(deflate_output_is_raw_at_every_level),
	  UT(deflate_fits_incompressible_input_in_its_bound),
	  UT(contexts_are_independent_and_reusable))

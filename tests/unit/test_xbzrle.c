/* SPDX-License-Identifier: MIT */
/*
 * XBZRLE: the cases of QEMU's tests/unit/test-xbzrle.c (same pages, same
 * expectations, plus the exact bytes they encode to), a byte-at-a-time
 * reference encoder to compare against on random page pairs, malformed
 * deltas, and the sender's page cache.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/xbzrle.h"
#include "unittest.h"

#define PAGE XBZRLE_PAGE_SIZE
#define GUARD 64u
#define CANARY 0x5a
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The format, written the obvious way: a byte at a time, no length limit
 * checks beyond the output size. Returns the length, 0 for equal pages,
 * -1 if it does not fit.
 */
static long ref_encode(const uint8_t *old, const uint8_t *cur, size_t len, uint8_t *dst, size_t cap)
{
	size_t i = 0, d = 0;
	while (i < len) {
		size_t z = 0, n = 0;
		while (i + z < len && old[i + z] == cur[i + z])
			z++;
		if (z == len)
			return 0;
		if (i + z == len)
			break;
		while (i + z + n < len && old[i + z + n] != cur[i + z + n])
			n++;
		size_t need = (z < 128 ? 1 : 2) + (n < 128 ? 1 : 2) + n;
		if (d + need > cap)
			return -1;
		if (z < 128) {
			dst[d++] = (uint8_t)z;
		} else {
			dst[d++] = (uint8_t)(0x80 | (z & 0x7f));
			dst[d++] = (uint8_t)(z >> 7);
		}
		if (n < 128) {
			dst[d++] = (uint8_t)n;
		} else {
			dst[d++] = (uint8_t)(0x80 | (n & 0x7f));
			dst[d++] = (uint8_t)(n >> 7);
		}
		memcpy(dst + d, cur + i + z, n);
		d += n;
		i += z + n;
	}
	return (long)d;
}

static uint8_t *guarded(size_t cap)
{
	uint8_t *p = malloc(cap + GUARD);
	if (p)
		memset(p, CANARY, cap + GUARD);
	return p;
}

/* memcmp against a canary block, not a byte loop: the hostile cases check
 * hundreds of thousands of pages, and ASan checks every byte of a loop. */
static bool untouched(const uint8_t *p, size_t from, size_t to)
{
	static uint8_t canaries[PAGE];
	if (canaries[0] != CANARY)
		memset(canaries, CANARY, sizeof(canaries));
	for (size_t i = from; i < to; i += sizeof(canaries)) {
		size_t n = to - i < sizeof(canaries) ? to - i : sizeof(canaries);
		if (memcmp(p + i, canaries, n) != 0)
			return false;
	}
	return true;
}

/* ---- ULEB128 (QEMU's test_uleb) ---- */

TEST(uleb)
{
	uint8_t buf[2];
	uint32_t v;
	for (uint32_t i = 0; i <= 0x3fff; i++) {
		int e = xbzrle_uleb_encode(i, buf);
		CHECK_EQ_INT(e, i < 0x80 ? 1 : 2);
		CHECK_EQ_INT(xbzrle_uleb_decode(buf, 2, &v), e);
		CHECK_EQ_INT(v, i);
	}
	/* Byte layouts. */
	CHECK_EQ_INT(xbzrle_uleb_encode(127, buf), 1);
	CHECK_EQ_INT(buf[0], 0x7f);
	CHECK_EQ_INT(xbzrle_uleb_encode(128, buf), 2);
	CHECK(buf[0] == 0x80 && buf[1] == 0x01);
	CHECK_EQ_INT(xbzrle_uleb_encode(4095, buf), 2);
	CHECK(buf[0] == 0xff && buf[1] == 0x1f);
	CHECK_EQ_INT(xbzrle_uleb_encode(0x3fff, buf), 2);
	CHECK(buf[0] == 0xff && buf[1] == 0x7f);
	CHECK_EQ_INT(xbzrle_uleb_encode(0x4000, buf), -ERANGE);
	/* More than 14 bits, and truncated. */
	buf[0] = 0x80;
	buf[1] = 0x80;
	CHECK_EQ_INT(xbzrle_uleb_decode(buf, 2, &v), -EBADMSG);
	CHECK_EQ_INT(xbzrle_uleb_decode(buf, 1, &v), -EBADMSG);
	CHECK_EQ_INT(xbzrle_uleb_decode(buf, 0, &v), -EBADMSG);
}

/* ---- QEMU's encode/decode cases ---- */

/* QEMU's pattern: bytes 1001..1000+diff_len set, plus two lone bytes. */
static void qemu_pattern(uint8_t *p, int diff_len, int add, uint8_t b3, uint8_t b5)
{
	for (int i = diff_len; i > 0; i--)
		p[1000 + i] = (uint8_t)(i + add);
	p[1000 + diff_len + 3] = b3;
	p[1000 + diff_len + 5] = b5;
}

TEST(qemu_encode_decode_zero)
{
	/* A page against itself encodes to nothing, whatever it holds. */
	uint8_t *buffer = calloc(1, PAGE), *compressed = calloc(1, PAGE);
	CHECK(buffer && compressed);
	for (int diff_len = 0; diff_len < (int)PAGE - 1006; diff_len += 37) {
		qemu_pattern(buffer, diff_len, 0, 103, 105);
		CHECK_EQ_INT(xbzrle_encode(buffer, buffer, PAGE, compressed, PAGE), 0);
	}
	/* And the all-zero page. */
	memset(buffer, 0, PAGE);
	CHECK_EQ_INT(xbzrle_encode(buffer, buffer, PAGE, compressed, PAGE), 0);
	free(buffer);
	free(compressed);
}

TEST(qemu_encode_decode_unchanged)
{
	uint8_t *test = calloc(1, PAGE), *copy = malloc(PAGE), *compressed = calloc(1, PAGE);
	CHECK(test && copy && compressed);
	for (int diff_len = 0; diff_len < (int)PAGE - 1006; diff_len += 41) {
		qemu_pattern(test, diff_len, 4, 107, 109);
		memcpy(copy, test, PAGE);
		/* Equal content at different addresses, too. */
		CHECK_EQ_INT(xbzrle_encode(test, test, PAGE, compressed, PAGE), 0);
		CHECK_EQ_INT(xbzrle_encode(test, copy, PAGE, compressed, PAGE), 0);
	}
	free(test);
	free(copy);
	free(compressed);
}

TEST(qemu_encode_decode_1_byte)
{
	uint8_t *buffer = calloc(1, PAGE), *test = calloc(1, PAGE), *compressed = malloc(PAGE);
	uint8_t len_bytes[2];
	CHECK(buffer && test && compressed);
	test[PAGE - 1] = 1;
	int dlen = xbzrle_encode(buffer, test, PAGE, compressed, PAGE);
	/* QEMU: dlen == uleb128_encode_small(4095) + 2 */
	CHECK_EQ_INT(dlen, xbzrle_uleb_encode(4095, len_bytes) + 2);
	CHECK_EQ_INT(dlen, 4);
	static const uint8_t want[] = {0xff, 0x1f, 0x01, 0x01}; /* zrun 4095, nzrun 1, 0x01 */
	CHECK(memcmp(compressed, want, 4) == 0);
	CHECK_EQ_INT(xbzrle_decode(compressed, (size_t)dlen, buffer, PAGE), 0);
	CHECK(memcmp(test, buffer, PAGE) == 0);
	free(buffer);
	free(test);
	free(compressed);
}

TEST(qemu_encode_decode_overflow)
{
	/* Every other byte changed: 3 bytes of delta per 2 bytes of page. */
	uint8_t *compressed = guarded(PAGE), *test = calloc(1, PAGE), *buffer = calloc(1, PAGE);
	CHECK(compressed && test && buffer);
	for (unsigned i = 0; i < PAGE / 2 - 1; i++)
		test[i * 2] = 1;
	CHECK_EQ_INT(xbzrle_encode(buffer, test, PAGE, compressed, PAGE), -ENOSPC);
	CHECK(untouched(compressed, PAGE, PAGE + GUARD));
	free(compressed);
	free(test);
	free(buffer);
}

TEST(qemu_encode_decode_range)
{
	/* QEMU's encode_decode_range over many diff_len values: old = test,
	 * new = buffer; decoding into test must give buffer. */
	uint8_t *buffer = malloc(PAGE), *test = malloc(PAGE), *compressed = malloc(PAGE);
	uint8_t *ref = malloc(PAGE);
	CHECK(buffer && test && compressed && ref);
	for (int diff_len = 0; diff_len < (int)PAGE - 1006; diff_len++) {
		memset(buffer, 0, PAGE);
		memset(test, 0, PAGE);
		for (int i = diff_len; i > 0; i--) {
			buffer[1000 + i] = (uint8_t)i;
			test[1000 + i] = (uint8_t)(i + 4);
		}
		buffer[1000 + diff_len + 3] = 103;
		test[1000 + diff_len + 3] = 107;
		buffer[1000 + diff_len + 5] = 105;
		test[1000 + diff_len + 5] = 109;

		int dlen = xbzrle_encode(test, buffer, PAGE, compressed, PAGE);
		CHECK(dlen > 0 && dlen < (int)PAGE);
		CHECK_EQ_INT(ref_encode(test, buffer, PAGE, ref, PAGE), dlen);
		CHECK(memcmp(ref, compressed, (size_t)dlen) == 0);
		CHECK_EQ_INT(xbzrle_decode(compressed, (size_t)dlen, test, PAGE), 0);
		CHECK(memcmp(test, buffer, PAGE) == 0);
	}
	free(buffer);
	free(test);
	free(compressed);
	free(ref);
}

TEST(qemu_layouts)
{
	/* The exact deltas of QEMU's range case for two diff_len values. */
	uint8_t *buffer = calloc(1, PAGE), *test = calloc(1, PAGE), out[64];
	CHECK(buffer && test);
	/* diff_len 0: changes at 1003 and 1005 only. */
	buffer[1003] = 103, test[1003] = 107;
	buffer[1005] = 105, test[1005] = 109;
	static const uint8_t want0[] = {0xeb, 0x07, 0x01, 103, 0x01, 0x01, 105};
	CHECK_EQ_INT(xbzrle_encode(test, buffer, PAGE, out, sizeof(out)), sizeof(want0));
	CHECK(memcmp(out, want0, sizeof(want0)) == 0);
	/* diff_len 3: 1001..1003 changed, then 1006 and 1008. */
	memset(buffer, 0, PAGE);
	memset(test, 0, PAGE);
	qemu_pattern(buffer, 3, 0, 103, 105);
	qemu_pattern(test, 3, 4, 107, 109);
	static const uint8_t want3[] = {0xe9, 0x07, 0x03, 1,	2,    3,
					0x02, 0x01, 103,  0x01, 0x01, 105};
	CHECK_EQ_INT(xbzrle_encode(test, buffer, PAGE, out, sizeof(out)), sizeof(want3));
	CHECK(memcmp(out, want3, sizeof(want3)) == 0);
	/* A change in byte 0: the first zrun is 0 (the only place it may be). */
	memset(buffer, 0, PAGE);
	memset(test, 0, PAGE);
	buffer[0] = 9;
	buffer[200] = 8;
	static const uint8_t wantz[] = {0x00, 0x01, 9, 0xc7, 0x01, 0x01, 8};
	CHECK_EQ_INT(xbzrle_encode(test, buffer, PAGE, out, sizeof(out)), sizeof(wantz));
	CHECK(memcmp(out, wantz, sizeof(wantz)) == 0);
	free(buffer);
	free(test);
}

/* ---- random pairs against the reference ---- */

static void mutate(uint8_t *p, size_t len, unsigned changes, unsigned max_run, uint64_t *s)
{
	for (unsigned c = 0; c < changes; c++) {
		size_t at = rnd(s) % len, run = 1 + rnd(s) % max_run;
		for (size_t k = at; k < len && k < at + run; k++)
			p[k] ^= (uint8_t)(1 + rnd(s) % 255); /* always a real change */
	}
}

TEST(random_pairs_match_reference)
{
	uint64_t s = 7;
	uint8_t *mem = malloc(3 * PAGE + 64), *enc = malloc(2 * PAGE), *ref = malloc(2 * PAGE);
	CHECK(mem && enc && ref);
	for (unsigned t = 0; t < 4000; t++) {
		/* Odd lengths and misaligned pages exercise the word loops' tails. */
		size_t len = t % 4 ? PAGE : 1 + rnd(&s) % PAGE;
		uint8_t *old = mem + rnd(&s) % 8, *cur = mem + PAGE + 16 + rnd(&s) % 8;
		uint8_t *back = mem + 2 * PAGE + 32 + rnd(&s) % 8;
		for (size_t i = 0; i < len; i++)
			old[i] = (t & 8) ? (uint8_t)rnd(&s) : 0;
		memcpy(cur, old, len);
		unsigned kind = t % 5;
		if (kind == 0)
			mutate(cur, len, 1 + (unsigned)(rnd(&s) % 3), 4, &s); /* a few bytes */
		else if (kind == 1)
			mutate(cur, len, 1 + (unsigned)(rnd(&s) % 40), 64, &s); /* some runs */
		else if (kind == 2)
			mutate(cur, len, (unsigned)(len / 3), 1, &s); /* scattered */
		else if (kind == 3)
			mutate(cur, len, 1, (unsigned)len, &s); /* one long run */
		/* kind 4: unchanged */

		size_t cap = (t & 16) ? 2 * PAGE : PAGE;
		int n = xbzrle_encode(old, cur, len, enc, cap);
		long r = ref_encode(old, cur, len, ref, cap);
		if (r < 0) {
			CHECK_EQ_INT(n, -ENOSPC);
			continue;
		}
		CHECK_EQ_INT(n, r);
		CHECK(memcmp(enc, ref, (size_t)n) == 0);
		if (kind == 4)
			CHECK_EQ_INT(n, 0);
		memcpy(back, old, len);
		CHECK_EQ_INT(xbzrle_decode(enc, (size_t)n, back, len), 0);
		CHECK(memcmp(back, cur, len) == 0);
	}
	free(mem);
	free(enc);
	free(ref);
}

TEST(enospc_is_exact)
{
	/* The encoder fails exactly when the delta is longer than dst_cap,
	 * and writes nothing past dst_cap. */
	uint64_t s = 11;
	uint8_t *old = malloc(PAGE), *cur = malloc(PAGE), *full = malloc(2 * PAGE);
	CHECK(old && cur && full);
	for (unsigned t = 0; t < 300; t++) {
		for (unsigned i = 0; i < PAGE; i++)
			old[i] = (uint8_t)rnd(&s);
		memcpy(cur, old, PAGE);
		mutate(cur, PAGE, 1 + t % 50, 1 + t % 100, &s);
		int n = xbzrle_encode(old, cur, PAGE, full, 2 * PAGE);
		CHECK(n > 0);
		for (int cap = n - 3; cap <= n + 1; cap++) {
			if (cap < 0)
				continue;
			uint8_t *d = guarded((size_t)cap);
			CHECK(d);
			int m = xbzrle_encode(old, cur, PAGE, d, (size_t)cap);
			bool ok =
			    cap >= n ? (m == n && memcmp(d, full, (size_t)n) == 0) : m == -ENOSPC;
			ok = ok && untouched(d, (size_t)cap, (size_t)cap + GUARD);
			free(d);
			CHECK(ok);
		}
	}
	/* Everything changed: zrun 0, nzrun 4096, the page: 4099 bytes. */
	memset(old, 0, PAGE);
	memset(cur, 0xee, PAGE);
	CHECK_EQ_INT(xbzrle_encode(old, cur, PAGE, full, PAGE), -ENOSPC);
	CHECK_EQ_INT(xbzrle_encode(old, cur, PAGE, full, 2 * PAGE), PAGE + 3);
	CHECK(full[0] == 0x00 && full[1] == 0x80 && full[2] == 0x20 && full[3] == 0xee);
	CHECK_EQ_INT(xbzrle_encode(old, cur, PAGE, NULL, 0), -ENOSPC);
	CHECK_EQ_INT(xbzrle_encode(old, old, PAGE, NULL, 0), 0);
	CHECK_EQ_INT(xbzrle_encode(NULL, cur, PAGE, full, PAGE), -EINVAL);
	free(old);
	free(cur);
	free(full);
}

TEST(long_runs_beyond_14_bits)
{
	/* Larger than 16 KiB: long unchanged runs are cut with a one-byte
	 * changed run; a changed run over 0x3fff cannot be expressed. */
	size_t len = 40000;
	uint8_t *old = calloc(1, len), *cur = calloc(1, len), *enc = malloc(len),
		*back = malloc(len);
	CHECK(old && cur && enc && back);
	cur[len - 1] = 7;
	int n = xbzrle_encode(old, cur, len, enc, len);
	CHECK(n > 0);
	CHECK(enc[0] == 0xff && enc[1] == 0x7f && enc[2] == 0x01 && enc[3] == 0x00);
	memcpy(back, old, len);
	CHECK_EQ_INT(xbzrle_decode(enc, (size_t)n, back, len), 0);
	CHECK(memcmp(back, cur, len) == 0);
	/* A cut landing right before a changed byte: the cut run absorbs it. */
	memset(cur, 0, len);
	cur[0x4000] = 1;
	cur[0x4001] = 2;
	n = xbzrle_encode(old, cur, len, enc, len);
	static const uint8_t want[] = {0xff, 0x7f, 0x03, 0x00, 1, 2};
	CHECK_EQ_INT(n, sizeof(want));
	CHECK(memcmp(enc, want, sizeof(want)) == 0);
	memcpy(back, old, len);
	CHECK_EQ_INT(xbzrle_decode(enc, (size_t)n, back, len), 0);
	CHECK(memcmp(back, cur, len) == 0);
	/* Changed run of 0x4000 bytes. */
	memset(cur, 0, len);
	memset(cur + 100, 0x11, 0x4000);
	CHECK_EQ_INT(xbzrle_encode(old, cur, len, enc, len), -ENOSPC);
	memset(cur + 100, 0, 1); /* now 0x3fff: fits */
	n = xbzrle_encode(old, cur, len, enc, len);
	CHECK(n > 0);
	memcpy(back, old, len);
	CHECK_EQ_INT(xbzrle_decode(enc, (size_t)n, back, len), 0);
	CHECK(memcmp(back, cur, len) == 0);
	free(old);
	free(cur);
	free(enc);
	free(back);
}

/* ---- malformed deltas ---- */

/* Decodes into a copy of a page and checks the verdict; on failure the
 * page must be untouched and nothing around it written. */
static int try_decode(const uint8_t *src, size_t src_len, size_t page_len)
{
	uint8_t *page = guarded(page_len);
	int rc;
	if (!page)
		return 1;
	rc = xbzrle_decode(src, src_len, page, page_len);
	if (rc != 0 && rc != -EBADMSG)
		rc = 1;
	if (rc != 0 && !untouched(page, 0, page_len + GUARD))
		rc = 1;
	if (!untouched(page, page_len, page_len + GUARD))
		rc = 1;
	free(page);
	return rc;
}

/* A hand-written delta and the verdict on it, applied to a 4 KiB page. */
struct delta_case {
	const char *what;
	uint8_t b[8];
	size_t n;
	int rc;
};

static void decode_verdicts(struct ut_state *ut_, const struct delta_case *cases, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = try_decode(cases[i].b, cases[i].n, PAGE);
		CHECK_MSG(rc == cases[i].rc, "%s: got %d, want %d", cases[i].what, rc, cases[i].rc);
	}
}

TEST(decode_accepts_well_formed_deltas)
{
	static const struct delta_case cases[] = {
	    {"empty delta", {0}, 0, 0},
	    {"zrun 0 at the start", {0x00, 0x01, 0xaa}, 3, 0},
	    {"minimal pair", {0x05, 0x02, 1, 2}, 4, 0},
	    {"data to the page end", {0xff, 0x1f, 0x01, 1}, 4, 0},
	    {"non-minimal ULEB (QEMU accepts it)", {0x85, 0x00, 0x01, 0xaa}, 4, 0},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

TEST(decode_refuses_a_delta_cut_short)
{
	static const struct delta_case cases[] = {
	    {"zrun alone", {0x05}, 1, -EBADMSG},
	    {"ULEB cut after its first byte", {0x80}, 1, -EBADMSG},
	    {"nzrun ULEB cut", {0x05, 0x81}, 2, -EBADMSG},
	    {"data past the input", {0x00, 0x05, 1, 2, 3}, 5, -EBADMSG},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

TEST(decode_refuses_a_uleb_longer_than_14_bits)
{
	static const struct delta_case cases[] = {
	    {"zrun longer than 14 bits", {0x80, 0x80, 0x01, 0x01, 0xaa}, 5, -EBADMSG},
	    {"nzrun longer than 14 bits", {0x01, 0x81, 0x80, 0x01, 0xaa}, 5, -EBADMSG},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

TEST(decode_refuses_an_empty_changed_run)
{
	static const struct delta_case cases[] = {
	    {"nzrun 0", {0x05, 0x00}, 2, -EBADMSG},
	    {"nzrun 0 with a byte", {0x05, 0x00, 0xaa}, 3, -EBADMSG},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

TEST(decode_refuses_runs_past_the_page)
{
	static const struct delta_case cases[] = {
	    {"zrun past the page", {0x81, 0x20, 0x01, 0xaa}, 4, -EBADMSG},	       /* 4097 */
	    {"zrun to the page end then data", {0x80, 0x20, 0x01, 0xaa}, 4, -EBADMSG}, /* 4096 */
	    {"data past the page", {0xff, 0x1f, 0x02, 1, 2}, 5, -EBADMSG}, /* 4095 + 2 */
	    {"max zrun on a 4 KiB page", {0xff, 0x7f, 0x01, 1}, 4, -EBADMSG},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

/* Only the first pair may start with a zero-length unchanged run. */
TEST(decode_refuses_a_zero_zrun_after_the_first_pair)
{
	static const struct delta_case cases[] = {
	    {"zero zrun after the first pair", {0x00, 0x01, 0xaa, 0x00, 0x01, 0xbb}, 6, -EBADMSG},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

TEST(decode_refuses_bytes_after_the_last_run)
{
	static const struct delta_case cases[] = {
	    {"trailing byte", {0x05, 0x01, 0xaa, 0x07}, 4, -EBADMSG},
	    {"trailing zrun+nzrun header", {0x05, 0x01, 0xaa, 0x07, 0x01}, 5, -EBADMSG},
	};
	decode_verdicts(ut_, cases, COUNT_OF(cases));
}

/* A NULL page with no length is an error only if there is a delta. */
TEST(decode_into_no_page_accepts_only_an_empty_delta)
{
	static const uint8_t pair[] = {0x05, 0x02, 1, 2}; /* 5 unchanged bytes, 2 changed */
	CHECK_EQ_INT(xbzrle_decode(NULL, 0, NULL, 0), 0);
	CHECK_EQ_INT(xbzrle_decode(pair, sizeof(pair), NULL, 0), -EBADMSG);
	CHECK_EQ_INT(try_decode(pair, sizeof(pair), 0), -EBADMSG); /* zero-size page */
}

TEST(truncated_and_random_deltas)
{
	uint64_t s = 31337;
	uint8_t *old = malloc(PAGE), *cur = malloc(PAGE), *enc = malloc(PAGE), *junk = malloc(600);
	CHECK(old && cur && enc && junk);
	for (unsigned t = 0; t < 40; t++) {
		for (unsigned i = 0; i < PAGE; i++)
			old[i] = (uint8_t)rnd(&s);
		memcpy(cur, old, PAGE);
		mutate(cur, PAGE, 1 + t, 20, &s);
		int n = xbzrle_encode(old, cur, PAGE, enc, PAGE);
		CHECK(n > 0);
		/* Every cut: a clean verdict; a cut inside the last run's data
		 * always fails. */
		for (int cut = 0; cut < n; cut++) {
			int rc = try_decode(enc, (size_t)cut, PAGE);
			CHECK(rc == 0 || rc == -EBADMSG);
		}
		CHECK_EQ_INT(try_decode(enc, (size_t)n - 1, PAGE), -EBADMSG);
		/* The same delta on a page that is too short. */
		CHECK_EQ_INT(try_decode(enc, (size_t)n, 100), -EBADMSG);
	}
	/* Random bytes. */
	unsigned ok = 0;
	for (unsigned t = 0; t < 200000; t++) {
		size_t len = 1 + rnd(&s) % 600;
		for (size_t i = 0; i < len; i++)
			junk[i] = (uint8_t)rnd(&s);
		if (t & 1)
			for (size_t i = 0; i < len; i++)
				junk[i] &= 0x8f; /* small lengths: more deltas get deep */
		int rc = try_decode(junk, len, PAGE);
		CHECK(rc == 0 || rc == -EBADMSG);
		ok += rc == 0;
	}
	CHECK(ok > 0); /* some random deltas are valid, and applied in bounds */
	free(old);
	free(cur);
	free(enc);
	free(junk);
}

/* ---- page cache ---- */

/* An 8-slot cache (page i lives in slot i % 8), a page of 1s and one of 2s. */
struct cache_fixture {
	struct xbzrle_cache *c;
	uint8_t ones[PAGE], twos[PAGE];
};

static struct xbzrle_cache *cache_fixture_init(struct cache_fixture *f)
{
	memset(f->ones, 1, PAGE);
	memset(f->twos, 2, PAGE);
	f->c = xbzrle_cache_new(10 * PAGE + 100);
	return f->c;
}

TEST(cache_refuses_less_than_a_page)
{
	errno = 0;
	CHECK(xbzrle_cache_new(0) == NULL && errno == EINVAL);
	CHECK(xbzrle_cache_new(PAGE - 1) == NULL);
}

TEST(cache_slots_round_down_to_a_power_of_two)
{
	struct cache_fixture f;
	struct xbzrle_stats st;
	CHECK(cache_fixture_init(&f));
	xbzrle_cache_stats(f.c, &st);
	CHECK_EQ_INT(st.slots, 8); /* 10 pages and a bit */
	xbzrle_cache_free(f.c);
}

TEST(cache_lookup_returns_a_copy_of_the_inserted_page)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK(xbzrle_cache_lookup(f.c, 3) == NULL);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);
	const uint8_t *p = xbzrle_cache_lookup(f.c, 3);
	CHECK(p && memcmp(p, f.ones, PAGE) == 0);
	f.ones[0] = 9;
	CHECK(p[0] == 1);
	xbzrle_cache_free(f.c);
}

TEST(cache_insert_updates_the_same_page)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.twos), 0);
	const uint8_t *p = xbzrle_cache_lookup(f.c, 3);
	CHECK(p && p[0] == 2);
	xbzrle_cache_free(f.c);
}

/* 11 maps to the same slot as 3 (11 % 8), and 3 is fresh: kept. */
TEST(cache_keeps_a_fresh_page_against_another_for_its_slot)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);
	CHECK(xbzrle_cache_lookup(f.c, 11) == NULL);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 11, f.twos), -EBUSY);
	CHECK(xbzrle_cache_lookup(f.c, 3) != NULL);
	xbzrle_cache_free(f.c);
}

TEST(cache_counts_hits_misses_and_busy_slots)
{
	struct cache_fixture f;
	struct xbzrle_stats st;
	CHECK(cache_fixture_init(&f));
	CHECK(xbzrle_cache_lookup(f.c, 3) == NULL); /* miss */
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);
	CHECK(xbzrle_cache_lookup(f.c, 3) != NULL);		    /* hit */
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);	    /* an update: neither */
	CHECK(xbzrle_cache_lookup(f.c, 3) != NULL);		    /* hit */
	CHECK(xbzrle_cache_lookup(f.c, 11) == NULL);		    /* miss */
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 11, f.twos), -EBUSY); /* busy */
	CHECK(xbzrle_cache_lookup(f.c, 3) != NULL);		    /* hit */
	xbzrle_cache_stats(f.c, &st);
	CHECK_EQ_INT(st.hits, 3);
	CHECK_EQ_INT(st.misses, 2);
	CHECK_EQ_INT(st.busy, 1);
	CHECK_EQ_INT(st.evictions, 0);
	xbzrle_cache_free(f.c);
}

TEST(cache_keeps_a_page_one_generation_old)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);
	xbzrle_cache_next_generation(f.c);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 11, f.twos), -EBUSY);
	xbzrle_cache_free(f.c);
}

TEST(cache_evicts_a_page_two_generations_old)
{
	struct cache_fixture f;
	struct xbzrle_stats st;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 3, f.ones), 0);
	xbzrle_cache_next_generation(f.c);
	xbzrle_cache_next_generation(f.c);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 11, f.twos), 0);
	CHECK(xbzrle_cache_lookup(f.c, 3) == NULL);
	const uint8_t *p = xbzrle_cache_lookup(f.c, 11);
	CHECK(p && p[0] == 2);
	xbzrle_cache_stats(f.c, &st);
	CHECK_EQ_INT(st.evictions, 1);
	xbzrle_cache_free(f.c);
}

TEST(cache_hit_makes_a_page_young_again)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 11, f.twos), 0);
	xbzrle_cache_next_generation(f.c);
	xbzrle_cache_next_generation(f.c);
	CHECK(xbzrle_cache_lookup(f.c, 11) != NULL);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 19, f.ones), -EBUSY);
	xbzrle_cache_free(f.c);
}

/* Other slots are independent; page index 0 and huge indexes work. */
TEST(cache_holds_pages_of_any_index_in_their_own_slots)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 11, f.twos), 0);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 0, f.ones), 0);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, (1ull << 40) + 5, f.ones), 0);
	CHECK(xbzrle_cache_lookup(f.c, 0) != NULL);
	CHECK(xbzrle_cache_lookup(f.c, (1ull << 40) + 5) != NULL);
	CHECK(xbzrle_cache_lookup(f.c, UINT64_MAX) == NULL);
	xbzrle_cache_free(f.c);
}

TEST(cache_insert_refuses_the_last_index_and_no_page)
{
	struct cache_fixture f;
	CHECK(cache_fixture_init(&f));
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, UINT64_MAX, f.ones), -EINVAL);
	CHECK_EQ_INT(xbzrle_cache_insert(f.c, 1, NULL), -EINVAL);
	xbzrle_cache_free(f.c);
}

/* Counters the caller keeps. */
TEST(cache_counts_overflows_and_bytes_saved)
{
	struct cache_fixture f;
	struct xbzrle_stats st;
	CHECK(cache_fixture_init(&f));
	xbzrle_cache_note_overflow(f.c);
	xbzrle_cache_note_saved(f.c, 4000);
	xbzrle_cache_note_saved(f.c, 96);
	xbzrle_cache_stats(f.c, &st);
	CHECK_EQ_INT(st.overflows, 1);
	CHECK_EQ_INT(st.bytes_saved, 4096);
	xbzrle_cache_free(f.c);
}

TEST(cache_free_and_stats_take_null)
{
	struct xbzrle_stats st;
	memset(&st, 0xff, sizeof(st));
	xbzrle_cache_free(NULL);
	xbzrle_cache_stats(NULL, &st);
	CHECK_EQ_INT(st.hits, 0);
}

TEST(cache_sender_receiver_flow)
{
	/* A sender with a cache and a receiver holding guest pages: over many
	 * passes of small writes, every page the receiver ends with matches. */
	enum { PAGES = 64, PASSES = 12 };
	uint64_t s = 2024;
	uint8_t *guest = malloc((size_t)PAGES * PAGE), *dest = calloc(PAGES, PAGE);
	uint8_t *delta = malloc(PAGE);
	struct xbzrle_cache *c = xbzrle_cache_new(32 * PAGE); /* half the pages fit */
	struct xbzrle_stats st;
	unsigned deltas = 0, full = 0;
	CHECK(guest && dest && delta && c);
	for (size_t i = 0; i < (size_t)PAGES * PAGE; i++)
		guest[i] = (uint8_t)rnd(&s);
	for (unsigned pass = 0; pass < PASSES; pass++) {
		for (uint64_t pg = 0; pg < PAGES; pg++) {
			uint8_t *gp = guest + pg * PAGE, *dp = dest + pg * PAGE;
			if (pass > 0)
				mutate(gp, PAGE, (unsigned)(rnd(&s) % 6), pass == 5 ? 2000 : 16,
				       &s);
			const uint8_t *cached = xbzrle_cache_lookup(c, pg);
			int n = cached ? xbzrle_encode(cached, gp, PAGE, delta, PAGE / 2) : -1;
			if (n == -ENOSPC)
				xbzrle_cache_note_overflow(c);
			if (n >= 0) {
				/* "send" the delta */
				CHECK_EQ_INT(xbzrle_decode(delta, (size_t)n, dp, PAGE), 0);
				xbzrle_cache_note_saved(c, PAGE - (uint64_t)n);
				deltas++;
			} else {
				memcpy(dp, gp, PAGE); /* "send" the page */
				full++;
			}
			int rc = xbzrle_cache_insert(c, pg, gp);
			CHECK(rc == 0 || rc == -EBUSY);
		}
		CHECK(memcmp(guest, dest, (size_t)PAGES * PAGE) == 0);
		xbzrle_cache_next_generation(c);
	}
	xbzrle_cache_stats(c, &st);
	CHECK(deltas > 0 && full > 0);
	CHECK(st.hits == deltas + st.overflows);
	CHECK(st.overflows > 0 && st.bytes_saved > 0);
	xbzrle_cache_free(c);
	free(guest);
	free(dest);
	free(delta);
}

RUN_TESTS("test_xbzrle", UT(uleb), UT(qemu_encode_decode_zero), UT(qemu_encode_decode_unchanged),
	  UT(qemu_encode_decode_1_byte), UT(qemu_encode_decode_overflow),
	  UT(qemu_encode_decode_range), UT(qemu_layouts), UT(random_pairs_match_reference),
	  UT(enospc_is_exact), UT(long_runs_beyond_14_bits), UT(decode_accepts_well_formed_deltas),
	  UT(decode_refuses_a_delta_cut_short), UT(decode_refuses_a_uleb_longer_than_14_bits),
	  UT(decode_refuses_an_empty_changed_run), UT(decode_refuses_runs_past_the_page),
	  UT(decode_refuses_a_zero_zrun_after_the_first_pair),
	  UT(decode_refuses_bytes_after_the_last_run),
	  UT(decode_into_no_page_accepts_only_an_empty_delta), UT(truncated_and_random_deltas),
	  UT(cache_refuses_less_than_a_page), UT(cache_slots_round_down_to_a_power_of_two),
	  UT(cache_lookup_returns_a_copy_of_the_inserted_page),
	  UT(cache_insert_updates_the_same_page),
	  UT(cache_keeps_a_fresh_page_against_another_for_its_slot),
	  UT(cache_counts_hits_misses_and_busy_slots), UT(cache_keeps_a_page_one_generation_old),
	  UT(cache_evicts_a_page_two_generations_old), UT(cache_hit_makes_a_page_young_again),
	  UT(cache_holds_pages_of_any_index_in_their_own_slots),
	  UT(cache_insert_refuses_the_last_index_and_no_page),
	  UT(cache_counts_overflows_and_bytes_saved), UT(cache_free_and_stats_take_null),
	  UT(cache_sender_receiver_flow))

/* SPDX-License-Identifier: MIT */
/*
 * Page header and checksum. The checksum pass reads the whole page, so it
 * is written for SSE2 (GCC vector extensions): two 64-bit lanes of sum,
 * position-keyed xor and or, all one cycle each, memory-bound in practice.
 */
#include "page.h"

#include "fill.h"
#include "rng.h"

typedef uint64_t v2u64 __attribute__((vector_size(16)));

#define POS_KEY 0x9e3779b97f4a7c15ull

static void sums_of(const uint64_t *payload, struct page_sums *s)
{
	const v2u64 *v = (const v2u64 *)payload; /* 16-byte aligned: page + 16 */
	v2u64 add = {0, 0}, pos = {0, 0}, any = {0, 0};
	v2u64 key = {0, POS_KEY};
	const v2u64 step = {2 * POS_KEY, 2 * POS_KEY};

	for (unsigned i = 0; i < PAYLOAD_WORDS / 2; i++) {
		v2u64 w = v[i];
		add += w;
		pos ^= w + key;
		any |= w;
		key += step;
	}
	s->add = add[0] + add[1];
	s->pos = pos[0] ^ pos[1];
	s->any = any[0] | any[1];
}

static uint64_t csum_of(uint32_t pageno, uint32_t gen, const struct page_sums *s)
{
	return mix64(s->add ^ mix64(s->pos + (((uint64_t)pageno << 32) | gen)));
}

enum page_verdict page_verify(const void *page, uint32_t pageno, uint32_t want_gen,
			      struct page_sums *s, uint32_t *got_gen)
{
	const struct page_hdr *h = page;
	const uint64_t *w = page;

	sums_of(w + 2, s);
	*got_gen = h->gen;
	if (!want_gen)
		return (w[0] | w[1] | s->any) ? PAGE_NOT_ZERO : PAGE_OK;
	if (h->pageno != pageno)
		return PAGE_BAD_HEADER;
	if (h->csum != csum_of(pageno, h->gen, s))
		return PAGE_BAD_CSUM;
	/* Intact but not the version we last wrote: an old copy. */
	return h->gen == want_gen ? PAGE_OK : PAGE_STALE;
}

const char *page_verdict_name(enum page_verdict v)
{
	static const char *const names[] = {"ok", "bad header", "stale", "bad checksum",
					    "not zero", "module changed"};
	return names[v];
}

static void set_header(void *page, uint32_t pageno, uint32_t gen, const struct page_sums *s)
{
	struct page_hdr *h = page;
	h->pageno = pageno;
	h->gen = gen;
	h->csum = csum_of(pageno, gen, s);
}

void page_write_full(void *page, uint32_t pageno, uint32_t gen, enum fill_kind kind,
		     uint64_t seed)
{
	uint64_t *w = page;
	struct page_sums s;

	fill_bytes(kind, w + 2, PAYLOAD_WORDS * 8, seed);
	sums_of(w + 2, &s); /* the payload is still in L1 */
	set_header(page, pageno, gen, &s);
}

void page_write_word(void *page, uint32_t pageno, uint32_t gen, struct page_sums *s,
		     uint64_t seed)
{
	uint64_t *payload = (uint64_t *)page + 2;
	uint64_t r = mix64(seed);
	unsigned j = (unsigned)(r % PAYLOAD_WORDS);
	uint64_t key = POS_KEY * j, old = payload[j], val = mix64(r);

	payload[j] = val;
	s->add += val - old;
	s->pos ^= (old + key) ^ (val + key);
	s->any |= val;
	set_header(page, pageno, gen, s);
}

void page_clear(void *page)
{
	uint64_t *w = page;
	for (unsigned i = 0; i < PAGE_WORDS; i++)
		w[i] = 0;
}

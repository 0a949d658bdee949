/* SPDX-License-Identifier: MIT */
#include "migration/ram.h"

#include <errno.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int ram_map_init(struct ram_map *m, const struct vmig_guest *g, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->nr = g->ops->ram_regions(g->opaque, m->r, VMIG_MAX_RAM_REGIONS);
	if (m->nr == 0 || m->nr > VMIG_MAX_RAM_REGIONS) {
		snprintf(err, errlen, "guest has %u RAM regions", m->nr);
		return -EINVAL;
	}
	for (unsigned i = 0; i < m->nr; i++) {
		m->first_page[i] = m->total_pages;
		m->pages[i] = m->r[i].size / VMIG_PAGE_SIZE;
		m->total_pages += m->pages[i];
	}
	m->hash = malloc(m->total_pages * sizeof(uint64_t));
	if (!m->hash) {
		snprintf(err, errlen, "out of memory for %llu page hashes",
			 (unsigned long long)m->total_pages);
		return -ENOMEM;
	}
	static const uint8_t zero[VMIG_PAGE_SIZE];
	m->zero_hash = page_hash(zero);
	for (uint64_t i = 0; i < m->total_pages; i++)
		m->hash[i] = m->zero_hash;
	return 0;
}

void ram_map_free(struct ram_map *m)
{
	free(m->hash);
	m->hash = NULL;
}

uint8_t *ram_page(const struct ram_map *m, uint64_t index)
{
	for (unsigned i = 0; i < m->nr; i++)
		if (index >= m->first_page[i] && index - m->first_page[i] < m->pages[i])
			return m->r[i].host + (index - m->first_page[i]) * VMIG_PAGE_SIZE;
	return NULL;
}

__attribute__((target("avx2"))) static bool page_is_zero_avx2(const void *page)
{
	const __m256i *p = page;
	for (unsigned i = 0; i < VMIG_PAGE_SIZE / 32; i += 8) {
		__m256i acc = _mm256_or_si256(
			_mm256_or_si256(_mm256_or_si256(_mm256_loadu_si256(p + i), _mm256_loadu_si256(p + i + 1)),
					_mm256_or_si256(_mm256_loadu_si256(p + i + 2), _mm256_loadu_si256(p + i + 3))),
			_mm256_or_si256(_mm256_or_si256(_mm256_loadu_si256(p + i + 4), _mm256_loadu_si256(p + i + 5)),
					_mm256_or_si256(_mm256_loadu_si256(p + i + 6), _mm256_loadu_si256(p + i + 7))));
		if (!_mm256_testz_si256(acc, acc))
			return false;
	}
	return true;
}

static bool page_is_zero_sse2(const void *page)
{
	const __m128i *p = page;
	for (unsigned i = 0; i < VMIG_PAGE_SIZE / 16; i += 4) {
		__m128i acc = _mm_or_si128(_mm_or_si128(_mm_loadu_si128(p + i), _mm_loadu_si128(p + i + 1)),
					   _mm_or_si128(_mm_loadu_si128(p + i + 2), _mm_loadu_si128(p + i + 3)));
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(acc, _mm_setzero_si128())) != 0xffff)
			return false;
	}
	return true;
}

bool page_is_zero(const void *page)
{
	/* Most non-zero pages differ in their first bytes: a cheap early out. */
	uint64_t first;
	memcpy(&first, page, 8);
	if (first)
		return false;
	if (__builtin_cpu_supports("avx2"))
		return page_is_zero_avx2(page);
	return page_is_zero_sse2(page);
}

__attribute__((target("avx2"))) static bool page_copy_is_zero_avx2(void *dst, const void *src)
{
	const __m256i *s = src;
	__m256i *d = dst;
	__m256i acc = _mm256_setzero_si256();
	for (unsigned i = 0; i < VMIG_PAGE_SIZE / 32; i += 4) {
		__m256i a = _mm256_loadu_si256(s + i), b = _mm256_loadu_si256(s + i + 1);
		__m256i c = _mm256_loadu_si256(s + i + 2), e = _mm256_loadu_si256(s + i + 3);
		_mm256_storeu_si256(d + i, a);
		_mm256_storeu_si256(d + i + 1, b);
		_mm256_storeu_si256(d + i + 2, c);
		_mm256_storeu_si256(d + i + 3, e);
		acc = _mm256_or_si256(acc, _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, e)));
	}
	return _mm256_testz_si256(acc, acc);
}

bool page_copy_is_zero(void *dst, const void *src)
{
	if (__builtin_cpu_supports("avx2"))
		return page_copy_is_zero_avx2(dst, src);
	memcpy(dst, src, VMIG_PAGE_SIZE);
	return page_is_zero(dst);
}

uint64_t page_hash(const void *page)
{
	return XXH3_64bits(page, VMIG_PAGE_SIZE);
}

uint64_t ram_digest(const struct ram_map *m)
{
	return XXH3_64bits(m->hash, m->total_pages * sizeof(uint64_t));
}

/* SPDX-License-Identifier: MIT */
/*
 * Zero-page detection, the hottest loop of the sender. Portable C works
 * on every host; on x86 the same answers come faster from SSE2/AVX2,
 * chosen at run time. The tests run both and compare.
 */
#include <stdint.h>
#include <string.h>

#include "migration/ram.h"

#if defined(__x86_64__) || defined(__i386__)
#define VMIG_HAVE_X86_SIMD 1
#include <immintrin.h>
#endif

bool page_is_zero_generic(const void *page)
{
	const uint8_t *p = page;
	for (unsigned i = 0; i < VMIG_PAGE_SIZE; i += 64) {
		uint64_t w[8];
		memcpy(w, p + i, sizeof(w));
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return false;
	}
	return true;
}

bool page_copy_is_zero_generic(void *dst, const void *src)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	uint64_t acc = 0;
	for (unsigned i = 0; i < VMIG_PAGE_SIZE; i += 64) {
		uint64_t w[8];
		memcpy(w, s + i, sizeof(w));
		memcpy(d + i, w, sizeof(w));
		acc |= w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
	}
	return acc == 0;
}

#ifdef VMIG_HAVE_X86_SIMD
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

__attribute__((target("sse2"))) static bool page_is_zero_sse2(const void *page)
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
#endif

bool page_is_zero(const void *page)
{
	/* Most non-zero pages differ in their first bytes: a cheap early out. */
	uint64_t first;
	memcpy(&first, page, 8);
	if (first)
		return false;
#ifdef VMIG_HAVE_X86_SIMD
	if (__builtin_cpu_supports("avx2"))
		return page_is_zero_avx2(page);
	if (__builtin_cpu_supports("sse2"))
		return page_is_zero_sse2(page);
#endif
	return page_is_zero_generic(page);
}

bool page_copy_is_zero(void *dst, const void *src)
{
#ifdef VMIG_HAVE_X86_SIMD
	if (__builtin_cpu_supports("avx2"))
		return page_copy_is_zero_avx2(dst, src);
#endif
	return page_copy_is_zero_generic(dst, src);
}

/* SPDX-License-Identifier: MIT */
#include "modules.h"

#include "page.h"
#include "rng.h"

#define POS_KEY 0x9e3779b97f4a7c15ull

int modules_init(struct module_pages *M, const struct vmig_boot_info *bi, uint64_t image_end,
		 const char **why)
{
	const struct vmig_module *src = (const struct vmig_module *)(uintptr_t)bi->mods_addr;

	*M = (struct module_pages){0};
	if (!src)
		return 0;
	M->count = bi->mods_count < VMIG_MAX_MODULES ? bi->mods_count : VMIG_MAX_MODULES;
	for (unsigned m = 0; m < M->count; m++) {
		struct vmig_module v = src[m];
		if (v.mod_end < v.mod_start) {
			*why = "a boot module ends before it starts";
			return -1;
		}
		if (v.mod_start < image_end && v.mod_end > v.mod_start) {
			*why = "a boot module overlaps the guest image";
			return -1;
		}
		M->list[m] = v;
		uint64_t lo = v.mod_start & ~(uint64_t)(PAGE_SIZE - 1);
		uint64_t hi = ((uint64_t)v.mod_end + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
		M->first[m] = M->pages;
		M->pages += v.mod_end > v.mod_start ? (hi - lo) / PAGE_SIZE : 0;
		if (hi > M->end)
			M->end = hi;
	}
	M->first[M->count] = M->pages;
	return 0;
}

uint64_t modules_page(const struct module_pages *M, uint64_t i, uint64_t *at, unsigned *len)
{
	unsigned m = 0;
	while (m + 1 < M->count && i >= M->first[m + 1])
		m++;
	const struct vmig_module *v = &M->list[m];
	uint64_t gpa = (v->mod_start & ~(uint64_t)(PAGE_SIZE - 1)) + (i - M->first[m]) * PAGE_SIZE;
	uint64_t lo = gpa < v->mod_start ? v->mod_start : gpa;
	uint64_t hi = gpa + PAGE_SIZE < v->mod_end ? gpa + PAGE_SIZE : v->mod_end;
	*at = lo;
	*len = (unsigned)(hi - lo);
	return gpa;
}

/* A sum and a position-keyed xor of the 8-byte words (as page.c's
 * checksum): any one changed word, and swapped words, change it. */
static uint64_t hash_bytes(const uint8_t *p, unsigned len)
{
	uint64_t add = 0, pos = 0, key = 0;
	unsigned i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		__builtin_memcpy(&w, p + i, 8);
		add += w;
		pos ^= w + key;
		key += POS_KEY;
	}
	uint64_t tail = 0;
	for (unsigned k = 0; i + k < len; k++)
		tail |= (uint64_t)p[i + k] << (8 * k);
	return mix64(add ^ mix64(pos + tail + ((uint64_t)len << 48)));
}

static uint64_t hash_page(const struct module_pages *M, uint64_t i)
{
	uint64_t at;
	unsigned len;
	modules_page(M, i, &at, &len);
	return hash_bytes((const uint8_t *)(uintptr_t)at, len);
}

void modules_hash_range(struct module_pages *M, uint64_t lo, uint64_t hi)
{
	for (uint64_t i = lo; i < hi; i++)
		M->hash[i] = hash_page(M, i);
}

int modules_check_page(struct module_pages *M, uint64_t i)
{
	/* Not a module page (or no hashes taken): nothing of it to read or
	 * write; its "hash slot" would be someone else's memory. */
	if (!M->hash || i >= M->pages)
		return 0;
	uint64_t want = __atomic_load_n(&M->hash[i], __ATOMIC_RELAXED), got = hash_page(M, i);
	if (got == want)
		return 0;
	if (!__atomic_compare_exchange_n(&M->hash[i], &want, got, 0, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return 2;
	__atomic_add_fetch(&M->bad, 1, __ATOMIC_RELAXED);
	return 1;
}

void modules_corrupt_page(struct module_pages *M, uint64_t i)
{
	uint64_t at;
	unsigned len;
	modules_page(M, i, &at, &len);
	if (len)
		((volatile uint8_t *)(uintptr_t)at)[len / 2] ^= 0x5a;
}

/* SPDX-License-Identifier: MIT */
#include "layout.h"

#include "page.h"

#define MIN_OWNED 0x200000ull /* stay clear of the image and low memory */

static void sort_ranges(struct layout *L)
{
	for (unsigned i = 1; i < L->nr; i++)
		for (unsigned j = i; j && L->r[j].base < L->r[j - 1].base; j--) {
			struct owned_range t = L->r[j];
			L->r[j] = L->r[j - 1];
			L->r[j - 1] = t;
		}
}

int layout_build(struct layout *L, const struct vmig_boot_info *bi, uint64_t floor,
		 uint64_t ws_bytes, uint64_t nr_hashes)
{
	uint64_t total = 0;

	floor = (floor + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	if (floor < MIN_OWNED)
		floor = MIN_OWNED;
	*L = (struct layout){0};
	for (unsigned i = 0; i < bi->nr_mem && i < VMIG_MAX_MEM_RANGES; i++) {
		uint64_t b = bi->mem[i].base, e = b + bi->mem[i].len;
		if (e < b)
			continue;
		b = (b < floor ? floor : b + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
		e &= ~(uint64_t)(PAGE_SIZE - 1);
		if (e > (1ull << 44))
			e = 1ull << 44; /* page numbers are 32-bit */
		if (e <= b)
			continue;
		L->r[L->nr++] = (struct owned_range){b, (e - b) / PAGE_SIZE, 0};
		total += (e - b) / PAGE_SIZE;
	}
	sort_ranges(L);

	/* Metadata from the start of the first range big enough to hold it. */
	uint64_t gens_bytes = (total * sizeof(uint32_t) + 7) & ~7ull;
	L->meta_pages = (gens_bytes + nr_hashes * sizeof(uint64_t) + PAGE_SIZE - 1) / PAGE_SIZE;
	unsigned m = 0;
	while (m < L->nr && L->r[m].pages <= L->meta_pages)
		m++;
	if (m == L->nr)
		return -1;
	L->meta_base = L->r[m].base;
	L->gens = (uint32_t *)(uintptr_t)L->meta_base;
	L->hashes = (uint64_t *)(uintptr_t)(L->meta_base + gens_bytes);
	L->r[m].base += L->meta_pages * PAGE_SIZE;
	L->r[m].pages -= L->meta_pages;

	unsigned big = 0;
	for (unsigned i = 0; i < L->nr; i++) {
		L->r[i].first = L->owned_pages;
		L->owned_pages += L->r[i].pages;
		if (L->r[i].pages > L->r[big].pages)
			big = i;
	}

	/* The working set must be contiguous: the first range that holds it
	 * whole, else all of the largest range. */
	L->ws_wanted = (ws_bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	unsigned w = 0;
	while (w < L->nr && L->r[w].pages < L->ws_wanted)
		w++;
	if (w == L->nr) {
		w = big;
		L->ws_pages = L->r[big].pages;
	} else {
		L->ws_pages = L->ws_wanted;
	}
	L->ws_base = L->r[w].base;
	L->ws_first = L->r[w].first;
	return 0;
}

uint64_t layout_gpa(const struct layout *L, uint64_t idx)
{
	unsigned i = 0;
	while (i + 1 < L->nr && idx >= L->r[i + 1].first)
		i++;
	return L->r[i].base + (idx - L->r[i].first) * PAGE_SIZE;
}

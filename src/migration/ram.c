/* SPDX-License-Identifier: MIT */
#include "migration/ram.h"

#include "common/buf.h"

#include <errno.h>
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

uint64_t ram_bits_count(const struct ram_map *m, uint64_t *const bits[])
{
	uint64_t n = 0;
	for (unsigned i = 0; i < m->nr; i++)
		for (uint64_t w = 0; w < vmig_bitmap_words(m->pages[i]); w++)
			n += (uint64_t)__builtin_popcountll(bits[i][w]);
	return n;
}

uint8_t *ram_page(const struct ram_map *m, uint64_t index)
{
	for (unsigned i = 0; i < m->nr; i++)
		if (index >= m->first_page[i] && index - m->first_page[i] < m->pages[i])
			return m->r[i].host + (index - m->first_page[i]) * VMIG_PAGE_SIZE;
	return NULL;
}

uint64_t page_hash(const void *page)
{
	return XXH3_64bits(page, VMIG_PAGE_SIZE);
}

/* XXH3 of the page-hash table as little-endian u64s, whatever the host;
 * keyed by k's secret if k (with TLS). */
uint64_t ram_digest_of_keyed(const uint64_t *hash, uint64_t n, const struct wire_key *k)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return wire_checksum_keyed(k, hash, n * sizeof(uint64_t));
#else
	XXH3_state_t *st = XXH3_createState();
	uint8_t le[8 * 512];
	if (k)
		XXH3_64bits_reset_withSecret(st, k->secret, sizeof(k->secret));
	else
		XXH3_64bits_reset(st);
	for (uint64_t i = 0; i < n; i += 512) {
		uint64_t c = n - i < 512 ? n - i : 512;
		for (uint64_t j = 0; j < c; j++)
			vle64_put(le + 8 * j, hash[i + j]);
		XXH3_64bits_update(st, le, c * 8);
	}
	uint64_t d = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return d;
#endif
}

uint64_t ram_digest_of(const uint64_t *hash, uint64_t n)
{
	return ram_digest_of_keyed(hash, n, NULL);
}

uint64_t ram_digest(const struct ram_map *m)
{
	return ram_digest_of(m->hash, m->total_pages);
}

uint64_t ram_digest_keyed(const struct ram_map *m, const struct wire_key *k)
{
	return ram_digest_of_keyed(m->hash, m->total_pages, k);
}

/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM as the engine sees it: regions flattened into one page index
 * space, per-page hashes for the end-to-end digest, and zero-page
 * detection.
 */
#ifndef VMIG_MIGRATION_RAM_H
#define VMIG_MIGRATION_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmig/guest.h"
#include "migration/wire.h"

struct ram_map {
	unsigned nr;
	struct vmig_ram_region r[VMIG_MAX_RAM_REGIONS];
	uint64_t first_page[VMIG_MAX_RAM_REGIONS]; /* global index of region's page 0 */
	uint64_t pages[VMIG_MAX_RAM_REGIONS];
	uint64_t total_pages;
	uint64_t *hash;   /* per page: hash of the content last sent / written */
	uint64_t zero_hash;
};

int ram_map_init(struct ram_map *m, const struct vmig_guest *g, char *err, size_t errlen);
void ram_map_free(struct ram_map *m);

/* Pages set in a per-region bitmap (bits[i]: region i's, one bit a page). */
uint64_t ram_bits_count(const struct ram_map *m, uint64_t *const bits[]);

/* Host address of global page index, or NULL if out of range. */
uint8_t *ram_page(const struct ram_map *m, uint64_t index);

/* True if the 4 KiB page is all zero bytes (SIMD where the CPU has it). */
bool page_is_zero(const void *page);

/*
 * Copies a page and tells whether it was all zero, in one pass over the
 * source (the sender reads each guest page once). dst is only meaningful
 * when it returns false.
 */
bool page_copy_is_zero(void *dst, const void *src);

/* The portable versions (any host); the ones above use SIMD where the
 * CPU has it and fall back to these elsewhere. Exposed for the tests,
 * which check that both agree on every host. */
bool page_is_zero_generic(const void *page);
bool page_copy_is_zero_generic(void *dst, const void *src);

uint64_t page_hash(const void *page);

/* Digest over every page's hash (what the destination must match). */
uint64_t ram_digest(const struct ram_map *m);
/* The digest of a page-hash table (what DIGEST carries; docs/protocol.md). */
uint64_t ram_digest_of(const uint64_t *hash, uint64_t n);
/* The same keyed by a TLS session's secret (NULL: unkeyed, as above). */
uint64_t ram_digest_keyed(const struct ram_map *m, const struct wire_key *k);
uint64_t ram_digest_of_keyed(const uint64_t *hash, uint64_t n, const struct wire_key *k);

#endif

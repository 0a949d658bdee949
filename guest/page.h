/* SPDX-License-Identifier: MIT */
/*
 * Page format. Every written page starts with a header; the rest (the
 * payload) is content from fill.c. A page that was never written (a zero
 * page from fill=zero or mixed) is all zeros, header included (gen 0).
 */
#ifndef GUESTLOAD_PAGE_H
#define GUESTLOAD_PAGE_H

#include <stdint.h>

#include "config.h"

#define PAGE_SIZE 4096u
#define PAGE_WORDS (PAGE_SIZE / 8)
#define PAYLOAD_WORDS (PAGE_WORDS - 2)

struct page_hdr {
	uint32_t pageno; /* gpa >> 12: catches a page landing at the wrong address */
	uint32_t gen;    /* bumped on each rewrite: catches a stale copy */
	uint64_t csum;   /* payload checksum mixed with pageno and gen */
};

/* Running sums over the payload; a one-word change updates them in O(1). */
struct page_sums {
	uint64_t add; /* sum of the words: any single-word change shows */
	uint64_t pos; /* xor of (word + position key): swapped words show */
	uint64_t any; /* or of the words (zero-page check) */
};

enum page_verdict { PAGE_OK, PAGE_BAD_HEADER, PAGE_STALE, PAGE_BAD_CSUM, PAGE_NOT_ZERO,
		   PAGE_MODULE_CHANGED /* a boot module page no longer holds its bytes */ };

/* Checks a page against (pageno, want_gen); want_gen 0 means "all zeros".
 * Leaves the payload's sums in *s and the header's gen in *got_gen. */
enum page_verdict page_verify(const void *page, uint32_t pageno, uint32_t want_gen,
			      struct page_sums *s, uint32_t *got_gen);
const char *page_verdict_name(enum page_verdict v);

/* Rewrites the whole payload with fresh content of the kind. */
void page_write_full(void *page, uint32_t pageno, uint32_t gen, enum fill_kind kind,
		     uint64_t seed);
/* Changes one payload word; s must hold the current payload's sums. */
void page_write_word(void *page, uint32_t pageno, uint32_t gen, struct page_sums *s,
		     uint64_t seed);
/* Back to a never-written zero page. */
void page_clear(void *page);

#endif

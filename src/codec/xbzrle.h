/* SPDX-License-Identifier: MIT */
/*
 * XBZRLE: a page sent as its difference from the copy the receiver already
 * has, in QEMU's encoding (migration/xbzrle.c), so the encoder can be
 * checked against QEMU's published examples:
 *
 *   delta = { zrun nzrun }*     zrun  = ULEB128 count of unchanged bytes
 *                               nzrun = ULEB128 count n of changed bytes,
 *                                       then those n bytes of the new page
 *
 * Lengths are ULEB128 of at most 14 bits (one or two bytes). Only the
 * first zrun may be 0, nzrun is never 0, and a trailing unchanged run is
 * not encoded. Identical pages encode to nothing.
 *
 * Plus the sender's page cache: what the receiver is believed to hold,
 * keyed by page index. No locks: one cache per channel thread.
 */
#ifndef VMIG_CODEC_XBZRLE_H
#define VMIG_CODEC_XBZRLE_H

#include <stddef.h>
#include <stdint.h>

#define XBZRLE_PAGE_SIZE 4096u
/* Largest value a 14-bit ULEB128 length carries. */
#define XBZRLE_MAX_RUN 0x3fffu

/*
 * Encodes new_page against old_page (len bytes each). Returns the encoded
 * length (> 0), 0 if the pages are equal (nothing to send), -ENOSPC if the
 * encoding would be longer than dst_cap (send the page normally; nothing
 * past dst_cap is written), -EINVAL for bad arguments. Output is byte for
 * byte what QEMU's xbzrle_encode_buffer produces for pages up to 16 KiB;
 * longer unchanged runs are split with a one-byte changed run, and a
 * changed run longer than XBZRLE_MAX_RUN gives -ENOSPC.
 */
int xbzrle_encode(const uint8_t *old_page, const uint8_t *new_page, size_t len, uint8_t *dst,
		  size_t dst_cap);

/*
 * Applies a delta to page (page_len bytes) in place. Returns 0, or
 * -EBADMSG if the delta is malformed in any way (a length running past the
 * page or the input, a truncated or over-long ULEB128, a zero-length run
 * where none is allowed, trailing bytes), in which case the page is left
 * untouched. An empty delta is valid and changes nothing. Accepts exactly
 * what QEMU's xbzrle_decode_buffer accepts.
 */
int xbzrle_decode(const uint8_t *src, size_t src_len, uint8_t *page, size_t page_len);

/* QEMU's 14-bit ULEB128: bytes written (1 or 2), or -ERANGE if v > 0x3fff. */
int xbzrle_uleb_encode(uint32_t v, uint8_t out[2]);
/* Bytes read (1 or 2), or -EBADMSG if truncated or longer than 14 bits. */
int xbzrle_uleb_decode(const uint8_t *in, size_t avail, uint32_t *v);

/* ---- sender's page cache ---- */

struct xbzrle_cache;

struct xbzrle_stats {
	uint64_t slots;	      /* pages the cache holds at most */
	uint64_t hits;	      /* lookups that found the page */
	uint64_t misses;      /* lookups that did not */
	uint64_t evictions;   /* inserts that replaced another page */
	uint64_t busy;	      /* inserts refused: slot holds another fresh page */
	uint64_t overflows;   /* encodings that did not fit (caller counts) */
	uint64_t bytes_saved; /* page bytes not sent thanks to XBZRLE (caller counts) */
};

/*
 * A cache of at most `bytes` of pages (rounded down to a power-of-two
 * number of 4 KiB slots, at least one). Page `index` lives in slot
 * index % slots, as in QEMU's page cache. NULL with errno set on failure.
 */
struct xbzrle_cache *xbzrle_cache_new(size_t bytes);
void xbzrle_cache_free(struct xbzrle_cache *c);

/*
 * Ages: call once per pass over guest RAM (QEMU: per dirty-bitmap sync).
 * A slot holding another page that was used in this or the previous
 * generation is not replaced (QEMU's CACHED_PAGE_LIFETIME of 2).
 */
void xbzrle_cache_next_generation(struct xbzrle_cache *c);

/* The cached copy of page `index` (XBZRLE_PAGE_SIZE bytes), or NULL.
 * Counts a hit or a miss; a hit makes the entry young again. The pointer
 * stays valid until the next insert or free. */
const uint8_t *xbzrle_cache_lookup(struct xbzrle_cache *c, uint64_t index);

/*
 * Copies page into the cache as page `index` (updating it if present).
 * 0, or -EBUSY if the slot holds a different page still fresh (it is kept),
 * -EINVAL for a bad argument.
 */
int xbzrle_cache_insert(struct xbzrle_cache *c, uint64_t index, const uint8_t *page);

void xbzrle_cache_note_overflow(struct xbzrle_cache *c);
void xbzrle_cache_note_saved(struct xbzrle_cache *c, uint64_t bytes);
void xbzrle_cache_stats(const struct xbzrle_cache *c, struct xbzrle_stats *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * XBZRLE encoder, decoder and the sender's page cache. The encoding is
 * QEMU's (see xbzrle.h); the code is vmig's own.
 */
#include "codec/xbzrle.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- ULEB128, 14 bits ---- */

int xbzrle_uleb_encode(uint32_t v, uint8_t out[2])
{
	if (v > XBZRLE_MAX_RUN)
		return -ERANGE;
	if (v < 0x80) {
		out[0] = (uint8_t)v;
		return 1;
	}
	out[0] = (uint8_t)(0x80 | (v & 0x7f));
	out[1] = (uint8_t)(v >> 7);
	return 2;
}

int xbzrle_uleb_decode(const uint8_t *in, size_t avail, uint32_t *v)
{
	if (avail < 1)
		return -EBADMSG;
	if (!(in[0] & 0x80)) {
		*v = in[0];
		return 1;
	}
	/* A second continuation bit would make it more than 14 bits. Like
	 * QEMU, a non-minimal two-byte form (second byte 0) is accepted. */
	if (avail < 2 || (in[1] & 0x80))
		return -EBADMSG;
	*v = (uint32_t)(in[0] & 0x7f) | (uint32_t)in[1] << 7;
	return 2;
}

static int uleb_len(size_t v)
{
	return v < 0x80 ? 1 : 2;
}

/* ---- run scanning, 8 bytes at a time ---- */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define XBZRLE_WORDS 1
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
#endif

/* First i' >= i with a[i'] != b[i'], or len. */
static size_t skip_same(const uint8_t *a, const uint8_t *b, size_t i, size_t len)
{
#ifdef XBZRLE_WORDS
	while (len - i >= 8) {
		uint64_t x = load64(a + i) ^ load64(b + i);
		if (x)
			return i + (size_t)(__builtin_ctzll(x) >> 3);
		i += 8;
	}
#endif
	while (i < len && a[i] == b[i])
		i++;
	return i;
}

/* First i' >= i with a[i'] == b[i'], or len. */
static size_t skip_diff(const uint8_t *a, const uint8_t *b, size_t i, size_t len)
{
#ifdef XBZRLE_WORDS
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	while (len - i >= 8) {
		uint64_t x = load64(a + i) ^ load64(b + i);
		/* Flags zero bytes of x; the lowest flag is always exact. */
		uint64_t z = (x - ones) & ~x & highs;
		if (z)
			return i + (size_t)(__builtin_ctzll(z) >> 3);
		i += 8;
	}
#endif
	while (i < len && a[i] != b[i])
		i++;
	return i;
}

/* ---- encode / decode ---- */

int xbzrle_encode(const uint8_t *old_page, const uint8_t *new_page, size_t len, uint8_t *dst,
		  size_t dst_cap)
{
	size_t i = 0, d = 0;

	if ((!old_page || !new_page) && len)
		return -EINVAL;
	if (!dst && dst_cap)
		return -EINVAL;
	if (dst_cap > INT_MAX)
		dst_cap = INT_MAX; /* the result must fit the return type */

	while (i < len) {
		size_t z_end = skip_same(old_page, new_page, i, len), zrun = z_end - i;
		size_t nz_start, nz_end, nzrun, need;

		if (z_end == len) {
			if (i == 0)
				return 0; /* identical pages */
			break;		  /* a trailing unchanged run is implied */
		}
		if (zrun > XBZRLE_MAX_RUN) {
			/* Too long for 14 bits: cut it, and carry the (unchanged)
			 * byte at the cut as the start of a changed run, so that
			 * no zero-length run is ever needed. */
			zrun = XBZRLE_MAX_RUN;
		}
		nz_start = i + zrun;
		/* The changed run ends at the next unchanged byte; it starts
		 * with at least one byte, even when that one is a forced cut. */
		nz_end = skip_diff(old_page, new_page, nz_start + 1, len);
		nzrun = nz_end - nz_start;
		if (nzrun > XBZRLE_MAX_RUN)
			return -ENOSPC; /* not expressible; the page is better sent whole */

		need = (size_t)uleb_len(zrun) + (size_t)uleb_len(nzrun) + nzrun;
		if (need > dst_cap - d)
			return -ENOSPC;
		d += (size_t)xbzrle_uleb_encode((uint32_t)zrun, dst + d);
		d += (size_t)xbzrle_uleb_encode((uint32_t)nzrun, dst + d);
		memcpy(dst + d, new_page + nz_start, nzrun);
		d += nzrun;
		i = nz_end;
	}
	return (int)d;
}

/* One pass checks (apply=false), the next writes; a bad delta changes nothing. */
static int xbzrle_walk(const uint8_t *src, size_t src_len, uint8_t *page, size_t page_len,
		       bool apply)
{
	size_t i = 0, d = 0;

	while (i < src_len) {
		uint32_t zrun, nzrun;
		int r = xbzrle_uleb_decode(src + i, src_len - i, &zrun);

		/* Only the first unchanged run may be empty. */
		if (r < 0 || (i && !zrun))
			return -EBADMSG;
		i += (size_t)r;
		if (zrun > page_len - d)
			return -EBADMSG;
		d += zrun;

		r = xbzrle_uleb_decode(src + i, src_len - i, &nzrun);
		if (r < 0 || !nzrun)
			return -EBADMSG;
		i += (size_t)r;
		if (nzrun > page_len - d || nzrun > src_len - i)
			return -EBADMSG;
		if (apply)
			memcpy(page + d, src + i, nzrun);
		d += nzrun;
		i += nzrun;
	}
	return 0;
}

int xbzrle_decode(const uint8_t *src, size_t src_len, uint8_t *page, size_t page_len)
{
	int rc;

	if ((!src && src_len) || (!page && page_len))
		return -EINVAL;
	rc = xbzrle_walk(src, src_len, page, page_len, false);
	if (rc == 0)
		rc = xbzrle_walk(src, src_len, page, page_len, true);
	return rc;
}

/* ---- page cache ---- */

#define SLOT_EMPTY UINT64_MAX
/* QEMU's CACHED_PAGE_LIFETIME: a page used in the last two generations
 * is not pushed out by a page that maps to the same slot. */
#define CACHE_LIFETIME 2

struct xbzrle_slot {
	uint64_t index; /* page index held, SLOT_EMPTY if none */
	uint64_t age;	/* generation of its last insert or hit */
};

struct xbzrle_cache {
	size_t mask; /* slots - 1, slots a power of two */
	struct xbzrle_slot *slot;
	uint8_t *data; /* slots * XBZRLE_PAGE_SIZE, touched as used */
	uint64_t generation;
	struct xbzrle_stats st;
};

struct xbzrle_cache *xbzrle_cache_new(size_t bytes)
{
	size_t want = bytes / XBZRLE_PAGE_SIZE, n = 1;
	struct xbzrle_cache *c;

	if (want == 0) {
		errno = EINVAL;
		return NULL;
	}
	while (n <= want / 2)
		n *= 2;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->slot = malloc(n * sizeof(*c->slot));
	/* calloc of a large block maps fresh zero pages: memory is only
	 * committed as slots are filled. */
	c->data = calloc(n, XBZRLE_PAGE_SIZE);
	if (!c->slot || !c->data) {
		xbzrle_cache_free(c);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t k = 0; k < n; k++) {
		c->slot[k].index = SLOT_EMPTY;
		c->slot[k].age = 0;
	}
	c->mask = n - 1;
	c->st.slots = n;
	return c;
}

void xbzrle_cache_free(struct xbzrle_cache *c)
{
	if (!c)
		return;
	free(c->slot);
	free(c->data);
	free(c);
}

void xbzrle_cache_next_generation(struct xbzrle_cache *c)
{
	if (c)
		c->generation++;
}

const uint8_t *xbzrle_cache_lookup(struct xbzrle_cache *c, uint64_t index)
{
	struct xbzrle_slot *s;

	if (!c || index == SLOT_EMPTY)
		return NULL;
	s = &c->slot[index & c->mask];
	if (s->index != index) {
		c->st.misses++;
		return NULL;
	}
	c->st.hits++;
	s->age = c->generation;
	return c->data + (index & c->mask) * XBZRLE_PAGE_SIZE;
}

int xbzrle_cache_insert(struct xbzrle_cache *c, uint64_t index, const uint8_t *page)
{
	struct xbzrle_slot *s;

	if (!c || !page || index == SLOT_EMPTY)
		return -EINVAL;
	s = &c->slot[index & c->mask];
	if (s->index != SLOT_EMPTY && s->index != index) {
		if (s->age + CACHE_LIFETIME > c->generation) {
			c->st.busy++;
			return -EBUSY;
		}
		c->st.evictions++;
	}
	memcpy(c->data + (index & c->mask) * XBZRLE_PAGE_SIZE, page, XBZRLE_PAGE_SIZE);
	s->index = index;
	s->age = c->generation;
	return 0;
}

void xbzrle_cache_note_overflow(struct xbzrle_cache *c)
{
	if (c)
		c->st.overflows++;
}

void xbzrle_cache_note_saved(struct xbzrle_cache *c, uint64_t bytes)
{
	if (c)
		c->st.bytes_saved += bytes;
}

void xbzrle_cache_stats(const struct xbzrle_cache *c, struct xbzrle_stats *out)
{
	if (!out)
		return;
	if (!c) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = c->st;
}

/* SPDX-License-Identifier: MIT */
#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

void vbuf_init(struct vbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void vbuf_free(struct vbuf *b)
{
	free(b->data);
	vbuf_init(b);
}

void vbuf_reset(struct vbuf *b)
{
	b->len = 0;
	b->oom = false;
}

uint8_t *vbuf_grow(struct vbuf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->oom = true;
			return NULL;
		}
		b->data = d;
		b->cap = cap;
	}
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

void vbuf_put(struct vbuf *b, const void *p, size_t n)
{
	uint8_t *d = vbuf_grow(b, n);
	if (d && n)
		memcpy(d, p, n);
}

/* The wire format is little-endian, as is every host vmig runs on (x86). */
void vbuf_put_u8(struct vbuf *b, uint8_t v) { vbuf_put(b, &v, 1); }
void vbuf_put_u16(struct vbuf *b, uint16_t v) { vbuf_put(b, &v, 2); }
void vbuf_put_u32(struct vbuf *b, uint32_t v) { vbuf_put(b, &v, 4); }
void vbuf_put_u64(struct vbuf *b, uint64_t v) { vbuf_put(b, &v, 8); }

void vreader_init(struct vreader *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = false;
}

const uint8_t *vr_take(struct vreader *r, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

bool vr_get(struct vreader *r, void *out, size_t n)
{
	const uint8_t *p = vr_take(r, n);
	if (!p) {
		memset(out, 0, n);
		return false;
	}
	memcpy(out, p, n);
	return true;
}

uint8_t vr_u8(struct vreader *r) { uint8_t v; vr_get(r, &v, 1); return v; }
uint16_t vr_u16(struct vreader *r) { uint16_t v; vr_get(r, &v, 2); return v; }
uint32_t vr_u32(struct vreader *r) { uint32_t v; vr_get(r, &v, 4); return v; }
uint64_t vr_u64(struct vreader *r) { uint64_t v; vr_get(r, &v, 8); return v; }

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
	/* Nothing asked of a buffer never grown: NULL + 0 is undefined behaviour. */
	if (!b->data)
		return NULL;
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

/* Little-endian on the wire and in blobs, whatever the host's byte order. */
void vbuf_put_u8(struct vbuf *b, uint8_t v)
{
	vbuf_put(b, &v, 1);
}

void vbuf_put_u16(struct vbuf *b, uint16_t v)
{
	uint8_t *d = vbuf_grow(b, 2);
	if (d)
		vle16_put(d, v);
}

void vbuf_put_u32(struct vbuf *b, uint32_t v)
{
	uint8_t *d = vbuf_grow(b, 4);
	if (d)
		vle32_put(d, v);
}

void vbuf_put_u64(struct vbuf *b, uint64_t v)
{
	uint8_t *d = vbuf_grow(b, 8);
	if (d)
		vle64_put(d, v);
}

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

/* Little-endian; 0 after a short read. */
uint8_t vr_u8(struct vreader *r)
{
	const uint8_t *p = vr_take(r, 1);
	return p ? p[0] : 0;
}

uint16_t vr_u16(struct vreader *r)
{
	const uint8_t *p = vr_take(r, 2);
	return p ? vle16_get(p) : 0;
}

uint32_t vr_u32(struct vreader *r)
{
	const uint8_t *p = vr_take(r, 4);
	return p ? vle32_get(p) : 0;
}

uint64_t vr_u64(struct vreader *r)
{
	const uint8_t *p = vr_take(r, 8);
	return p ? vle64_get(p) : 0;
}

/* SPDX-License-Identifier: MIT */
/* A growable byte buffer and a bounds-checked reader over bytes. */
#ifndef VMIG_BUF_H
#define VMIG_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vbuf {
	uint8_t *data;
	size_t len, cap;
	bool oom; /* sticky: an append failed */
};

void vbuf_init(struct vbuf *b);
void vbuf_free(struct vbuf *b);
void vbuf_reset(struct vbuf *b);
/* Appends; on allocation failure sets b->oom and drops the data. */
void vbuf_put(struct vbuf *b, const void *p, size_t n);
void vbuf_put_u8(struct vbuf *b, uint8_t v);
/* Integers are appended little-endian, whatever the host's byte order. */
void vbuf_put_u16(struct vbuf *b, uint16_t v);
void vbuf_put_u32(struct vbuf *b, uint32_t v);
void vbuf_put_u64(struct vbuf *b, uint64_t v);
/* Reserves n bytes at the end and returns them (NULL on failure). */
uint8_t *vbuf_grow(struct vbuf *b, size_t n);

/* Little-endian loads and stores at any alignment, by shifts: the same
 * bytes on every host, whatever its own byte order (compilers turn these
 * into a plain load or store on little-endian hosts). */
static inline void vle16_put(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void vle32_put(void *p, uint32_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static inline void vle64_put(void *p, uint64_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t vle16_get(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | (uint16_t)b[1] << 8);
}

static inline uint32_t vle32_get(const void *p)
{
	const uint8_t *b = p;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

static inline uint64_t vle64_get(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Little-endian reader that never reads past the end: after a short read
 * every later get fails too and r->bad stays set. */
struct vreader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

void vreader_init(struct vreader *r, const void *p, size_t n);
bool vr_get(struct vreader *r, void *out, size_t n);
const uint8_t *vr_take(struct vreader *r, size_t n); /* pointer into the data */
uint8_t vr_u8(struct vreader *r);
uint16_t vr_u16(struct vreader *r);
uint32_t vr_u32(struct vreader *r);
uint64_t vr_u64(struct vreader *r);

#endif

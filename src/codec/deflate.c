/* SPDX-License-Identifier: MIT */
/*
 * deflate: raw RFC 1951 (no zlib or gzip wrapper, no checksum), made and
 * read with ISA-L igzip. QATzip set to raw deflate makes the same format,
 * so either side of a migration may have QAT and the other not.
 *
 * Levels are ISA-L's 0-3. Level 0 needs no level buffer; 1-3 use one of
 * ISA-L's suggested default size, kept in the context. The one-shot
 * (stateless) calls are used: a batch is compressed as a whole.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>

#include "codec/codec_internal.h"

#define STORED_HDR 5u	  /* BFINAL/BTYPE byte, LEN, NLEN */
#define STORED_MAX 65535u /* most bytes in one stored block */

static size_t stored_len(size_t src_len)
{
	size_t blocks = src_len ? (src_len + STORED_MAX - 1) / STORED_MAX : 1;
	return src_len + blocks * STORED_HDR;
}

/*
 * The bound is the size of the input as stored blocks: when ISA-L's output
 * would not fit, compress falls back to writing those itself.
 */
size_t codec_deflate_bound(size_t src_len)
{
	return stored_len(src_len);
}

void codec_deflate_release(struct codec_ctx *ctx)
{
	free(ctx->isal_c);
	ctx->isal_c = NULL;
	free(ctx->isal_level_buf);
	ctx->isal_level_buf = NULL;
	ctx->isal_level_buf_size = 0;
	free(ctx->isal_d);
	ctx->isal_d = NULL;
}

static size_t level_buf_size(int level)
{
	switch (level) {
	case 1: return ISAL_DEF_LVL1_DEFAULT;
	case 2: return ISAL_DEF_LVL2_DEFAULT;
	case 3: return ISAL_DEF_LVL3_DEFAULT;
	default: return 0;
	}
}

/* The input as a run of stored (uncompressed) blocks, the last one final. */
static int write_stored(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
			size_t *dst_len)
{
	size_t need = stored_len(src_len), left = src_len;
	uint8_t *d = dst;

	if (need > dst_cap)
		return -ENOSPC;
	do {
		unsigned n = left > STORED_MAX ? STORED_MAX : (unsigned)left;
		left -= n;
		d[0] = left ? 0 : 1; /* BFINAL in bit 0, BTYPE 00, then byte-aligned */
		d[1] = (uint8_t)n;
		d[2] = (uint8_t)(n >> 8);
		d[3] = (uint8_t)~n;
		d[4] = (uint8_t)(~n >> 8);
		if (n)
			memcpy(d + STORED_HDR, src, n);
		d += STORED_HDR + n;
		src += n;
	} while (left);
	*dst_len = need;
	return 0;
}

int codec_deflate_compress(struct codec_ctx *ctx, int level, const void *src, size_t src_len,
			   void *dst, size_t dst_cap, size_t *dst_len)
{
	static const uint8_t empty[8];
	size_t lb = level_buf_size(level);
	struct isal_zstream *zs;
	int rc;

	if (!ctx->isal_c && !(ctx->isal_c = calloc(1, sizeof(*ctx->isal_c))))
		return -ENOMEM;
	if (lb > ctx->isal_level_buf_size) {
		uint8_t *p = malloc(lb);
		if (!p)
			return -ENOMEM;
		free(ctx->isal_level_buf);
		ctx->isal_level_buf = p;
		ctx->isal_level_buf_size = lb;
	}

	zs = ctx->isal_c;
	isal_deflate_stateless_init(zs);
	zs->level = (uint32_t)level;
	zs->level_buf = lb ? ctx->isal_level_buf : NULL;
	zs->level_buf_size = lb ? (uint32_t)ctx->isal_level_buf_size : 0;
	zs->gzip_flag = IGZIP_DEFLATE; /* raw deflate: no header, no trailer */
	zs->hist_bits = 0;	       /* the full 32 KiB window */
	zs->flush = NO_FLUSH;
	zs->end_of_stream = 1;
	/* ISA-L's next_in is not const-qualified; it only reads it. */
	zs->next_in = (uint8_t *)(uintptr_t)(src_len ? src : empty);
	zs->avail_in = (uint32_t)src_len;
	zs->next_out = dst;
	zs->avail_out = dst_cap > UINT32_MAX ? UINT32_MAX : (uint32_t)dst_cap;

	rc = isal_deflate_stateless(zs);
	switch (rc) {
	case COMP_OK: *dst_len = zs->total_out; return 0;
	case STATELESS_OVERFLOW:
		/* ISA-L wants 8 spare bytes and may give up on a tight buffer
		 * that stored blocks would still fit. */
		return write_stored(src, src_len, dst, dst_cap, dst_len);
	case ISAL_INVALID_LEVEL:
	case ISAL_INVALID_LEVEL_BUF:
	case INVALID_FLUSH:
	case INVALID_PARAM: return -EINVAL;
	default: return -EIO;
	}
}

int codec_deflate_decompress(struct codec_ctx *ctx, const void *src, size_t src_len, void *dst,
			     size_t expected_len)
{
	struct inflate_state *st;
	uint8_t dummy[1];
	int rc;

	if (src_len > UINT32_MAX || expected_len > UINT32_MAX)
		return -EBADMSG;
	if (!ctx->isal_d && !(ctx->isal_d = malloc(sizeof(*ctx->isal_d))))
		return -ENOMEM;

	st = ctx->isal_d;
	isal_inflate_init(st);
	st->next_in = (uint8_t *)(uintptr_t)src;
	st->avail_in = (uint32_t)src_len;
	/* The output space is expected_len, not dst_cap: a stream that
	 * decodes to more stops with ISAL_OUT_OVERFLOW. */
	st->next_out = expected_len ? dst : dummy;
	st->avail_out = (uint32_t)expected_len;
	st->crc_flag = ISAL_DEFLATE; /* raw deflate, no wrapper */
	st->hist_bits = 0;

	rc = isal_inflate_stateless(st);
	if (rc != ISAL_DECOMP_OK) /* includes END_INPUT (truncated) and OUT_OVERFLOW */
		return -EBADMSG;
	if (st->total_out != expected_len)
		return -EBADMSG;
	/* Nothing may follow the final block (bits still buffered count). */
	if (st->avail_in != 0 || st->read_in_length >= 8)
		return -EBADMSG;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * zstd: one standard frame per batch, with its content size in the header
 * (ZSTD_compressCCtx writes it) and no checksum (the stream has its own).
 * The decoder accepts exactly one frame of exactly the expected size.
 */
#include <errno.h>
#include <stdint.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "codec/codec_internal.h"

size_t codec_zstd_bound(size_t src_len)
{
	return ZSTD_compressBound(src_len);
}

void codec_zstd_release(struct codec_ctx *ctx)
{
	ZSTD_freeCCtx(ctx->zstd_c);
	ctx->zstd_c = NULL;
	ZSTD_freeDCtx(ctx->zstd_d);
	ctx->zstd_d = NULL;
}

static int zstd_errno(size_t rc)
{
	switch (ZSTD_getErrorCode(rc)) {
	case ZSTD_error_dstSize_tooSmall: return -ENOSPC;
	case ZSTD_error_memory_allocation: return -ENOMEM;
	case ZSTD_error_parameter_outOfBound:
	case ZSTD_error_parameter_unsupported: return -EINVAL;
	default: return -EIO;
	}
}

int codec_zstd_compress(struct codec_ctx *ctx, int level, const void *src, size_t src_len,
			void *dst, size_t dst_cap, size_t *dst_len)
{
	size_t rc;

	if (!ctx->zstd_c && !(ctx->zstd_c = ZSTD_createCCtx()))
		return -ENOMEM;
	rc = ZSTD_compressCCtx(ctx->zstd_c, dst, dst_cap, src, src_len, level);
	if (ZSTD_isError(rc))
		return zstd_errno(rc);
	*dst_len = rc;
	return 0;
}

int codec_zstd_decompress(struct codec_ctx *ctx, const void *src, size_t src_len, void *dst,
			  size_t expected_len)
{
	const uint8_t *s = src;
	unsigned long long content;
	uint8_t dummy[1];
	size_t rc;

	/* A zstd1 frame and nothing else: no skippable or legacy frames. */
	if (src_len < 4 || ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
			    (uint32_t)s[3] << 24) != ZSTD_MAGICNUMBER)
		return -EBADMSG;
	content = ZSTD_getFrameContentSize(src, src_len);
	if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR ||
	    content != expected_len)
		return -EBADMSG;
	/* Exactly one frame, no trailing bytes (a second frame would be
	 * decoded too by ZSTD_decompressDCtx). */
	rc = ZSTD_findFrameCompressedSize(src, src_len);
	if (ZSTD_isError(rc) || rc != src_len)
		return -EBADMSG;

	if (!ctx->zstd_d && !(ctx->zstd_d = ZSTD_createDCtx()))
		return -ENOMEM;
	rc = ZSTD_decompressDCtx(ctx->zstd_d, expected_len ? dst : dummy, expected_len, src,
				 src_len);
	if (ZSTD_isError(rc)) {
		if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation)
			return -ENOMEM;
		return -EBADMSG;
	}
	if (rc != expected_len)
		return -EBADMSG;
	return 0;
}

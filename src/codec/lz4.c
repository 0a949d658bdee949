/* SPDX-License-Identifier: MIT */
/*
 * lz4 block format (no frame): the PAGES record carries the sizes.
 * Levels 1-2 use the fast compressor (acceleration 1, like the lz4 tool's
 * -1 and -2); 3-12 use LZ4 HC at that level.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <lz4.h>
#include <lz4hc.h>

#include "codec/codec_internal.h"

size_t codec_lz4_bound(size_t src_len)
{
	/* LZ4_COMPRESSBOUND in size_t arithmetic, so it cannot wrap an int. */
	return src_len + src_len / 255 + 16;
}

void codec_lz4_release(struct codec_ctx *ctx)
{
	free(ctx->lz4_state);
	ctx->lz4_state = NULL;
	if (ctx->lz4hc_state)
		LZ4_freeStreamHC(ctx->lz4hc_state);
	ctx->lz4hc_state = NULL;
}

int codec_lz4_compress(struct codec_ctx *ctx, int level, const void *src, size_t src_len, void *dst,
		       size_t dst_cap, size_t *dst_len)
{
	int cap = dst_cap > INT_MAX ? INT_MAX : (int)dst_cap;
	int n;

	if (level < 3) {
		if (!ctx->lz4_state && !(ctx->lz4_state = malloc((size_t)LZ4_sizeofState())))
			return -ENOMEM;
		n = LZ4_compress_fast_extState(ctx->lz4_state, src, dst, (int)src_len, cap, 1);
	} else {
		if (!ctx->lz4hc_state && !(ctx->lz4hc_state = LZ4_createStreamHC()))
			return -ENOMEM;
		/*
		 * The fast reset re-bases the stream's indexes instead of
		 * clearing its 256 KiB of tables (a full reset per 4 KiB page
		 * costs about as much as compressing it). The first block after
		 * a reset has no history: the output is an independent block,
		 * byte for byte what LZ4_compress_HC_extStateHC would produce.
		 */
		LZ4_resetStreamHC_fast(ctx->lz4hc_state, level);
		n = LZ4_compress_HC_continue(ctx->lz4hc_state, src, dst, (int)src_len, cap);
	}
	if (n <= 0)
		return -ENOSPC; /* the only failure left once arguments are valid */
	*dst_len = (size_t)n;
	return 0;
}

int codec_lz4_decompress(struct codec_ctx *ctx, const void *src, size_t src_len, void *dst,
			 size_t expected_len)
{
	char dummy[1];
	int n;

	if (src_len > INT_MAX || expected_len > INT_MAX)
		return -EBADMSG;
	/* The output limit is expected_len itself: a block that decodes to
	 * more fails inside LZ4 instead of writing past it. */
	n = LZ4_decompress_safe(src, expected_len ? dst : dummy, (int)src_len, (int)expected_len);
	if (n < 0 || (size_t)n != expected_len)
		return -EBADMSG;
	return 0;
}

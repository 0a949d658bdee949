/* SPDX-License-Identifier: MIT */
/*
 * Inside the codec layer: the per-thread context and the per-codec entry
 * points that codec.c dispatches to. Nothing outside src/codec includes it.
 *
 * The dispatcher has already checked, before a per-codec function runs:
 * the level is in range, pointers are non-NULL where a length is non-zero,
 * src_len <= CODEC_MAX_INPUT, and (decompression) expected_len <= dst_cap
 * and expected_len <= CODEC_MAX_INPUT.
 */
#ifndef VMIG_CODEC_INTERNAL_H
#define VMIG_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* Largest input (and decompressed output) any codec accepts: LZ4's limit,
 * which is also below ISA-L's 32-bit stream counters. */
#define CODEC_MAX_INPUT ((size_t)0x7E000000)

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;
struct isal_zstream;
struct inflate_state;

/*
 * Per-thread state, each part allocated on first use and then reused for
 * every later call (a channel thread that only ever speaks lz4 never pays
 * for ISA-L's 80 KiB streams).
 */
struct codec_ctx {
	/* lz4 */
	void *lz4_state;   /* LZ4_stream_t, for levels 1-2 */
	void *lz4hc_state; /* LZ4_streamHC_t, for levels 3-12 */
	/* zstd */
	struct ZSTD_CCtx_s *zstd_c;
	struct ZSTD_DCtx_s *zstd_d;
	/* deflate (ISA-L igzip) */
	struct isal_zstream *isal_c;
	uint8_t *isal_level_buf;
	size_t isal_level_buf_size;
	struct inflate_state *isal_d;
};

int codec_lz4_compress(struct codec_ctx *ctx, int level, const void *src, size_t src_len, void *dst,
		       size_t dst_cap, size_t *dst_len);
int codec_lz4_decompress(struct codec_ctx *ctx, const void *src, size_t src_len, void *dst,
			 size_t expected_len);
size_t codec_lz4_bound(size_t src_len);
void codec_lz4_release(struct codec_ctx *ctx);

int codec_zstd_compress(struct codec_ctx *ctx, int level, const void *src, size_t src_len,
			void *dst, size_t dst_cap, size_t *dst_len);
int codec_zstd_decompress(struct codec_ctx *ctx, const void *src, size_t src_len, void *dst,
			  size_t expected_len);
size_t codec_zstd_bound(size_t src_len);
void codec_zstd_release(struct codec_ctx *ctx);

int codec_deflate_compress(struct codec_ctx *ctx, int level, const void *src, size_t src_len,
			   void *dst, size_t dst_cap, size_t *dst_len);
int codec_deflate_decompress(struct codec_ctx *ctx, const void *src, size_t src_len, void *dst,
			     size_t expected_len);
size_t codec_deflate_bound(size_t src_len);
void codec_deflate_release(struct codec_ctx *ctx);

#endif

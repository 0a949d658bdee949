/* SPDX-License-Identifier: MIT */
/*
 * Page-batch codecs. The wire names the format, not the engine that made
 * it: "deflate" is raw deflate (RFC 1951) whether ISA-L igzip on a CPU or
 * Intel QAT (through QATzip) produced it, so a QAT source can migrate to a
 * CPU-only destination.
 *
 * Every decoder treats its input as hostile: it must produce exactly the
 * expected number of bytes or fail with -EBADMSG; it never writes past
 * dst_cap and never crashes on any input.
 */
#ifndef VMIG_CODEC_H
#define VMIG_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Values travel on the wire (PAGES codec field): never renumber. */
enum codec_id {
	CODEC_NONE = 0,
	CODEC_LZ4 = 1,
	CODEC_ZSTD = 2,
	CODEC_DEFLATE = 3,
	CODEC_COUNT
};

const char *codec_name(enum codec_id id);
/* "none", "lz4", "zstd", "deflate"; -EINVAL otherwise. */
int codec_parse(const char *name, enum codec_id *out);
/* Levels each codec accepts: lz4 1..12 (1 = fast, >=3 = HC), zstd 1..19,
 * deflate 0..3 (ISA-L's levels), none 0. */
void codec_levels(enum codec_id id, int *min, int *max, int *def);
/* The level a codec runs at when none is asked for (codec_levels' def). */
int codec_default_level(enum codec_id id);
/* Worst-case compressed size for src_len input bytes. */
size_t codec_bound(enum codec_id id, size_t src_len);

/* Per-thread state (zstd contexts, ISA-L streams and level buffers). */
struct codec_ctx;
struct codec_ctx *codec_ctx_new(void);
void codec_ctx_free(struct codec_ctx *ctx);

/* 0 and *dst_len, or -ENOSPC if dst_cap is too small, -EINVAL for a bad
 * level or codec. */
int codec_compress(struct codec_ctx *ctx, enum codec_id id, int level, const void *src,
		   size_t src_len, void *dst, size_t dst_cap, size_t *dst_len);
/* 0 only if src decodes to exactly expected_len bytes (<= dst_cap). */
int codec_decompress(struct codec_ctx *ctx, enum codec_id id, const void *src, size_t src_len,
		     void *dst, size_t dst_cap, size_t expected_len);

#endif

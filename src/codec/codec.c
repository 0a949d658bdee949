/* SPDX-License-Identifier: MIT */
/*
 * Codec names, levels and bounds, the per-thread context, and dispatch to
 * the per-codec files (lz4.c, zstd.c, deflate.c). Argument checks live here
 * once, so each codec only deals with its library.
 */
#include "codec/codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_internal.h"

struct codec_info {
	const char *name;
	int min, max, def;
};

/* Indexed by enum codec_id. Default levels favour throughput: a migration
 * link is rarely slower than one core of lz4-1 or zstd-1. */
static const struct codec_info codecs[CODEC_COUNT] = {
    [CODEC_NONE] = {"none", 0, 0, 0},
    [CODEC_LZ4] = {"lz4", 1, 12, 1},
    [CODEC_ZSTD] = {"zstd", 1, 19, 1},
    [CODEC_DEFLATE] = {"deflate", 0, 3, 1},
};

static int valid_id(enum codec_id id)
{
	return (unsigned)id < CODEC_COUNT;
}

const char *codec_name(enum codec_id id)
{
	return valid_id(id) ? codecs[id].name : "unknown";
}

int codec_parse(const char *name, enum codec_id *out)
{
	if (!name)
		return -EINVAL;
	for (unsigned i = 0; i < CODEC_COUNT; i++) {
		if (strcmp(name, codecs[i].name) == 0) {
			if (out)
				*out = (enum codec_id)i;
			return 0;
		}
	}
	return -EINVAL;
}

void codec_levels(enum codec_id id, int *min, int *max, int *def)
{
	/* An unknown codec gets an empty range, so no level passes a check. */
	struct codec_info none = {"unknown", 1, 0, 0};
	const struct codec_info *c = valid_id(id) ? &codecs[id] : &none;
	if (min)
		*min = c->min;
	if (max)
		*max = c->max;
	if (def)
		*def = c->def;
}

int codec_default_level(enum codec_id id)
{
	int def;
	codec_levels(id, NULL, NULL, &def);
	return def;
}

size_t codec_bound(enum codec_id id, size_t src_len)
{
	switch (id) {
	case CODEC_NONE: return src_len;
	case CODEC_LZ4: return codec_lz4_bound(src_len);
	case CODEC_ZSTD: return codec_zstd_bound(src_len);
	case CODEC_DEFLATE: return codec_deflate_bound(src_len);
	default: return 0;
	}
}

struct codec_ctx *codec_ctx_new(void)
{
	return calloc(1, sizeof(struct codec_ctx));
}

void codec_ctx_free(struct codec_ctx *ctx)
{
	if (!ctx)
		return;
	codec_lz4_release(ctx);
	codec_zstd_release(ctx);
	codec_deflate_release(ctx);
	free(ctx);
}

int codec_compress(struct codec_ctx *ctx, enum codec_id id, int level, const void *src,
		   size_t src_len, void *dst, size_t dst_cap, size_t *dst_len)
{
	if (!valid_id(id) || !dst_len || (!src && src_len) || (!dst && dst_cap))
		return -EINVAL;
	if (level < codecs[id].min || level > codecs[id].max || src_len > CODEC_MAX_INPUT)
		return -EINVAL;
	if (!ctx && id != CODEC_NONE)
		return -EINVAL;
	*dst_len = 0;

	switch (id) {
	case CODEC_NONE:
		if (src_len > dst_cap)
			return -ENOSPC;
		if (src_len)
			memcpy(dst, src, src_len);
		*dst_len = src_len;
		return 0;
	case CODEC_LZ4: return codec_lz4_compress(ctx, level, src, src_len, dst, dst_cap, dst_len);
	case CODEC_ZSTD:
		return codec_zstd_compress(ctx, level, src, src_len, dst, dst_cap, dst_len);
	case CODEC_DEFLATE:
		return codec_deflate_compress(ctx, level, src, src_len, dst, dst_cap, dst_len);
	default: return -EINVAL;
	}
}

int codec_decompress(struct codec_ctx *ctx, enum codec_id id, const void *src, size_t src_len,
		     void *dst, size_t dst_cap, size_t expected_len)
{
	if (!valid_id(id) || (!src && src_len) || (!dst && dst_cap))
		return -EINVAL;
	if (!ctx && id != CODEC_NONE)
		return -EINVAL;
	/* expected_len normally comes off the wire: a bad one is a bad message. */
	if (expected_len > dst_cap || expected_len > CODEC_MAX_INPUT)
		return -EBADMSG;

	switch (id) {
	case CODEC_NONE:
		if (src_len != expected_len)
			return -EBADMSG;
		if (src_len)
			memcpy(dst, src, src_len);
		return 0;
	case CODEC_LZ4:
		if (src_len == 0)
			return -EBADMSG;
		return codec_lz4_decompress(ctx, src, src_len, dst, expected_len);
	case CODEC_ZSTD:
		if (src_len == 0)
			return -EBADMSG;
		return codec_zstd_decompress(ctx, src, src_len, dst, expected_len);
	case CODEC_DEFLATE:
		if (src_len == 0)
			return -EBADMSG;
		return codec_deflate_decompress(ctx, src, src_len, dst, expected_len);
	default: return -EINVAL;
	}
}

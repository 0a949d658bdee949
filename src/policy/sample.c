/* SPDX-License-Identifier: MIT */
#include "policy/sample.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

/* Copies up to SAMPLE_PAGES non-zero pages, evenly spread, into buf;
 * returns how many, and the zero share of all pages looked at. */
static unsigned gather(const struct ram_map *ram, uint8_t *buf, double *zero_share)
{
	uint64_t step = ram->total_pages / SAMPLE_PAGES ? ram->total_pages / SAMPLE_PAGES : 1;
	unsigned seen = 0, zero = 0, kept = 0;
	/* the copy first: the guest may be writing the page right now */
	for (uint64_t i = step / 2; i < ram->total_pages && seen < SAMPLE_PAGES; i += step, seen++) {
		uint8_t *dst = buf + (size_t)kept * VMIG_PAGE_SIZE;
		if (page_copy_is_zero(dst, ram_page(ram, i)))
			zero++;
		else
			kept++;
	}
	*zero_share = seen ? (double)zero / seen : 0;
	return kept;
}

/* One codec at one level over the sample: ratio, and compress/decompress
 * MiB/s. */
static void try_codec(struct codec_ctx *ctx, enum codec_id c, int level, const uint8_t *src,
		      size_t len, uint8_t *comp, size_t comp_cap, uint8_t *back,
		      struct plan_codec_sample *out)
{
	size_t clen = 0;
	uint64_t t0 = thread_cpu_ns();
	if (codec_compress(ctx, c, level, src, len, comp, comp_cap, &clen) || !clen)
		return;
	uint64_t t1 = thread_cpu_ns();
	if (codec_decompress(ctx, c, comp, clen, back, len, len))
		return;
	uint64_t t2 = thread_cpu_ns();
	double mib = (double)len / 1048576.0;
	out->ratio = (double)len / (double)clen;
	out->mibs_per_core = mib / ((double)(t1 - t0 + 1) / 1e9);
	out->dec_mibs_per_core = mib / ((double)(t2 - t1 + 1) / 1e9);
}

int sample_guest_memory(const struct ram_map *ram, struct plan_inputs *in)
{
	size_t cap = (size_t)SAMPLE_PAGES * VMIG_PAGE_SIZE, comp_cap = 0;
	for (int c = 1; c < CODEC_COUNT; c++)
		if (codec_bound((enum codec_id)c, cap) > comp_cap)
			comp_cap = codec_bound((enum codec_id)c, cap);
	uint8_t *buf = malloc(cap), *back = malloc(cap), *comp = malloc(comp_cap);
	struct codec_ctx *ctx = codec_ctx_new();
	int r = buf && back && comp && ctx ? 0 : -ENOMEM;
	if (!r) {
		unsigned n = gather(ram, buf, &in->zero_share);
		size_t len = (size_t)n * VMIG_PAGE_SIZE;
		for (int c = 1; n && c < CODEC_COUNT; c++) {
			enum codec_id id = (enum codec_id)c;
			int up = plan_raised_level(id);
			try_codec(ctx, id, codec_default_level(id), buf, len, comp, comp_cap, back,
				  &in->codec[c]);
			if (up)
				try_codec(ctx, id, up, buf, len, comp, comp_cap, back, &in->raised[c]);
		}
	}
	if (ctx)
		codec_ctx_free(ctx);
	free(buf);
	free(back);
	free(comp);
	return r;
}

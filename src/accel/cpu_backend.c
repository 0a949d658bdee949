/* SPDX-License-Identifier: MIT */
/*
 * The CPU backend: each worker thread owns one struct codec_ctx (zstd
 * contexts, ISA-L streams) and runs the codec layer's one-shot calls.
 */
#include <errno.h>
#include <stdio.h>

#include "accel/accel_internal.h"
#include "codec/codec.h"

static int cpu_worker_init(void *backend, unsigned idx, void **wstate, char *err, size_t errlen)
{
	struct codec_ctx *ctx = codec_ctx_new();
	if (!ctx) {
		snprintf(err, errlen, "cpu worker %u: out of memory for its codec context", idx);
		return -ENOMEM;
	}
	*wstate = ctx;
	return 0;
}

static void cpu_worker_fini(void *backend, void *wstate)
{
	codec_ctx_free(wstate);
}

static int cpu_run(void *backend, void *wstate, struct accel_job *job)
{
	struct codec_ctx *ctx = wstate;

	job->dst_len = 0;
	if (job->op == ACCEL_COMPRESS) {
		size_t n = 0;
		int rc = codec_compress(ctx, job->codec, job->level, job->src, job->src_len,
					job->dst, job->dst_cap, &n);
		if (rc == 0)
			job->dst_len = n;
		return rc;
	}
	int rc = codec_decompress(ctx, job->codec, job->src, job->src_len, job->dst, job->dst_cap,
				  job->expected_len);
	if (rc == 0)
		job->dst_len = job->expected_len;
	return rc;
}

const struct accel_backend_ops accel_cpu_ops = {
	.tag = "cpu",
	.worker_init = cpu_worker_init,
	.worker_fini = cpu_worker_fini,
	.run = cpu_run,
};

/* SPDX-License-Identifier: MIT */
/* Decompression offload on the destination (rx_offload.h). */
#include <errno.h>
#include <stdio.h>

#include "common/log.h"
#include "migration/rx_offload.h"

int rx_offload_open(const struct vmig_incoming_params *p, struct accel **out, char *err,
		    size_t errlen)
{
	*out = NULL;
	if (!p->accel || !p->accel[0])
		return 0;
	/* As on the source: QAT without a device falls back to the CPU unless told otherwise. */
	struct accel_config cfg = {.qatzip_path = p->qatzip_library,
				   .qat_fallback = ACCEL_QAT_FALLBACK_CPU};
	if (accel_kind_parse(p->accel, &cfg.kind)) {
		snprintf(err, errlen, "unknown accelerator '%s' (want cpu, qat or auto)", p->accel);
		return -EINVAL;
	}
	int r = accel_config_set_qat_names(&cfg, p->qat_fallback, p->qatzip_log, err, errlen);
	if (r)
		return r;
	r = accel_open(&cfg, out, err, errlen);
	if (r == 0)
		log_info("decompressing through the offload engine: %s", accel_describe(*out));
	return r;
}

int rx_offload_decompress(struct accel *a, struct accel_queue *q, enum codec_id codec,
			  const void *src, size_t src_len, void *dst, size_t dst_cap,
			  size_t expected_len)
{
	struct accel_job job = {.op = ACCEL_DECOMPRESS, .codec = codec, .src = src,
				.src_len = src_len, .dst = dst, .dst_cap = dst_cap,
				.expected_len = expected_len};
	int r = accel_submit_to(a, q, &job);
	if (r)
		return r; /* -EAGAIN cannot happen with one job per channel in flight */
	struct accel_job *done = NULL;
	r = accel_poll_queue(q, &done, 1, -1);
	if (r != 1 || done != &job)
		return r < 0 ? r : -EIO;
	if (job.status)
		return job.status;
	/* The backends check it; a hostile stream gets checked here once more. */
	return job.dst_len == expected_len ? 0 : -EBADMSG;
}

void rx_offload_describe(struct accel *a, char *buf, size_t len)
{
	struct accel_stats s;
	accel_get_stats(a, &s);
	if (s.qat_jobs_on_cpu)
		snprintf(buf, len, "%s; %llu jobs on the CPU codec", accel_describe(a),
			 (unsigned long long)s.qat_jobs_on_cpu);
	else
		snprintf(buf, len, "%s", accel_describe(a));
}

uint64_t rx_offload_decompress_ns(struct accel *a)
{
	struct accel_stats s;
	accel_get_stats(a, &s);
	return s.decompress_ns;
}

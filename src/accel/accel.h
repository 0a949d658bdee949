/* SPDX-License-Identifier: MIT */
/*
 * The offload engine: asynchronous compression and decompression jobs,
 * submitted and polled like Intel QAT's API, so a backend can keep many
 * jobs in flight. Backends: CPU worker threads (ISA-L, zstd, lz4) and Intel
 * QAT through QATzip (libqatzip.so.3, loaded at run time with dlopen).
 */
#ifndef VMIG_ACCEL_H
#define VMIG_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

enum accel_kind {
	ACCEL_CPU,  /* worker threads */
	ACCEL_QAT,  /* QATzip; fails to open without the library or a device */
	ACCEL_AUTO, /* QAT if it opens, else CPU (and says so in accel_describe) */
};

enum accel_op { ACCEL_COMPRESS, ACCEL_DECOMPRESS };

struct accel_job {
	/* in */
	enum accel_op op;
	enum codec_id codec;
	int level;
	const void *src;
	size_t src_len;
	void *dst;
	size_t dst_cap;
	size_t expected_len;  /* decompress: exact output size required */
	void *user;           /* caller's cookie, untouched */
	/* out, valid once polled */
	size_t dst_len;
	int status;           /* 0, or negative errno (-EBADMSG corrupt, -ENOSPC) */
};

struct accel_config {
	enum accel_kind kind;
	unsigned threads;     /* CPU backend workers (0: one per online CPU, max 64) */
	unsigned queue_depth; /* jobs in flight before submit says -EAGAIN (0: 256) */
	const char *qatzip_path; /* NULL: "libqatzip.so.3" (tests point at the test double) */
};

struct accel_stats {
	uint64_t jobs, failed;
	uint64_t bytes_in, bytes_out;
	uint64_t compress_ns, decompress_ns; /* CPU time spent in codec work (thread CPU clock) */
};

struct accel;

int accel_open(const struct accel_config *cfg, struct accel **out, char *err, size_t errlen);
void accel_close(struct accel *a); /* waits for jobs in flight */

/* Takes ownership of job until it comes back from accel_poll. -EAGAIN: full. */
int accel_submit(struct accel *a, struct accel_job *job);
/*
 * Returns up to max completed jobs in done[], in completion order; waits up
 * to timeout_ms (0: do not wait, <0: until at least one completes). Returns
 * the count, or a negative errno.
 */
int accel_poll(struct accel *a, struct accel_job **done, unsigned max, int timeout_ms);

/* "cpu (4 threads)", "qat (QATzip 1.x, N instances)", "cpu (4 threads; QAT unavailable: ...)" */
const char *accel_describe(const struct accel *a);
enum accel_kind accel_kind_in_use(const struct accel *a);
void accel_get_stats(struct accel *a, struct accel_stats *s);

#endif

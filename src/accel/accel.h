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

/*
 * What QAT does on a host where it has no device (or the device refuses a
 * session). The zero value keeps ACCEL_QAT strict.
 */
enum accel_qat_fallback {
	ACCEL_QAT_FALLBACK_NONE,   /* fail: sessions ask for hardware only (sw_backup=0) */
	ACCEL_QAT_FALLBACK_QATZIP, /* QATzip's own software path (sw_backup=1) */
	ACCEL_QAT_FALLBACK_CPU,    /* vmig's CPU workers, as ACCEL_AUTO does */
};

/* QATzip's own log levels (its QzLogLevel_T), for qzSetLogLevel. */
enum accel_qatzip_log {
	ACCEL_QATZIP_LOG_NONE = 0,
	ACCEL_QATZIP_LOG_ERROR,
	ACCEL_QATZIP_LOG_WARNING,
	ACCEL_QATZIP_LOG_INFO,
	ACCEL_QATZIP_LOG_DEBUG,
};

/*
 * The largest job QAT is given (QATzip's QZ_HW_BUFF_MAX_SZ, the session's
 * hw_buff_sz): a raw-deflate stream that inflates to more than hw_buff_sz
 * fails on a device, so senders keep compressed batches within it (see
 * accel_max_job_bytes) and the QAT backend inflates larger ones on the CPU.
 */
#define ACCEL_QAT_MAX_JOB_BYTES (512u * 1024u)

struct accel_config {
	enum accel_kind kind;
	unsigned threads;     /* CPU backend workers (0: one per online CPU, max 64) */
	unsigned queue_depth; /* jobs in flight before submit says -EAGAIN (0: 256) */
	const char *qatzip_path; /* NULL: "libqatzip.so.3" (tests point at the test double) */
	enum accel_qat_fallback qat_fallback; /* ACCEL_QAT only; ACCEL_AUTO always falls to CPU */
	/* QATzip writes its log to stderr itself; this is the level it is set to. */
	enum accel_qatzip_log qatzip_log;     /* 0 (none) is the default */
};

struct accel_stats {
	uint64_t jobs, failed;
	uint64_t bytes_in, bytes_out;
	uint64_t compress_ns, decompress_ns; /* CPU time spent in codec work (thread CPU clock) */
	uint64_t qat_jobs_on_cpu; /* QAT jobs its workers did on the CPU codec (qat_backend.c) */
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

/*
 * Additions to the API above (the functions above keep their meaning).
 *
 * Threads and sessions: cfg->threads is the number of worker threads of
 * each backend. CPU: codec workers (0: one per online CPU). QAT: QATzip
 * sessions, each owned by one worker thread, so the number of jobs the
 * device works on at once (0: 16). At most 64 either way. When ACCEL_AUTO
 * got QAT, the codecs QAT does not do (all but deflate) run on CPU workers
 * of the same accel; with ACCEL_QAT they are refused by submit (-ENOTSUP).
 *
 * In flight: a job counts from accel_submit until it comes back from a poll
 * (done but not yet polled counts too), queue_depth in all, over all queues.
 *
 * Thread safety: submit and poll may be called from many threads at once.
 * A job submitted with accel_submit comes back to whichever thread polls
 * the default queue first. To get one's own jobs back, give each thread its
 * own completion queue (accel_queue_new) and use accel_submit_to and
 * accel_poll_queue with it. accel_close and accel_queue_free must not race
 * with calls on what they free.
 *
 * accel_poll / accel_poll_queue with timeout_ms < 0 return 0 at once, not
 * block forever, when that queue has nothing in flight.
 */
struct accel_queue;

/* A completion queue owned by one caller (e.g. a channel thread). */
int accel_queue_new(struct accel *a, struct accel_queue **out);
/*
 * Takes back the queue's jobs no worker has started (their status becomes
 * -ECANCELED), waits for those being worked on (they may point into
 * buffers the caller is about to free), drops the done ones not yet
 * polled, and frees it. accel_close frees queues still open; free yours
 * before it.
 */
void accel_queue_free(struct accel_queue *q);
/* Like accel_submit; the job comes back on q (NULL: the default queue). */
int accel_submit_to(struct accel *a, struct accel_queue *q, struct accel_job *job);
/* Like accel_poll, on q only. */
int accel_poll_queue(struct accel_queue *q, struct accel_job **done, unsigned max, int timeout_ms);
/* Jobs submitted to q and not yet polled from it. */
unsigned accel_queue_in_flight(struct accel_queue *q);

/* Largest job size the backend in use takes whole (0: no limit). */
size_t accel_max_job_bytes(const struct accel *a);

/* "none", "qatzip", "cpu"; and back. */
const char *accel_qat_fallback_name(enum accel_qat_fallback f);
int accel_qat_fallback_parse(const char *name, enum accel_qat_fallback *out);
/* "none", "error", "warning", "info", "debug"; and back. */
int accel_qatzip_log_parse(const char *name, enum accel_qatzip_log *out);
/*
 * Both of the above into cfg from an API's strings (NULL leaves cfg's
 * value): 0, or -EINVAL with a message naming the bad one.
 */
int accel_config_set_qat_names(struct accel_config *cfg, const char *fallback, const char *log,
			       char *err, size_t errlen);

/* "cpu", "qat", "auto"; and back (-EINVAL for anything else). */
const char *accel_kind_name(enum accel_kind kind);
int accel_kind_parse(const char *name, enum accel_kind *out);

#endif

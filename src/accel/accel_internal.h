/* SPDX-License-Identifier: MIT */
/*
 * Inside the offload engine: what accel.c (queues, workers, stats) asks of
 * a backend (cpu_backend.c, qat_backend.c). Nothing outside src/accel
 * includes it.
 *
 * A backend is a set of worker threads, each with its own state (a codec
 * context, a QATzip session) made and freed on that thread. accel.c starts
 * the threads, hands each job to one worker, times the backend's run() with
 * the thread's CPU clock and queues the job for its poller.
 */
#ifndef VMIG_ACCEL_INTERNAL_H
#define VMIG_ACCEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "accel/accel.h"
#include "common/clock.h"

struct accel_backend_ops {
	const char *tag; /* in thread names: "accel-<tag><n>" */
	/* On the worker thread, before any job: 0 or -errno with a message. */
	int (*worker_init)(void *backend, unsigned idx, void **wstate, char *err, size_t errlen);
	/* On the worker thread, after its last job. */
	void (*worker_fini)(void *backend, void *wstate);
	/* One job: sets job->dst_len, returns 0 or -errno (the job's status). */
	int (*run)(void *backend, void *wstate, struct accel_job *job);
};

/* CPU: the codec layer, one struct codec_ctx per worker. backend is unused. */
extern const struct accel_backend_ops accel_cpu_ops;

/* QAT through QATzip (qat_backend.c). */
struct accel_qat;
extern const struct accel_backend_ops accel_qat_ops;
/*
 * dlopen the library (cfg->qatzip_path NULL: "libqatzip.so.3"), set its
 * log level (cfg->qatzip_log), look up the calls and
 * check the session-parameter layout. Touches no device: each worker's
 * worker_init does qzInit and the session setup, and says if there is none.
 */
int accel_qat_load(const struct accel_config *cfg, struct accel_qat **out, char *err,
		   size_t errlen);
void accel_qat_unload(struct accel_qat *q);
/* "QATzip 1.2.0", or the stand-in's "TEST DOUBLE ..." line. After init. */
void accel_qat_version(struct accel_qat *q, char *buf, size_t len);
/*
 * After the workers started: how many sessions run in QATzip's software
 * path (no device, sw_backup=1), and jobs done on vmig's CPU codec instead
 * of QATzip (see qat_backend.c: over hw_buff_sz, or past the no-device call
 * budget).
 */
unsigned accel_qat_software_sessions(const struct accel_qat *q);
unsigned long accel_qat_cpu_jobs(const struct accel_qat *q);
/* What QAT does: deflate, both ways. */
bool accel_qat_supports(enum codec_id codec);


#endif

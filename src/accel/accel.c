/* SPDX-License-Identifier: MIT */
/*
 * The offload engine's common part: job slots, pending lists, completion
 * queues, worker threads, statistics and the choice of backend.
 *
 * Jobs are the caller's structs; the engine links them through slots, one
 * per job in flight, queue_depth of them, taken at submit and given back
 * when the job is polled. Each backend (a "pool") has worker threads that
 * take jobs off its pending list in order and put them, done, on the
 * completion queue the job was submitted to. One mutex per accel guards
 * everything; it is held only to move a slot from one list to another,
 * never while a codec or QATzip runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accel/accel.h"
#include "accel/accel_internal.h"
#include "common/log.h"

#define DEFAULT_QUEUE_DEPTH 256u
#define MAX_QUEUE_DEPTH 65536u
#define MAX_THREADS 64u
#define DEFAULT_QAT_SESSIONS 16u

struct accel_slot {
	struct accel_job *job;
	struct accel_queue *q;
	struct accel_slot *next;
};

struct accel_queue {
	struct accel *a;
	pthread_cond_t cv;	 /* a job came back, or busy fell to 0 */
	struct accel_slot *head; /* done, not yet polled */
	struct accel_slot *tail;
	unsigned in_flight; /* submitted, not yet polled */
	unsigned busy;	    /* submitted, not yet done */
	struct accel_queue *next;
};

struct accel_pool;

struct accel_worker {
	struct accel_pool *pool;
	unsigned idx;
};

struct accel_pool {
	struct accel *a;
	const struct accel_backend_ops *ops;
	void *backend;
	unsigned nthreads; /* started */
	pthread_t *threads;
	struct accel_worker *workers;
	pthread_cond_t work_cv;	 /* a job is pending, or stop */
	struct accel_slot *head; /* pending */
	struct accel_slot *tail;
	bool stopping;
	/* start-up: each worker reports once */
	pthread_cond_t init_cv;
	unsigned reported;
	int init_rc;
	char init_err[256];
};

struct accel {
	pthread_mutex_t lock;
	enum accel_kind in_use; /* ACCEL_CPU or ACCEL_QAT */
	struct accel_pool cpu, qat;
	bool has_cpu, has_qat;
	struct accel_qat *qatlib;
	struct accel_slot *slots;
	struct accel_slot *free_slots;
	unsigned depth;
	struct accel_queue *queues; /* all, the default one included */
	struct accel_queue *default_q;
	struct accel_stats stats;
	char desc[512];
};

const char *accel_kind_name(enum accel_kind kind)
{
	switch (kind) {
	case ACCEL_CPU: return "cpu";
	case ACCEL_QAT: return "qat";
	case ACCEL_AUTO: return "auto";
	}
	return "unknown";
}

const char *accel_qat_fallback_name(enum accel_qat_fallback f)
{
	switch (f) {
	case ACCEL_QAT_FALLBACK_NONE: return "none";
	case ACCEL_QAT_FALLBACK_QATZIP: return "qatzip";
	case ACCEL_QAT_FALLBACK_CPU: return "cpu";
	}
	return "unknown";
}

int accel_qat_fallback_parse(const char *name, enum accel_qat_fallback *out)
{
	static const enum accel_qat_fallback all[] = {
		ACCEL_QAT_FALLBACK_NONE, ACCEL_QAT_FALLBACK_QATZIP, ACCEL_QAT_FALLBACK_CPU};
	for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, accel_qat_fallback_name(all[i])) == 0) {
			if (out)
				*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

int accel_qatzip_log_parse(const char *name, enum accel_qatzip_log *out)
{
	static const char *const names[] = {"none", "error", "warning", "info", "debug"};
	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			if (out)
				*out = (enum accel_qatzip_log)i;
			return 0;
		}
	}
	return -EINVAL;
}

int accel_config_set_qat_names(struct accel_config *cfg, const char *fallback, const char *log,
			       char *err, size_t errlen)
{
	if (fallback && accel_qat_fallback_parse(fallback, &cfg->qat_fallback)) {
		snprintf(err, errlen, "unknown QAT fallback '%s' (want none, qatzip or cpu)",
			 fallback);
		return -EINVAL;
	}
	if (log && accel_qatzip_log_parse(log, &cfg->qatzip_log)) {
		snprintf(err, errlen,
			 "unknown QATzip log level '%s' (want none, error, warning, info or debug)",
			 log);
		return -EINVAL;
	}
	return 0;
}

int accel_kind_parse(const char *name, enum accel_kind *out)
{
	static const enum accel_kind kinds[] = {ACCEL_CPU, ACCEL_QAT, ACCEL_AUTO};
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(name, accel_kind_name(kinds[i])) == 0) {
			if (out)
				*out = kinds[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- workers ---- */

static void slot_release(struct accel *a, struct accel_slot *s)
{
	s->job = NULL;
	s->q = NULL;
	s->next = a->free_slots;
	a->free_slots = s;
}

static void complete_locked(struct accel *a, struct accel_slot *s, int status,
			    unsigned long long ns)
{
	struct accel_job *job = s->job;
	struct accel_queue *q = s->q;

	job->status = status;
	if (status != 0)
		job->dst_len = 0;
	a->stats.jobs++;
	if (status != 0) {
		a->stats.failed++;
	} else {
		a->stats.bytes_in += job->src_len;
		a->stats.bytes_out += job->dst_len;
	}
	if (job->op == ACCEL_COMPRESS)
		a->stats.compress_ns += ns;
	else
		a->stats.decompress_ns += ns;

	s->next = NULL;
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->busy--;
	if (q->busy == 0)
		pthread_cond_broadcast(&q->cv); /* pollers, and a queue_free waiting */
	else
		pthread_cond_signal(&q->cv);
}

static void *worker_main(void *arg)
{
	struct accel_worker *w = arg;
	struct accel_pool *p = w->pool;
	struct accel *a = p->a;
	char name[16];
	char err[256] = "";
	void *ws = NULL;

	snprintf(name, sizeof(name), "accel-%s%u", p->ops->tag, w->idx);
	pthread_setname_np(pthread_self(), name);

	int rc = p->ops->worker_init(p->backend, w->idx, &ws, err, sizeof(err));

	pthread_mutex_lock(&a->lock);
	p->reported++;
	if (rc != 0 && p->init_rc == 0) {
		p->init_rc = rc;
		snprintf(p->init_err, sizeof(p->init_err), "%s", err[0] ? err : strerror(-rc));
	}
	pthread_cond_broadcast(&p->init_cv);
	if (rc != 0) {
		pthread_mutex_unlock(&a->lock);
		return NULL;
	}
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work_cv, &a->lock);
		struct accel_slot *s = p->head;
		if (!s)
			break; /* stopping, and nothing left to do */
		p->head = s->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&a->lock);

		unsigned long long t0 = thread_cpu_ns();
		int status = p->ops->run(p->backend, ws, s->job);
		unsigned long long t1 = thread_cpu_ns();

		pthread_mutex_lock(&a->lock);
		complete_locked(a, s, status, t1 > t0 ? t1 - t0 : 0);
	}
	pthread_mutex_unlock(&a->lock);
	p->ops->worker_fini(p->backend, ws);
	return NULL;
}

static void pool_stop(struct accel *a, struct accel_pool *p)
{
	pthread_mutex_lock(&a->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&a->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->init_cv);
	free(p->threads);
	free(p->workers);
	p->threads = NULL;
	p->workers = NULL;
	p->nthreads = 0;
}

/* Starts n workers and waits until each has set itself up. */
static int pool_start(struct accel *a, struct accel_pool *p, const struct accel_backend_ops *ops,
		      void *backend, unsigned n, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->ops = ops;
	p->backend = backend;
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->init_cv, NULL);
	p->threads = calloc(n, sizeof(*p->threads));
	p->workers = calloc(n, sizeof(*p->workers));
	if (!p->threads || !p->workers) {
		pool_stop(a, p);
		snprintf(err, errlen, "offload engine: out of memory for %u %s workers", n, ops->tag);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		p->workers[i].pool = p;
		p->workers[i].idx = i;
		int rc = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
		if (rc != 0) {
			pool_stop(a, p);
			snprintf(err, errlen, "offload engine: cannot start %s worker %u: %s", ops->tag,
				 i, strerror(rc));
			return -rc;
		}
		p->nthreads = i + 1;
	}
	pthread_mutex_lock(&a->lock);
	while (p->reported < p->nthreads)
		pthread_cond_wait(&p->init_cv, &a->lock);
	int rc = p->init_rc;
	if (rc != 0)
		snprintf(err, errlen, "%s", p->init_err);
	pthread_mutex_unlock(&a->lock);
	if (rc != 0)
		pool_stop(a, p);
	return rc;
}

/* ---- queues ---- */

static int queue_create(struct accel *a, struct accel_queue **out)
{
	struct accel_queue *q = calloc(1, sizeof(*q));
	pthread_condattr_t attr;

	if (!q)
		return -ENOMEM;
	q->a = a;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&a->lock);
	q->next = a->queues;
	a->queues = q;
	pthread_mutex_unlock(&a->lock);
	*out = q;
	return 0;
}

int accel_queue_new(struct accel *a, struct accel_queue **out)
{
	if (!a || !out)
		return -EINVAL;
	return queue_create(a, out);
}

/* Takes the jobs of q that no worker has started off p's pending list. */
static void cancel_pending_locked(struct accel *a, struct accel_pool *p, struct accel_queue *q)
{
	struct accel_slot **link = &p->head;
	struct accel_slot *prev = NULL;

	while (*link) {
		struct accel_slot *s = *link;
		if (s->q != q) {
			prev = s;
			link = &s->next;
			continue;
		}
		*link = s->next;
		if (p->tail == s)
			p->tail = prev;
		s->job->status = -ECANCELED;
		q->busy--;
		q->in_flight--;
		slot_release(a, s);
	}
}

/* With a->lock held; the caller has made sure no worker still holds a job of q. */
static void queue_destroy_locked(struct accel *a, struct accel_queue *q)
{
	while (q->head) {
		struct accel_slot *s = q->head;
		q->head = s->next;
		slot_release(a, s);
	}
	for (struct accel_queue **link = &a->queues; *link; link = &(*link)->next) {
		if (*link == q) {
			*link = q->next;
			break;
		}
	}
	pthread_cond_destroy(&q->cv);
	free(q);
}

void accel_queue_free(struct accel_queue *q)
{
	if (!q)
		return;
	struct accel *a = q->a;
	pthread_mutex_lock(&a->lock);
	if (q == a->default_q) { /* it lives until accel_close */
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (a->has_cpu)
		cancel_pending_locked(a, &a->cpu, q);
	if (a->has_qat)
		cancel_pending_locked(a, &a->qat, q);
	while (q->busy)
		pthread_cond_wait(&q->cv, &a->lock);
	queue_destroy_locked(a, q);
	pthread_mutex_unlock(&a->lock);
}

unsigned accel_queue_in_flight(struct accel_queue *q)
{
	if (!q)
		return 0;
	pthread_mutex_lock(&q->a->lock);
	unsigned n = q->in_flight;
	pthread_mutex_unlock(&q->a->lock);
	return n;
}

/* ---- submit and poll ---- */

int accel_submit_to(struct accel *a, struct accel_queue *q, struct accel_job *job)
{
	struct accel_pool *p;

	if (!a || !job)
		return -EINVAL;
	if (!q)
		q = a->default_q;
	else if (q->a != a)
		return -EINVAL;
	if (job->op != ACCEL_COMPRESS && job->op != ACCEL_DECOMPRESS)
		return -EINVAL;
	if ((unsigned)job->codec >= CODEC_COUNT)
		return -EINVAL;
	if (a->has_qat && accel_qat_supports(job->codec))
		p = &a->qat;
	else if (a->has_cpu)
		p = &a->cpu;
	else
		return -ENOTSUP; /* ACCEL_QAT and a codec QAT does not do */

	pthread_mutex_lock(&a->lock);
	struct accel_slot *s = a->free_slots;
	if (!s) {
		pthread_mutex_unlock(&a->lock);
		return -EAGAIN;
	}
	a->free_slots = s->next;
	s->job = job;
	s->q = q;
	s->next = NULL;
	job->status = -EINPROGRESS;
	job->dst_len = 0;
	q->in_flight++;
	q->busy++;
	if (p->tail)
		p->tail->next = s;
	else
		p->head = s;
	p->tail = s;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int accel_submit(struct accel *a, struct accel_job *job)
{
	return accel_submit_to(a, NULL, job);
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int accel_poll_queue(struct accel_queue *q, struct accel_job **done, unsigned max, int timeout_ms)
{
	if (!q || (!done && max))
		return -EINVAL;
	if (max == 0)
		return 0;
	struct accel *a = q->a;
	struct timespec deadline;
	unsigned n = 0;

	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&a->lock);
	while (!q->head && timeout_ms != 0) {
		if (timeout_ms < 0) {
			if (q->in_flight == 0)
				break; /* nothing would ever come */
			pthread_cond_wait(&q->cv, &a->lock);
		} else if (pthread_cond_timedwait(&q->cv, &a->lock, &deadline) == ETIMEDOUT) {
			break;
		}
	}
	while (q->head && n < max) {
		struct accel_slot *s = q->head;
		q->head = s->next;
		if (!q->head)
			q->tail = NULL;
		done[n++] = s->job;
		q->in_flight--;
		slot_release(a, s);
	}
	if (n && q->in_flight == 0)
		pthread_cond_broadcast(&q->cv); /* other pollers waiting with no timeout */
	pthread_mutex_unlock(&a->lock);
	return (int)n;
}

int accel_poll(struct accel *a, struct accel_job **done, unsigned max, int timeout_ms)
{
	if (!a)
		return -EINVAL;
	return accel_poll_queue(a->default_q, done, max, timeout_ms);
}

/* ---- open, close, describe ---- */

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > (long)MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

static const char *plural(unsigned n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* QAT: load QATzip, start one session per worker. 0, or -errno and err. */
static int open_qat(struct accel *a, const struct accel_config *cfg, unsigned sessions, char *err,
		    size_t errlen)
{
	int rc = accel_qat_load(cfg, &a->qatlib, err, errlen);
	if (rc != 0)
		return rc;
	rc = pool_start(a, &a->qat, &accel_qat_ops, a->qatlib, sessions, err, errlen);
	if (rc != 0) {
		accel_qat_unload(a->qatlib);
		a->qatlib = NULL;
		return rc;
	}
	a->has_qat = true;
	return 0;
}

void accel_close(struct accel *a)
{
	if (!a)
		return;
	/* Workers finish every pending job before they exit. */
	if (a->has_qat)
		pool_stop(a, &a->qat);
	if (a->has_cpu)
		pool_stop(a, &a->cpu);
	a->has_qat = a->has_cpu = false;
	pthread_mutex_lock(&a->lock);
	while (a->queues)
		queue_destroy_locked(a, a->queues);
	pthread_mutex_unlock(&a->lock);
	if (a->qatlib)
		accel_qat_unload(a->qatlib);
	free(a->slots);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* The config's values within bounds: 0, or -EINVAL with the reason. */
static int check_config(const struct accel_config *cfg, char *err, size_t errlen)
{
	if (cfg->kind != ACCEL_CPU && cfg->kind != ACCEL_QAT && cfg->kind != ACCEL_AUTO) {
		snprintf(err, errlen, "offload engine: unknown kind %d", (int)cfg->kind);
		return -EINVAL;
	}
	if (cfg->threads > MAX_THREADS) {
		snprintf(err, errlen, "offload engine: %u threads asked for, at most %u", cfg->threads,
			 MAX_THREADS);
		return -EINVAL;
	}
	if (cfg->queue_depth > MAX_QUEUE_DEPTH) {
		snprintf(err, errlen, "offload engine: queue depth %u, at most %u", cfg->queue_depth,
			 MAX_QUEUE_DEPTH);
		return -EINVAL;
	}
	if ((unsigned)cfg->qat_fallback > ACCEL_QAT_FALLBACK_CPU ||
	    (unsigned)cfg->qatzip_log > ACCEL_QATZIP_LOG_DEBUG) {
		snprintf(err, errlen, "offload engine: unknown QAT fallback %d or QATzip log level %d",
			 (int)cfg->qat_fallback, (int)cfg->qatzip_log);
		return -EINVAL;
	}
	return 0;
}

/* An engine with its job slots and default queue, no backend yet. */
static int engine_alloc(const struct accel_config *cfg, struct accel **out, char *err,
			size_t errlen)
{
	struct accel *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "offload engine: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->depth = cfg->queue_depth ? cfg->queue_depth : DEFAULT_QUEUE_DEPTH;
	a->slots = calloc(a->depth, sizeof(*a->slots));
	if (!a->slots || queue_create(a, &a->default_q) != 0) {
		snprintf(err, errlen, "offload engine: out of memory for %u job slots", a->depth);
		accel_close(a);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < a->depth; i++)
		slot_release(a, &a->slots[a->depth - 1 - i]);
	*out = a;
	return 0;
}

/*
 * The fallback choice: QAT first when asked for (or auto), then the CPU
 * pool unless QAT was demanded without the CPU fallback. qat_err gets why
 * QAT is not used. 0, or -errno with the reason in err.
 */
static int start_backends(struct accel *a, const struct accel_config *cfg, unsigned cpu_threads,
			  unsigned qat_sessions, char *qat_err, size_t qat_errlen, char *err,
			  size_t errlen)
{
	int rc;

	/* QAT with the CPU fallback is ACCEL_AUTO under another name. */
	bool strict_qat = cfg->kind == ACCEL_QAT && cfg->qat_fallback != ACCEL_QAT_FALLBACK_CPU;
	bool want_cpu = cfg->kind != ACCEL_QAT || !strict_qat;
	if (cfg->kind == ACCEL_QAT || cfg->kind == ACCEL_AUTO) {
		rc = open_qat(a, cfg, qat_sessions, qat_err, qat_errlen);
		if (rc != 0 && strict_qat) {
			snprintf(err, errlen, "%s", qat_err);
			return rc;
		}
		if (rc != 0 && cfg->kind == ACCEL_QAT)
			log_warn("offload engine: %s; falling back to vmig's CPU codecs "
				 "(--qat-fallback cpu)", qat_err);
		else if (rc != 0)
			log_debug("offload engine: %s; falling back to the CPU", qat_err);
	}
	if (want_cpu) {
		rc = pool_start(a, &a->cpu, &accel_cpu_ops, NULL, cpu_threads, err, errlen);
		if (rc != 0)
			return rc;
		a->has_cpu = true;
	}
	return 0;
}

/* a->in_use and a->desc: which backend serves jobs, in words. */
static void describe_engine(struct accel *a, const struct accel_config *cfg, unsigned cpu_threads,
			    unsigned qat_sessions, const char *qat_err)
{
	if (a->has_qat) {
		char ver[200];
		accel_qat_version(a->qatlib, ver, sizeof(ver));
		unsigned sw = accel_qat_software_sessions(a->qatlib);
		if (sw) /* QATzip said so: no device under these sessions */
			snprintf(ver + strlen(ver), sizeof(ver) - strlen(ver),
				 " in software: no QAT device, sw_backup=1");
		a->in_use = ACCEL_QAT;
		if (a->has_cpu)
			snprintf(a->desc, sizeof(a->desc),
				 "qat (%s, %u %s; other codecs on cpu, %u %s)", ver, qat_sessions,
				 plural(qat_sessions, "session", "sessions"), cpu_threads,
				 plural(cpu_threads, "thread", "threads"));
		else
			snprintf(a->desc, sizeof(a->desc), "qat (%s, %u %s)", ver, qat_sessions,
				 plural(qat_sessions, "session", "sessions"));
	} else {
		a->in_use = ACCEL_CPU;
		if (cfg->kind != ACCEL_CPU)
			snprintf(a->desc, sizeof(a->desc), "cpu (%u %s; QAT unavailable: %s)",
				 cpu_threads, plural(cpu_threads, "thread", "threads"), qat_err);
		else
			snprintf(a->desc, sizeof(a->desc), "cpu (%u %s)", cpu_threads,
				 plural(cpu_threads, "thread", "threads"));
	}
}

int accel_open(const struct accel_config *cfg, struct accel **out, char *err, size_t errlen)
{
	char qat_err[384] = "";
	struct accel *a;
	int rc;

	if (!cfg || !out || (!err && errlen)) {
		if (err && errlen)
			snprintf(err, errlen, "accel_open: bad arguments");
		return -EINVAL;
	}
	if ((rc = check_config(cfg, err, errlen)))
		return rc;
	unsigned cpu_threads = cfg->threads ? cfg->threads : online_cpus();
	unsigned qat_sessions = cfg->threads ? cfg->threads : DEFAULT_QAT_SESSIONS;

	if ((rc = engine_alloc(cfg, &a, err, errlen)))
		return rc;
	if ((rc = start_backends(a, cfg, cpu_threads, qat_sessions, qat_err, sizeof(qat_err), err,
				 errlen))) {
		accel_close(a);
		return rc;
	}
	describe_engine(a, cfg, cpu_threads, qat_sessions, qat_err);
	*out = a;
	return 0;
}

const char *accel_describe(const struct accel *a)
{
	return a ? a->desc : "none";
}

size_t accel_max_job_bytes(const struct accel *a)
{
	return a && a->has_qat ? ACCEL_QAT_MAX_JOB_BYTES : 0;
}

enum accel_kind accel_kind_in_use(const struct accel *a)
{
	return a ? a->in_use : ACCEL_CPU;
}

void accel_get_stats(struct accel *a, struct accel_stats *s)
{
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	*s = a->stats;
	pthread_mutex_unlock(&a->lock);
	if (a->qatlib)
		s->qat_jobs_on_cpu = accel_qat_cpu_jobs(a->qatlib);
}

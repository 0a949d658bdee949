/* SPDX-License-Identifier: MIT */
/* The guest's progress lines: see progress.h. */
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "common/clock.h"

#define LINE_EVERY_NS 1000000000ull

uint64_t progress_guest_ms(const struct progress *p)
{
	return p->base_ms + (now_ns() - p->start_ns) / 1000000;
}

static void write_line(struct progress *p, struct wl_progress *last, uint64_t *last_ns)
{
	struct wl_progress now;
	uint64_t t = now_ns();
	workload_progress(p->w, &now);
	double secs = (double)(t - *last_ns) / 1e9;
	double mibs = secs > 0 ? (double)(now.pages - last->pages) * VMIG_PAGE_SIZE / 1048576.0 / secs
			       : 0;
	fprintf(p->out, "guestload: t=%" PRIu64 "s passes=%" PRIu64 " dirty=%.1fMiB/s errors=%" PRIu64
		"\n", (progress_guest_ms(p) + 500) / 1000, now.passes, mibs, now.errors);
	fflush(p->out);
	__atomic_add_fetch(&p->lines, 1, __ATOMIC_RELEASE);
	*last = now;
	*last_ns = t;
}

static void *progress_thread(void *arg)
{
	struct progress *p = arg;
	struct wl_progress last;
	uint64_t last_ns = p->start_ns, next = p->start_ns;

	pthread_setname_np(pthread_self(), "serial");
	workload_progress(p->w, &last);
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		next += LINE_EVERY_NS;
		struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &ts) != ETIMEDOUT)
			;
		if (p->stop || gd_is_paused(p->w->g))
			continue;
		pthread_mutex_unlock(&p->lock);
		write_line(p, &last, &last_ns);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int progress_start(struct progress *p, FILE *out, struct workload *w, uint64_t base_ms)
{
	pthread_condattr_t ca;
	*p = (struct progress){.out = out, .w = w, .start_ns = now_ns(), .base_ms = base_ms};
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	int r = pthread_create(&p->thread, NULL, progress_thread, p);
	p->on = r == 0;
	return -r;
}

void progress_stop(struct progress *p)
{
	if (!p->on)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->on = false;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

unsigned progress_lines(struct progress *p)
{
	return __atomic_load_n(&p->lines, __ATOMIC_ACQUIRE);
}

/* SPDX-License-Identifier: MIT */
/* guestload's workload on a guest double: see workload.h. */
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "common/clock.h"
#include "fill.h"
#include "order.h"
#include "page.h"
#include "rng.h"
#include "share.h"

#define BATCH 8                 /* pages between leaving the guest (guestload's clock checks) */
#define SPIN_NS 50000ull        /* a rate-limited vCPU waits inside at most this at a time */
#define BEHIND_NS 100000000ull  /* this far behind its rate, a writer does not burst */
#define GEN_PER_PAGE (VMIG_PAGE_SIZE / sizeof(uint32_t))

/* ---- arguments and layout ---- */

/* guestload's page_seed (guest/check.c): content as a function of the page's
 * number, its generation and seed= */
static uint64_t seed_of(const struct workload *w, uint64_t pageno, uint32_t gen)
{
	return mix64(w->cfg.seed ^ mix64((pageno << 32) | gen));
}

/* What guestload takes but a guest double cannot do: 0, or -EINVAL with err. */
static int check_supported(const struct config *c, bool modules, char *err, size_t errlen)
{
	const char *why = c->fill == FILL_MODULES && !modules ? "fill=modules needs --module FILE"
			  : c->modcorrupt ? "modcorrupt= (the destination checks the module pages)"
			  : c->time_s ? "time= (the guest double runs until the migration ends)"
				      : NULL;
	if (!why)
		return 0;
	snprintf(err, errlen, "--guest-args: not supported by the guest double: %s", why);
	return -EINVAL;
}

/* The generation table and the working set in RAM; a working set larger
 * than RAM becomes all of it (guestload says so too). */
static void lay_out(struct workload *w, uint64_t module_pages)
{
	uint64_t pages = w->g->pages - module_pages, ws = w->cfg.ws_bytes / VMIG_PAGE_SIZE;
	if (ws + (ws + GEN_PER_PAGE - 1) / GEN_PER_PAGE > pages) {
		ws = pages * GEN_PER_PAGE / (GEN_PER_PAGE + 1);
		fprintf(stderr, "enginesim: note: ws= is larger than RAM: the working set is "
				"%llu MiB\n", (unsigned long long)(ws * VMIG_PAGE_SIZE >> 20));
	}
	w->gens_pages = (ws + GEN_PER_PAGE - 1) / GEN_PER_PAGE;
	w->ws_first = w->gens_pages;
	w->ws_pages = ws;
	w->gens = (uint32_t *)(void *)w->g->ram;
	w->static_first = w->ws_first + w->ws_pages;
}

/* guestload's parser, then what the double cannot do: 0, or -EINVAL with err. */
static int parse_args(const char *args, bool modules, struct config *cfg, char *err,
		      size_t errlen)
{
	struct line bad;
	if (args_parse(args, cfg, &bad)) {
		const char *prefix = "guestload: ";
		bad.buf[bad.len < LINE_MAX ? bad.len : LINE_MAX - 1] = 0;
		snprintf(err, errlen, "--guest-args: %s",
			 strncmp(bad.buf, prefix, strlen(prefix)) ? bad.buf : bad.buf + strlen(prefix));
		return -EINVAL;
	}
	return check_supported(cfg, modules, err, errlen);
}

int workload_check_args(const char *args, bool modules, char *err, size_t errlen)
{
	struct config cfg;
	return parse_args(args, modules, &cfg, err, errlen);
}

int workload_init(struct workload *w, struct guest_double *g, const char *args,
		  unsigned nr_vcpus, uint64_t module_pages, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->g = g;
	int r = parse_args(args, module_pages > 0, &w->cfg, err, errlen);
	if (r)
		return r;
	if (module_pages >= g->pages) {
		snprintf(err, errlen, "the modules take %llu MiB, all of the guest's RAM or more",
			 (unsigned long long)(module_pages * VMIG_PAGE_SIZE >> 20));
		return -E2BIG;
	}
	w->nr_vcpus = nr_vcpus;
	w->nr_writers = w->cfg.writers && w->cfg.writers < nr_vcpus ? (unsigned)w->cfg.writers
								    : nr_vcpus;
	lay_out(w, module_pages);
	if (w->cfg.rate_mib) {
		uint64_t pps = w->cfg.rate_mib * (1048576 / VMIG_PAGE_SIZE) / w->nr_writers;
		w->ns_per_page = 1000000000ull / (pps ? pps : 1);
	}
	/* aligned_alloc: each vCPU's counters on cache lines of its own */
	w->vcpus = aligned_alloc(_Alignof(struct wl_vcpu), nr_vcpus * sizeof(*w->vcpus));
	if (w->vcpus)
		memset(w->vcpus, 0, nr_vcpus * sizeof(*w->vcpus));
	if (!w->vcpus || gd_set_vcpus(g, nr_vcpus)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nr_vcpus; i++) {
		w->vcpus[i].w = w;
		w->vcpus[i].idx = i;
		share_of(w->ws_pages, i, w->nr_writers, &w->vcpus[i].lo, &w->vcpus[i].hi);
	}
	return 0;
}

/* ---- fill ---- */

struct fill_part {
	struct workload *w;
	uint64_t lo, hi; /* page indexes */
	pthread_t thread;
};

/* Every page outside the generation table as fill= says: content at
 * generation 1, or zeros (generation 0), as guestload fills its RAM. With
 * fill=modules only the working set: the modules are the static content,
 * laid over the rest afterwards, and what they leave is free memory. */
static void *fill_thread(void *arg)
{
	struct fill_part *part = arg;
	struct workload *w = part->w;
	for (uint64_t i = part->lo; i < part->hi; i++) {
		bool in_ws = i - w->ws_first < w->ws_pages;
		enum fill_kind kind = !in_ws && w->cfg.fill == FILL_MODULES
					      ? FILL_ZERO
					      : fill_kind_of(w->cfg.fill, i);
		uint32_t gen = kind == FILL_ZERO ? 0 : 1;
		if (gen)
			page_write_full(gd_page(w->g, i), (uint32_t)i, gen, kind, seed_of(w, i, gen));
		if (in_ws)
			w->gens[i - w->ws_first] = gen;
	}
	return NULL;
}

int workload_fill(struct workload *w)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cpus < 1 ? 1 : cpus > WORKLOAD_MAX_VCPUS ? WORKLOAD_MAX_VCPUS : (unsigned)cpus;
	struct fill_part parts[WORKLOAD_MAX_VCPUS];
	uint64_t total = w->g->pages - w->gens_pages;
	int r = 0;

	for (unsigned k = 0; k < n; k++) {
		parts[k] = (struct fill_part){.w = w};
		share_of(total, k, n, &parts[k].lo, &parts[k].hi);
		parts[k].lo += w->gens_pages;
		parts[k].hi += w->gens_pages;
		if (pthread_create(&parts[k].thread, NULL, fill_thread, &parts[k])) {
			fill_thread(&parts[k]); /* no thread: this one fills its part */
			parts[k].thread = 0;
		}
	}
	for (unsigned k = 0; k < n; k++)
		if (parts[k].thread)
			r |= pthread_join(parts[k].thread, NULL);
	return r ? -EIO : 0;
}

/* ---- the vCPUs ---- */

/* guestload's visit (guest/worker.c): check the page, write it at the next
 * generation, mark it and its generation's page dirty. */
static void visit(struct wl_vcpu *v, uint64_t k)
{
	struct workload *w = v->w;
	uint64_t index = w->ws_first + k, gens_page = k / GEN_PER_PAGE;
	uint32_t want = w->gens[k], gen = want + 1 ? want + 1 : 1, got;
	void *page = gd_page(w->g, index);
	struct page_sums s;

	if (w->snap) { /* a destination: the RAM that arrived goes into the hash first */
		ramhash_snap_touch(w->snap, index);
		ramhash_snap_touch(w->snap, gens_page);
	}
	enum page_verdict verdict = page_verify(page, (uint32_t)index, want, &s, &got);
	if (verdict != PAGE_OK)
		__atomic_fetch_add(&v->errors, 1, __ATOMIC_RELAXED);
	if (verdict != PAGE_OK || w->cfg.write == WRITE_PAGE)
		page_write_full(page, (uint32_t)index, gen, fill_kind_of(w->cfg.fill, index),
				seed_of(w, index, gen));
	else
		page_write_word(page, (uint32_t)index, gen, &s, seed_of(w, index, gen));
	w->gens[k] = gen;
	gd_mark_dirty(w->g, index);
	gd_mark_dirty(w->g, gens_page);
}

/* Up to BATCH pages of the pass; a new pass when this one ends. */
static unsigned visit_batch(struct wl_vcpu *v, struct order *o)
{
	struct workload *w = v->w;
	unsigned done = 0;
	while (done < BATCH) {
		uint64_t i = order_next(o);
		if (i == UINT64_MAX) {
			uint64_t pass = __atomic_add_fetch(&v->passes, 1, __ATOMIC_RELAXED);
			order_init(o, v->hi - v->lo, w->cfg.pattern == PATTERN_RANDOM,
				   order_seed(w->cfg.seed, pass, v->idx));
			break;
		}
		visit(v, v->lo + i);
		done++;
	}
	__atomic_fetch_add(&v->pages, done, __ATOMIC_RELAXED);
	return done;
}

/* A vCPU without a slice computes (as guestload's non-writers do), or a
 * rate-limited one waits for its next batch: busy, inside the guest, but
 * never so long that a pause would wait for it. */
static uint64_t spin_sink; /* keeps the computing from being optimised away */

static void spin(uint64_t until)
{
	uint64_t x = until, stop = now_ns() + SPIN_NS;
	if (until && until < stop)
		stop = until;
	while (now_ns() < stop)
		for (int i = 0; i < 64; i++)
			x = mix64(x);
	__atomic_store_n(&spin_sink, x, __ATOMIC_RELAXED);
}

static void *vcpu_thread(void *arg)
{
	struct wl_vcpu *v = arg;
	struct workload *w = v->w;
	struct order o;
	char name[16];
	uint64_t deadline = 0;

	snprintf(name, sizeof(name), "vcpu%u", v->idx); /* bench/suite/cpuacct.py counts these */
	pthread_setname_np(pthread_self(), name);
	order_init(&o, v->hi - v->lo, w->cfg.pattern == PATTERN_RANDOM,
		   order_seed(w->cfg.seed, 0, v->idx));
	while (gd_vcpu_enter(w->g, v->idx)) {
		uint64_t now = w->ns_per_page ? now_ns() : 0;
		if (now && (!deadline || now > deadline + BEHIND_NS))
			deadline = now; /* started, or far behind (paused, throttled): no burst */
		if (v->hi == v->lo || now < deadline)
			spin(deadline);
		else
			deadline += visit_batch(v, &o) * w->ns_per_page;
		gd_vcpu_leave(w->g, v->idx);
		gd_vcpu_throttle(w->g, v->idx);
	}
	return NULL;
}

int workload_start(struct workload *w, char *err, size_t errlen)
{
	for (; w->started < w->nr_vcpus; w->started++) {
		struct wl_vcpu *v = &w->vcpus[w->started];
		int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r) {
			snprintf(err, errlen, "cannot start vCPU thread %u: %s", w->started,
				 strerror(r));
			return -r;
		}
	}
	return 0;
}

void workload_stop(struct workload *w)
{
	if (!w->g)
		return; /* never set up */
	gd_stop(w->g);
	for (unsigned i = 0; i < w->started; i++)
		pthread_join(w->vcpus[i].thread, NULL);
	w->started = 0;
}

void workload_free(struct workload *w)
{
	free(w->vcpus);
	w->vcpus = NULL;
}

void workload_progress(const struct workload *w, struct wl_progress *p)
{
	uint64_t slowest = UINT64_MAX;
	*p = (struct wl_progress){0};
	for (unsigned i = 0; i < w->nr_vcpus; i++) {
		const struct wl_vcpu *v = &w->vcpus[i];
		p->pages += __atomic_load_n(&v->pages, __ATOMIC_RELAXED);
		p->errors += __atomic_load_n(&v->errors, __ATOMIC_RELAXED);
		uint64_t passes = __atomic_load_n(&v->passes, __ATOMIC_RELAXED);
		if (v->hi > v->lo && passes < slowest)
			slowest = passes;
	}
	p->passes = w->passes_base + (slowest == UINT64_MAX ? 0 : slowest);
}

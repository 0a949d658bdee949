/* SPDX-License-Identifier: MIT */
/*
 * The workload: each vCPU owns a contiguous slice of the working set and
 * passes over it forever, visiting every page once per pass (in order, or
 * in a fresh random order each pass). Each visit verifies the page against
 * the generation it last wrote, then writes it at the next generation.
 * Between batches it keeps the rate, runs vCPU 0's monitor, and spends up
 * to SWEEP_SHARE of its time verifying its share of the static pages.
 */
#include "fill.h"
#include "guest.h"
#include "io.h"
#include "order.h"
#include "rng.h"
#include "share.h"

#define BATCH 8        /* pages between clock checks */
#define SWEEP_BATCH 8  /* static pages per sweep step */
#define SWEEP_SHARE 20 /* sweep at most 1/20 of the time */

struct worker {
	unsigned vcpu;
	uint64_t base;    /* gpa of the slice */
	uint32_t *gens;   /* the slice's expected generations */
	uint64_t pages;   /* slice size */
	uint64_t tpp;     /* TSC ticks per page at the rate limit; 0: unlimited */
	uint64_t deadline;
	uint64_t sweep_lo, sweep_hi, sweep_at; /* static share: owned indexes, then module pages */
	uint64_t sweep_tsc, t0;
	struct vcpu_stats *st;
};

static void visit(struct worker *w, uint64_t i)
{
	uint64_t gpa = w->base + i * PAGE_SIZE;
	uint32_t pageno = (uint32_t)(gpa >> 12), want = w->gens[i];
	uint32_t gen = want + 1 ? want + 1 : 1; /* 0 means "never written" */
	void *page = (void *)(uintptr_t)gpa;
	struct page_sums s;

	enum page_verdict v = check_page(w->vcpu, gpa, want, &s);
	if (v != PAGE_OK || G.cfg.write == WRITE_PAGE)
		page_write_full(page, pageno, gen, fill_kind_of(G.cfg.fill, pageno),
				page_seed(pageno, gen));
	else
		page_write_word(page, pageno, gen, &s, page_seed(pageno, gen));
	w->gens[i] = gen;
}

static int in_ws(uint64_t idx)
{
	return idx - G.L.ws_first < G.L.ws_pages;
}

/* Background verification of static pages, within its time share. */
static void sweep(struct worker *w, uint64_t now)
{
	if (w->sweep_lo == w->sweep_hi || w->sweep_tsc * SWEEP_SHARE > now - w->t0)
		return;
	for (unsigned k = 0; k < SWEEP_BATCH; k++) {
		if (w->sweep_at >= G.L.owned_pages)
			check_module(w->vcpu, w->sweep_at - G.L.owned_pages);
		else if (!in_ws(w->sweep_at))
			check_static(w->vcpu, w->sweep_at);
		if (++w->sweep_at == w->sweep_hi)
			w->sweep_at = w->sweep_lo;
	}
	w->sweep_tsc += rdtsc() - now;
}

/* Between batches: monitor, rate limit, sweep. */
static void between(struct worker *w, uint64_t done)
{
	uint64_t now = rdtsc();

	if (w->vcpu == 0)
		monitor_tick(now);
	if (w->tpp) {
		w->deadline += done * w->tpp;
		/* Far behind (too slow, or the VM was paused): do not burst. */
		if (now > w->deadline + G.tsc_hz / 10)
			w->deadline = now;
		while (now < w->deadline) {
			cpu_relax();
			now = rdtsc();
			if (w->vcpu == 0)
				monitor_tick(now);
		}
	}
	sweep(w, now);
}

/* How many vCPUs write the working set (writers=, at most all of them). */
static uint64_t nr_writers(void)
{
	uint64_t w = G.cfg.writers;
	return w && w < G.nvcpus ? w : G.nvcpus;
}

void ws_slice(unsigned vcpu, uint64_t *lo, uint64_t *hi)
{
	share_of(G.L.ws_pages, vcpu, nr_writers(), lo, hi);
}

void worker_run(unsigned vcpu)
{
	struct worker w = {.vcpu = vcpu, .st = &G.st[vcpu]};
	uint64_t n = nr_writers(), lo, hi;
	ws_slice(vcpu, &lo, &hi);

	w.base = G.L.ws_base + lo * PAGE_SIZE;
	w.gens = G.L.gens + G.L.ws_first + lo;
	w.pages = hi - lo;
	if (G.cfg.rate_mib) {
		uint64_t pps = G.cfg.rate_mib * (1048576 / PAGE_SIZE) / n;
		w.tpp = G.tsc_hz / (pps ? pps : 1);
	}
	/* Sweep indexes: owned pages, then module pages (fill=modules). Every
	 * vCPU sweeps, writer or not, so the parts are all the vCPUs: split by
	 * the writers, a non-writer once got the range past the end, whose
	 * "module pages" lay beyond RAM with hash slots from address 0 (over
	 * the page tables and IDT). */
	uint64_t swept = G.L.owned_pages + (G.mods.hash ? G.mods.pages : 0);
	share_of(swept, vcpu, G.nvcpus, &w.sweep_lo, &w.sweep_hi);
	w.sweep_at = w.sweep_lo;
	w.t0 = w.deadline = rdtsc();

	/* No slice: it only computes (and sweeps its share of static pages). */
	if (!w.pages)
		for (;;)
			between(&w, 0);

	for (uint64_t pass = 0;; pass++) {
		struct order o;
		order_init(&o, w.pages, G.cfg.pattern == PATTERN_RANDOM,
			   order_seed(G.cfg.seed, pass, vcpu));
		for (;;) {
			uint64_t done = 0, i = 0;
			while (done < BATCH && (i = order_next(&o)) != UINT64_MAX) {
				visit(&w, i);
				done++;
			}
			__atomic_store_n(&w.st->pages, w.st->pages + done, __ATOMIC_RELAXED);
			between(&w, done);
			if (i == UINT64_MAX)
				break;
		}
		__atomic_store_n(&w.st->passes, pass + 1, __ATOMIC_RELAXED);
	}
}

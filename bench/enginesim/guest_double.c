/* SPDX-License-Identifier: MIT */
/* TEST DOUBLE of a VM for bench/enginesim: see guest_double.h. */
#include "guest_double.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/clock.h"
#include "policy/throttle.h"
#include "vmm/memory.h"

static int alloc_ram(struct guest_double *g, char *err, size_t errlen)
{
	void *p = mmap(NULL, g->ram_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		snprintf(err, errlen, "cannot map %llu MiB of guest RAM: %s",
			 (unsigned long long)(g->ram_bytes >> 20), strerror(e));
		return -e;
	}
	/* as the VMM asks for its RAM: fewer TLB misses for the writers */
	madvise(p, g->ram_bytes, MADV_HUGEPAGE);
	g->ram = p;
	g->pages = g->ram_bytes / VMIG_PAGE_SIZE;
	for (unsigned i = 0; i < g->nr_regions; i++) {
		struct gd_region *r = &g->regions[i];
		r->r.host = g->ram + r->first * VMIG_PAGE_SIZE;
		r->dirty = calloc(vmig_bitmap_words(r->pages), sizeof(uint64_t));
		if (!r->dirty) {
			snprintf(err, errlen, "out of memory for the dirty bitmap");
			return -ENOMEM;
		}
	}
	return 0;
}

static void init_common(struct guest_double *g)
{
	pthread_condattr_t ca;
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	g->paused = true; /* nothing runs before the workload is set up */
}

static void add_region(struct guest_double *g, uint64_t gpa, uint64_t size)
{
	struct gd_region *r = &g->regions[g->nr_regions++];
	r->r.gpa = gpa;
	r->r.size = size;
	r->first = g->ram_bytes / VMIG_PAGE_SIZE;
	r->pages = size / VMIG_PAGE_SIZE;
	g->ram_bytes += size;
}

int gd_create(struct guest_double *g, uint64_t ram_bytes, char *err, size_t errlen)
{
	init_common(g);
	uint64_t low = ram_bytes < GUEST_LOW_RAM_MAX ? ram_bytes : GUEST_LOW_RAM_MAX;
	add_region(g, 0, low);
	if (ram_bytes > low)
		add_region(g, GUEST_HIGH_RAM_BASE, ram_bytes - low);
	return alloc_ram(g, err, errlen);
}

int gd_create_regions(struct guest_double *g, const struct vmig_ram_region *regions,
		      unsigned nr, char *err, size_t errlen)
{
	init_common(g);
	if (nr == 0 || nr > VMIG_MAX_RAM_REGIONS) {
		snprintf(err, errlen, "the source described %u RAM regions", nr);
		return -EINVAL;
	}
	for (unsigned i = 0; i < nr; i++)
		add_region(g, regions[i].gpa, regions[i].size);
	return alloc_ram(g, err, errlen);
}

int gd_set_vcpus(struct guest_double *g, unsigned n)
{
	/* aligned_alloc: each vCPU's gate on a cache line of its own */
	g->vcpus = aligned_alloc(_Alignof(struct gd_vcpu), n * sizeof(*g->vcpus));
	if (!g->vcpus)
		return -ENOMEM;
	memset(g->vcpus, 0, n * sizeof(*g->vcpus));
	g->nr_vcpus = n;
	return 0;
}

void gd_destroy(struct guest_double *g)
{
	for (unsigned i = 0; i < g->nr_regions; i++)
		free(g->regions[i].dirty);
	if (g->ram)
		munmap(g->ram, g->ram_bytes);
	free(g->vcpus);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

/* A write-protection fault's cost: the vCPU thread spins for ns. */
static void write_fault(struct guest_double *g)
{
	uint64_t until = now_ns() + g->write_fault_ns;
	while (now_ns() < until) {
	}
	__atomic_fetch_add(&g->write_faults, 1, __ATOMIC_RELAXED);
}

void gd_mark_dirty(struct guest_double *g, uint64_t index)
{
	if (!__atomic_load_n(&g->tracking, __ATOMIC_ACQUIRE))
		return;
	for (unsigned i = 0; i < g->nr_regions; i++) {
		struct gd_region *r = &g->regions[i];
		uint64_t p = index - r->first, bit = 1ull << (p % 64);
		if (index >= r->first && p < r->pages) {
			/* after the write: a harvest that takes the bit finds the data */
			uint64_t old = __atomic_fetch_or(&r->dirty[p / 64], bit, __ATOMIC_RELEASE);
			if (!(old & bit) && g->write_fault_ns)
				write_fault(g);
			return;
		}
	}
}

/* Sets paused or stop under the lock and wakes every waiting vCPU. */
static void set_flag(struct guest_double *g, bool *flag, bool v)
{
	pthread_mutex_lock(&g->lock);
	__atomic_store_n(flag, v, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

bool gd_vcpu_enter(struct guest_double *g, unsigned v)
{
	int *inside = &g->vcpus[v].inside;
	for (;;) {
		/* inside first, then the flag (seq_cst both here and in pause):
		 * either pause sees us inside and waits, or we see it and stay out */
		__atomic_store_n(inside, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&g->stop, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(inside, 0, __ATOMIC_SEQ_CST);
			return false;
		}
		if (!__atomic_load_n(&g->paused, __ATOMIC_SEQ_CST))
			return true;
		__atomic_store_n(inside, 0, __ATOMIC_SEQ_CST);
		pthread_mutex_lock(&g->lock);
		while (g->paused && !g->stop)
			pthread_cond_wait(&g->cond, &g->lock);
		pthread_mutex_unlock(&g->lock);
		g->vcpus[v].slice_start_ns = now_ns();
	}
}

void gd_vcpu_leave(struct guest_double *g, unsigned v)
{
	if (v == 0)
		__atomic_store_n(&g->alive_ns, realtime_ns(), __ATOMIC_RELEASE);
	__atomic_store_n(&g->vcpus[v].inside, 0, __ATOMIC_SEQ_CST);
}

void gd_vcpu_throttle(struct guest_double *g, unsigned v)
{
	struct gd_vcpu *c = &g->vcpus[v];
	unsigned pct = __atomic_load_n(&g->throttle_pct, __ATOMIC_ACQUIRE);
	uint64_t now = now_ns();
	if (!pct || !c->slice_start_ns) {
		c->slice_start_ns = now;
		return;
	}
	struct throttle_cycle cy;
	throttle_cycle_of(pct, &cy);
	if (now - c->slice_start_ns < cy.run_ns)
		return;
	/* as src/vmm/throttle.c: run the cycle's share, then sleep the rest;
	 * a pause, the end or a lifted throttle cut the sleep short */
	uint64_t until = now + cy.sleep_ns;
	struct timespec ts = {(time_t)(until / 1000000000ull), (long)(until % 1000000000ull)};
	pthread_mutex_lock(&g->lock);
	while (!g->stop && !g->paused && __atomic_load_n(&g->throttle_pct, __ATOMIC_ACQUIRE) &&
	       pthread_cond_timedwait(&g->cond, &g->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&g->lock);
	c->slice_start_ns = now_ns();
}

void gd_run(struct guest_double *g)
{
	set_flag(g, &g->paused, false);
}

void gd_stop(struct guest_double *g)
{
	set_flag(g, &g->stop, true);
}

bool gd_is_paused(struct guest_double *g)
{
	return __atomic_load_n(&g->paused, __ATOMIC_ACQUIRE);
}

/* ---- the guest interface ---- */

static unsigned gd_regions(void *o, struct vmig_ram_region *out, unsigned max)
{
	struct guest_double *g = o;
	unsigned n = g->nr_regions < max ? g->nr_regions : max;
	for (unsigned i = 0; i < n; i++)
		out[i] = g->regions[i].r;
	return n;
}

static int gd_dirty_start(void *o, char *err, size_t errlen)
{
	struct guest_double *g = o;
	for (unsigned i = 0; i < g->nr_regions; i++) {
		struct gd_region *r = &g->regions[i];
		for (uint64_t w = 0; w < vmig_bitmap_words(r->pages); w++)
			__atomic_store_n(&r->dirty[w], ~0ull, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&g->tracking, true, __ATOMIC_SEQ_CST);
	return 0;
}

static void gd_dirty_stop(void *o)
{
	struct guest_double *g = o;
	__atomic_store_n(&g->tracking, false, __ATOMIC_SEQ_CST);
}

static int gd_harvest(void *o, unsigned region, uint64_t *bitmap, char *err, size_t errlen)
{
	struct guest_double *g = o;
	if (region >= g->nr_regions) {
		snprintf(err, errlen, "no RAM region %u", region);
		return -EINVAL;
	}
	struct gd_region *r = &g->regions[region];
	uint64_t words = vmig_bitmap_words(r->pages);
	for (uint64_t w = 0; w < words; w++)
		bitmap[w] |= __atomic_exchange_n(&r->dirty[w], 0, __ATOMIC_ACQ_REL);
	/* bits past the region's last page (from dirty_start) are no pages */
	if (r->pages % 64)
		bitmap[words - 1] &= (1ull << (r->pages % 64)) - 1;
	return 0;
}

static int gd_clear(void *o, unsigned region, uint64_t first, uint64_t n, const uint64_t *bits,
		    char *err, size_t errlen)
{
	struct guest_double *g = o;
	if (region >= g->nr_regions || first % 64 || first + n > g->regions[region].pages) {
		snprintf(err, errlen, "dirty_clear out of region %u", region);
		return -EINVAL;
	}
	/* Re-arm: a write since the harvest is about to be read anyway; one
	 * after this sets its bit again. */
	uint64_t *d = g->regions[region].dirty + first / 64;
	for (uint64_t w = 0; w < vmig_bitmap_words(n); w++)
		if (bits[w])
			__atomic_fetch_and(&d[w], ~bits[w], __ATOMIC_ACQ_REL);
	return 0;
}

static int gd_pause(void *o)
{
	struct guest_double *g = o;
	set_flag(g, &g->paused, true);
	for (unsigned v = 0; v < g->nr_vcpus; v++)
		while (__atomic_load_n(&g->vcpus[v].inside, __ATOMIC_SEQ_CST))
			sched_yield();
	return 0;
}

static int gd_resume(void *o)
{
	struct guest_double *g = o;
	if (g->hooks.before_resume)
		g->hooks.before_resume(g->hooks.opaque);
	gd_run(g);
	return 0;
}

static uint64_t gd_last_alive(void *o)
{
	struct guest_double *g = o;
	return __atomic_load_n(&g->alive_ns, __ATOMIC_ACQUIRE);
}

static int gd_save(void *o, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	struct guest_double *g = o;
	return g->hooks.save_state(g->hooks.opaque, blob, len, err, errlen);
}

static int gd_load(void *o, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct guest_double *g = o;
	return g->hooks.load_state(g->hooks.opaque, blob, len, err, errlen);
}

static int gd_throttle(void *o, unsigned pct)
{
	struct guest_double *g = o;
	if (pct > 99)
		return -EINVAL;
	if (pct)
		__atomic_store_n(&g->throttled, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&g->lock);
	__atomic_store_n(&g->throttle_pct, pct, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&g->cond); /* a lifted throttle ends the sleeps */
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static const struct vmig_guest_ops gd_ops = {
	.ram_regions = gd_regions,
	.dirty_start = gd_dirty_start,
	.dirty_stop = gd_dirty_stop,
	.dirty_harvest = gd_harvest,
	.dirty_clear = gd_clear,
	.pause = gd_pause,
	.resume = gd_resume,
	.last_alive_ns = gd_last_alive,
	.save_state = gd_save,
	.load_state = gd_load,
	.throttle = gd_throttle,
};

void gd_iface(struct guest_double *g, const struct gd_hooks *hooks, struct vmig_guest *out)
{
	g->hooks = *hooks;
	out->ops = &gd_ops;
	out->opaque = g;
}

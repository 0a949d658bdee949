/* SPDX-License-Identifier: MIT */
#include "vmm/dirtylimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "vmm/vm.h"

/* A new window: each vCPU's share from what it dirtied in the last one. */
static void resplit(struct dirty_limit *l, uint64_t now)
{
	double secs = (double)(now - l->win_start_ns) / 1e9;
	for (unsigned i = 0; i < l->nr; i++) {
		l->demand_pps[i] = (double)l->win_pages[i] / secs;
		l->win_pages[i] = 0;
	}
	vcpu_budget_split((double)l->limit_bps / GUEST_PAGE_SIZE, l->nr, l->demand_pps, l->win_held,
			  l->rate_pps);
	memset(l->win_held, 0, l->nr * sizeof(*l->win_held));
	l->win_start_ns = now;
}

/* The dirty ring's observer: charges each vCPU for the pages one walk
 * found; holds those past their budget. Called under the ring's lock. */
static void charge_vcpus(void *opaque, const uint32_t *pages)
{
	struct vm *vm = opaque;
	struct dirty_limit *l = &vm->dlimit;
	pthread_mutex_lock(&l->lock);
	if (!l->limit_bps) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	uint64_t now = now_ns();
	for (unsigned i = 0; i < l->nr; i++)
		l->win_pages[i] += pages[i];
	if (now - l->win_start_ns >= VCPU_BUDGET_WINDOW_NS)
		resplit(l, now);
	for (unsigned i = 0; i < l->nr; i++) {
		uint64_t until = pages[i] ? vcpu_budget_charge(&l->budget[i], pages[i], l->rate_pps[i], now)
					  : 0;
		if (!until)
			continue;
		struct vcpu *v = &vm->vcpus[i];
		l->win_held[i] = true;
		__atomic_store_n(&v->hold_until_ns, until, __ATOMIC_RELEASE);
		/* A vCPU in its own ring-full exit checks before it re-enters. */
		if (!v->thread_started || !pthread_equal(v->thread, pthread_self()))
			vcpu_kick(v);
	}
	pthread_mutex_unlock(&l->lock);
}

int vm_dirty_limit_init(struct vm *vm, char *err, size_t errlen)
{
	struct dirty_limit *l = &vm->dlimit;
	unsigned n = vm->nr_vcpus;
	memset(l, 0, sizeof(*l));
	l->nr = n;
	l->budget = calloc(n, sizeof(*l->budget));
	l->rate_pps = calloc(n, sizeof(*l->rate_pps));
	l->demand_pps = calloc(n, sizeof(*l->demand_pps));
	l->win_pages = calloc(n, sizeof(*l->win_pages));
	l->win_held = calloc(n, sizeof(*l->win_held));
	if (!l->budget || !l->rate_pps || !l->demand_pps || !l->win_pages || !l->win_held) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->lock_init = true;
	vm->dirty.ring.observe = charge_vcpus;
	vm->dirty.ring.observe_opaque = vm;
	return 0;
}

void vm_dirty_limit_destroy(struct vm *vm)
{
	struct dirty_limit *l = &vm->dlimit;
	free(l->budget);
	free(l->rate_pps);
	free(l->demand_pps);
	free(l->win_pages);
	free(l->win_held);
	if (l->lock_init)
		pthread_mutex_destroy(&l->lock);
	memset(l, 0, sizeof(*l));
}

int vm_dirty_limit_set(struct vm *vm, uint64_t bytes_per_s)
{
	struct dirty_limit *l = &vm->dlimit;
	if (!vm->dirty.ring.entries || !l->lock_init)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&l->lock);
	uint64_t before = l->limit_bps;
	__atomic_store_n(&l->limit_bps, bytes_per_s, __ATOMIC_RELEASE);
	/* A fresh start: equal shares until the first window has been seen. */
	for (unsigned i = 0; i < l->nr; i++) {
		l->budget[i] = (struct vcpu_budget){0};
		l->rate_pps[i] = (double)bytes_per_s / GUEST_PAGE_SIZE / l->nr;
		l->win_pages[i] = 0;
		l->win_held[i] = false;
	}
	l->win_start_ns = now_ns();
	pthread_mutex_unlock(&l->lock);
	if (!bytes_per_s) {
		/* Lifted: nobody waits out a hold any longer. */
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			__atomic_store_n(&vm->vcpus[i].hold_until_ns, 0, __ATOMIC_RELEASE);
		pthread_mutex_lock(&vm->lock);
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
	}
	if (before != bytes_per_s && bytes_per_s)
		log_info("per-vCPU dirty limit %.1f MiB/s (dirty ring)", (double)bytes_per_s / 1048576.0);
	else if (before != bytes_per_s)
		log_info("per-vCPU dirty limit lifted");
	return 0;
}

uint64_t vm_dirty_limit_get(struct vm *vm)
{
	return __atomic_load_n(&vm->dlimit.limit_bps, __ATOMIC_ACQUIRE);
}

void vcpu_dirty_limit_wait(struct vcpu *v)
{
	if (!__atomic_load_n(&v->hold_until_ns, __ATOMIC_ACQUIRE))
		return;
	struct vm *vm = v->vm;
	uint64_t start = now_ns(), now = start, until;
	bool waited = false;

	pthread_mutex_lock(&vm->lock);
	/* Until the hold runs out; a pause or the end cut it short, a lifted
	 * limit ends it, a longer one set meanwhile is waited out too. */
	for (;;) {
		until = __atomic_load_n(&v->hold_until_ns, __ATOMIC_ACQUIRE);
		now = now_ns();
		if (!until || until <= now || vm->ended || vm->pause_requested)
			break;
		uint64_t deadline = realtime_ns() + (until - now);
		struct timespec ts = {(time_t)(deadline / 1000000000ull),
				      (long)(deadline % 1000000000ull)};
		pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
		waited = true;
	}
	pthread_mutex_unlock(&vm->lock);
	if (waited) {
		__atomic_fetch_add(&v->held_ns, now - start, __ATOMIC_RELAXED);
		__atomic_fetch_add(&v->holds, 1, __ATOMIC_RELAXED);
	}
	/* Served: cleared unless a new hold came meanwhile (a paused one stays). */
	if (until && until <= now)
		__atomic_compare_exchange_n(&v->hold_until_ns, &until, 0, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
}

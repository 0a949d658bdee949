/* SPDX-License-Identifier: MIT */
/*
 * vCPU throttling for auto-converge: at p percent every vCPU spends p of
 * its time outside the guest, as in QEMU, but in cycles of 10 ms (longer
 * above 90 %, so that it still runs 1 ms at a time) rather than QEMU's
 * whole slice run and then p/(1-p) of it slept: a stop lasts at most
 * 99 ms where QEMU's lasts 990 ms at 99 % (policy/throttle.h). A
 * "throttle" thread ticks once a cycle and kicks the vCPUs out of
 * KVM_RUN; each vCPU thread sleeps on the VM's condition variable, so a
 * pause or the end of the VM cuts the sleep short.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "policy/throttle.h"
#include "vmm/vm.h"

static void *throttle_thread(void *arg)
{
	struct vm *vm = arg;
	pthread_setname_np(pthread_self(), "throttle");
	for (;;) {
		unsigned pct = __atomic_load_n(&vm->throttle_pct, __ATOMIC_ACQUIRE);
		pthread_mutex_lock(&vm->lock);
		bool stop = vm->ended || !pct;
		if (stop)
			vm->throttle_thread_on = false;
		pthread_mutex_unlock(&vm->lock);
		if (stop)
			return NULL;
		struct throttle_cycle cy;
		throttle_cycle_of(pct, &cy);
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			__atomic_store_n(&vm->vcpus[i].throttle_sleep_ns, cy.sleep_ns,
					 __ATOMIC_RELEASE);
			vcpu_kick(&vm->vcpus[i]);
		}
		uint64_t period = cy.period_ns;
		struct timespec ts = {(time_t)(period / 1000000000ull), (long)(period % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
}

int vm_throttle_set(struct vm *vm, unsigned pct)
{
	if (pct > 99)
		return -EINVAL;
	__atomic_store_n(&vm->throttle_pct, pct, __ATOMIC_RELEASE);
	if (pct) /* query-migrate's throttle_path */
		__atomic_store_n(&vm->throttle_used, true, __ATOMIC_RELEASE);
	if (!pct) {
		/* no vCPU sleeps any longer than the slice it is in */
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			__atomic_store_n(&vm->vcpus[i].throttle_sleep_ns, 0, __ATOMIC_RELEASE);
		pthread_mutex_lock(&vm->lock);
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		return 0;
	}
	pthread_mutex_lock(&vm->lock);
	int r = 0;
	if (!vm->throttle_thread_on && !vm->ended) {
		if (vm->throttle_thread)
			pthread_join(vm->throttle_thread, NULL); /* one that ended on its own */
		vm->throttle_thread = 0;
		r = -pthread_create(&vm->throttle_thread, NULL, throttle_thread, vm);
		vm->throttle_thread_on = r == 0;
	}
	pthread_mutex_unlock(&vm->lock);
	log_debug("vCPU throttle %u%%", pct);
	return r;
}

void vcpu_throttle_wait(struct vcpu *v)
{
	uint64_t ns = __atomic_exchange_n(&v->throttle_sleep_ns, 0, __ATOMIC_ACQ_REL);
	if (!ns)
		return;
	struct vm *vm = v->vm;
	uint64_t until = realtime_ns() + ns;
	struct timespec ts = {(time_t)(until / 1000000000ull), (long)(until % 1000000000ull)};
	pthread_mutex_lock(&vm->lock);
	while (!vm->ended && !vm->pause_requested &&
	       __atomic_load_n(&vm->throttle_pct, __ATOMIC_ACQUIRE) &&
	       pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&vm->lock);
}

void vm_throttle_stop(struct vm *vm)
{
	__atomic_store_n(&vm->throttle_pct, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&vm->lock);
	pthread_t t = vm->throttle_thread;
	vm->throttle_thread = 0;
	pthread_mutex_unlock(&vm->lock);
	if (t)
		pthread_join(t, NULL);
}

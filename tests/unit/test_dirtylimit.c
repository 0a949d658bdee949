/* SPDX-License-Identifier: MIT */
/*
 * The VMM's per-vCPU dirty limit (vmm/dirtylimit.c) without KVM: a
 * test-double VM (no vCPU threads, kvm_run in plain memory) whose dirty
 * rings are test doubles in plain memory. A ring walk charges the vCPUs;
 * the one that dirtied past its budget is held, the other never.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "unittest.h"
#include "vmm/vm.h"

#define ENTRIES 1024u
#define PAGES 4096u
#define MS 1000000ull
/* 1000 pages/s for the VM: 500 each for two vCPUs */
#define LIMIT (1000 * GUEST_PAGE_SIZE)

struct double_vm {
	struct vm vm;
	struct vcpu vcpus[2];
	struct kvm_run runs[2];
	struct kvm_dirty_gfn gfns[2][ENTRIES];
	uint32_t published[2];
	uint64_t bits[PAGES / 64];
	struct ring_slot_map slot;
};

static struct double_vm *the_vm;

/* KVM_RESET_DIRTY_RINGS' test double: recycles the entries marked reset. */
static int reset_double(int vm_fd)
{
	(void)vm_fd;
	for (unsigned v = 0; v < 2; v++)
		for (uint32_t i = 0; i < ENTRIES; i++)
			if (the_vm->gfns[v][i].flags == KVM_DIRTY_GFN_F_RESET)
				the_vm->gfns[v][i].flags = 0;
	return 0;
}

static struct double_vm *double_vm_new(void)
{
	struct double_vm *t = calloc(1, sizeof(*t));
	char err[128];
	if (!t || dirty_ring_alloc(&t->vm.dirty.ring, ENTRIES, 2)) {
		free(t);
		return NULL;
	}
	t->vm.nr_vcpus = 2;
	t->vm.vcpus = t->vcpus;
	pthread_mutex_init(&t->vm.lock, NULL);
	pthread_cond_init(&t->vm.cond, NULL);
	for (unsigned i = 0; i < 2; i++) {
		t->vcpus[i] = (struct vcpu){.vm = &t->vm, .index = i, .fd = -1, .run = &t->runs[i]};
		t->vm.dirty.ring.rings[i].gfns = t->gfns[i];
	}
	t->vm.dirty.ring.reset = reset_double;
	t->slot = (struct ring_slot_map){.slot = 0, .pages = PAGES, .bits = t->bits};
	the_vm = t;
	if (vm_dirty_limit_init(&t->vm, err, sizeof(err))) {
		dirty_ring_destroy(&t->vm.dirty.ring);
		free(t);
		return NULL;
	}
	return t;
}

static void double_vm_free(struct double_vm *t)
{
	vm_dirty_limit_destroy(&t->vm);
	dirty_ring_destroy(&t->vm.dirty.ring);
	pthread_mutex_destroy(&t->vm.lock);
	pthread_cond_destroy(&t->vm.cond);
	free(t);
}

/* vCPU v dirties n pages (what KVM publishes), then a walk collects them. */
static int dirty_and_collect(struct double_vm *t, unsigned v, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		struct kvm_dirty_gfn *e = &t->gfns[v][t->published[v]++ % ENTRIES];
		e->slot = 0;
		e->offset = k;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
	}
	char err[128];
	return (int)dirty_ring_collect(&t->vm.dirty.ring, &t->slot, 1, err, sizeof(err));
}

TEST(the_writer_past_its_budget_is_held_and_kicked_the_other_never)
{
	struct double_vm *t = double_vm_new();
	CHECK(t);
	CHECK_EQ_INT(vm_dirty_limit_set(&t->vm, LIMIT), 0);
	/* 100 pages at 500/s: 200 ms, less 100 ms of credit */
	uint64_t now = now_ns();
	CHECK_EQ_INT(dirty_and_collect(t, 0, 100), 100);
	uint64_t until = t->vcpus[0].hold_until_ns;
	CHECK(until >= now + 90 * MS && until <= now_ns() + 110 * MS);
	CHECK_EQ_INT(t->runs[0].immediate_exit, 1); /* kicked out of KVM_RUN */
	CHECK_EQ_INT(t->vcpus[1].hold_until_ns, 0);
	CHECK_EQ_INT(t->runs[1].immediate_exit, 0);
	CHECK_EQ_INT(t->vm.dirty.ring.vcpu_pages[0], 100);
	double_vm_free(t);
}

TEST(a_held_vcpu_waits_out_its_hold)
{
	struct double_vm *t = double_vm_new();
	CHECK(t);
	CHECK_EQ_INT(vm_dirty_limit_set(&t->vm, LIMIT), 0);
	dirty_and_collect(t, 0, 100);
	uint64_t t0 = now_ns();
	vcpu_dirty_limit_wait(&t->vcpus[0]);
	uint64_t took = now_ns() - t0;
	CHECK(took >= 80 * MS && took < 500 * MS);
	CHECK_EQ_INT(t->vcpus[0].holds, 1);
	CHECK(t->vcpus[0].held_ns >= 80 * MS);
	CHECK_EQ_INT(t->vcpus[0].hold_until_ns, 0);
	/* the other one never waits */
	t0 = now_ns();
	vcpu_dirty_limit_wait(&t->vcpus[1]);
	CHECK(now_ns() - t0 < 5 * MS);
	CHECK_EQ_INT(t->vcpus[1].holds, 0);
	double_vm_free(t);
}

static void *lift_soon(void *arg)
{
	struct timespec ts = {0, 30 * MS};
	nanosleep(&ts, NULL);
	vm_dirty_limit_set(arg, 0);
	return NULL;
}

TEST(lifting_the_limit_releases_a_held_vcpu)
{
	struct double_vm *t = double_vm_new();
	CHECK(t);
	CHECK_EQ_INT(vm_dirty_limit_set(&t->vm, LIMIT), 0);
	dirty_and_collect(t, 0, 1000); /* a 1 s hold */
	pthread_t th;
	CHECK_EQ_INT(pthread_create(&th, NULL, lift_soon, &t->vm), 0);
	uint64_t t0 = now_ns();
	vcpu_dirty_limit_wait(&t->vcpus[0]);
	uint64_t took = now_ns() - t0;
	pthread_join(th, NULL);
	CHECK(took < 500 * MS);
	CHECK_EQ_INT(t->vcpus[0].hold_until_ns, 0);
	CHECK_EQ_INT(vm_dirty_limit_get(&t->vm), 0);
	double_vm_free(t);
}

TEST(a_pause_cuts_a_hold_short_and_keeps_it)
{
	struct double_vm *t = double_vm_new();
	CHECK(t);
	CHECK_EQ_INT(vm_dirty_limit_set(&t->vm, LIMIT), 0);
	dirty_and_collect(t, 0, 1000);
	t->vm.pause_requested = true; /* the vCPU must park at once */
	uint64_t t0 = now_ns();
	vcpu_dirty_limit_wait(&t->vcpus[0]);
	CHECK(now_ns() - t0 < 50 * MS);
	CHECK(t->vcpus[0].hold_until_ns != 0); /* served after the resume */
	double_vm_free(t);
}

TEST(without_a_limit_nobody_is_held)
{
	struct double_vm *t = double_vm_new();
	CHECK(t);
	CHECK_EQ_INT(dirty_and_collect(t, 0, 1000), 1000);
	CHECK_EQ_INT(t->vcpus[0].hold_until_ns, 0);
	CHECK_EQ_INT(t->runs[0].immediate_exit, 0);
	double_vm_free(t);
}

TEST(a_lone_writer_gets_the_whole_limit_after_a_window)
{
	/* vCPU 0 dirties 50 pages between ring-full exits as fast as it is let;
	 * vCPU 1 dirties nothing. After the first 200 ms window the writer has
	 * the VM's 1000 pages/s, not an equal 500. */
	struct double_vm *t = double_vm_new();
	CHECK(t);
	CHECK_EQ_INT(vm_dirty_limit_set(&t->vm, LIMIT), 0);
	uint64_t t0 = now_ns(), pages = 0;
	while (now_ns() - t0 < 1000 * MS) {
		CHECK_EQ_INT(dirty_and_collect(t, 0, 50), 50);
		pages += 50;
		vcpu_dirty_limit_wait(&t->vcpus[0]);
	}
	double rate = (double)pages * 1e9 / (double)(now_ns() - t0);
	CHECK(rate > 650 && rate < 1300);
	CHECK(t->vcpus[0].holds > 5);
	CHECK_EQ_INT(t->vcpus[1].holds, 0);
	CHECK_EQ_INT(t->vcpus[1].hold_until_ns, 0);
	double_vm_free(t);
}

TEST(a_vm_without_the_ring_has_no_per_vcpu_limit)
{
	struct vm vm;
	memset(&vm, 0, sizeof(vm));
	CHECK_EQ_INT(vm_dirty_limit_set(&vm, LIMIT), -EOPNOTSUPP);
	CHECK_EQ_INT(vm_dirty_limit_get(&vm), 0);
}

RUN_TESTS("dirtylimit", UT(the_writer_past_its_budget_is_held_and_kicked_the_other_never),
	  UT(a_held_vcpu_waits_out_its_hold), UT(lifting_the_limit_releases_a_held_vcpu),
	  UT(a_pause_cuts_a_hold_short_and_keeps_it), UT(without_a_limit_nobody_is_held),
	  UT(a_lone_writer_gets_the_whole_limit_after_a_window),
	  UT(a_vm_without_the_ring_has_no_per_vcpu_limit))

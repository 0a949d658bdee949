/* SPDX-License-Identifier: MIT */
#include "vmm/dirtyring.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int dirty_ring_kvm_reset(int vm_fd)
{
	return ioctl(vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0 ? -errno : 0;
}

int dirty_ring_alloc(struct dirty_ring *r, uint32_t entries, unsigned nr_vcpus)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = -1;
	r->rings = calloc(nr_vcpus, sizeof(*r->rings));
	r->delta = calloc(nr_vcpus, sizeof(*r->delta));
	r->vcpu_pages = calloc(nr_vcpus, sizeof(*r->vcpu_pages));
	if (!r->rings || !r->delta || !r->vcpu_pages) {
		dirty_ring_destroy(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nr_vcpus; i++)
		r->rings[i].entries = entries;
	pthread_mutex_init(&r->lock, NULL);
	r->lock_init = true;
	r->entries = entries;
	r->nr_vcpus = nr_vcpus;
	r->reset = dirty_ring_kvm_reset;
	return 0;
}

/* The largest ring in bytes KVM offers, as `cap` (0: none). */
static int ring_cap_bytes(int vm_fd, int cap)
{
	int r = ioctl(vm_fd, KVM_CHECK_EXTENSION, cap);
	return r > 0 ? r : 0;
}

int dirty_ring_enable(struct dirty_ring *r, int vm_fd, uint32_t entries, unsigned nr_vcpus,
		      char *err, size_t errlen)
{
	if (entries < DIRTY_RING_MIN_ENTRIES || entries > DIRTY_RING_MAX_ENTRIES ||
	    (entries & (entries - 1))) {
		snprintf(err, errlen, "dirty ring of %u entries: want a power of two, %u..%u", entries,
			 DIRTY_RING_MIN_ENTRIES, DIRTY_RING_MAX_ENTRIES);
		return -EINVAL;
	}
	/* The plain ring first, as QEMU does: x86 is strongly ordered, and the
	 * walk keeps acquire/release order either way. ACQ_REL only where the
	 * plain one is not offered (weakly ordered hosts). */
	int cap = KVM_CAP_DIRTY_LOG_RING, max = ring_cap_bytes(vm_fd, cap);
	if (!max)
		max = ring_cap_bytes(vm_fd, cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	if (!max) {
		snprintf(err, errlen, "this host's KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING, "
				      "Linux 5.11 or later on x86): run without --dirty-ring");
		return -EOPNOTSUPP;
	}
	uint64_t bytes = (uint64_t)entries * sizeof(struct kvm_dirty_gfn);
	if (bytes > (uint64_t)max) {
		snprintf(err, errlen, "dirty ring of %u entries: this host's KVM takes at most %llu",
			 entries, (unsigned long long)((uint64_t)max / sizeof(struct kvm_dirty_gfn)));
		return -EINVAL;
	}
	struct kvm_enable_cap ec = {.cap = (uint32_t)cap, .args = {bytes}};
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &ec) < 0) {
		int e = errno;
		snprintf(err, errlen, "KVM refused a dirty ring of %u entries: %s", entries, strerror(e));
		return -e;
	}
	if (dirty_ring_alloc(r, entries, nr_vcpus)) {
		snprintf(err, errlen, "out of memory for the dirty rings");
		return -ENOMEM;
	}
	r->vm_fd = vm_fd;
	r->acq_rel = cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	return 0;
}

int dirty_ring_map_vcpu(struct dirty_ring *r, unsigned index, int vcpu_fd, char *err,
			size_t errlen)
{
	size_t bytes = (size_t)r->entries * sizeof(struct kvm_dirty_gfn);
	off_t off = (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, off);
	if (p == MAP_FAILED) {
		int e = errno;
		snprintf(err, errlen, "cannot map vCPU %u's dirty ring: %s", index, strerror(e));
		return -e;
	}
	r->rings[index].gfns = p;
	return 0;
}

int64_t dirty_ring_collect(struct dirty_ring *r, const struct ring_slot_map *slots,
			   unsigned nr_slots, char *err, size_t errlen)
{
	uint64_t total = 0, bad = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr_vcpus; i++) {
		r->delta[i] = 0;
		if (!r->rings[i].gfns)
			continue;
		struct ring_walk_result w = ring_walk_collect(&r->rings[i], slots, nr_slots);
		r->delta[i] = w.collected;
		total += w.collected;
		bad += w.bad;
	}
	/* Only what was collected is re-protected: a write after this is a
	 * new entry, seen by the next walk. */
	int rc = total ? r->reset(r->vm_fd) : 0;
	if (rc) {
		pthread_mutex_unlock(&r->lock);
		snprintf(err, errlen, "KVM_RESET_DIRTY_RINGS: %s", strerror(-rc));
		return rc;
	}
	if (total) {
		for (unsigned i = 0; i < r->nr_vcpus; i++)
			__atomic_fetch_add(&r->vcpu_pages[i], r->delta[i], __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->bad_entries, bad, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->collections, 1, __ATOMIC_RELAXED);
		if (r->observe)
			r->observe(r->observe_opaque, r->delta);
	}
	pthread_mutex_unlock(&r->lock);
	return (int64_t)total;
}

void dirty_ring_destroy(struct dirty_ring *r)
{
	size_t bytes = (size_t)r->entries * sizeof(struct kvm_dirty_gfn);
	/* A test double's rings (no VM: vm_fd -1) are the test's own memory. */
	for (unsigned i = 0; r->rings && r->vm_fd >= 0 && i < r->nr_vcpus; i++)
		if (r->rings[i].gfns)
			munmap(r->rings[i].gfns, bytes);
	free(r->rings);
	free(r->delta);
	free(r->vcpu_pages);
	if (r->lock_init)
		pthread_mutex_destroy(&r->lock);
	memset(r, 0, sizeof(*r));
	r->vm_fd = -1;
}

/* SPDX-License-Identifier: MIT */
/*
 * The KVM dirty ring (KVM_CAP_DIRTY_LOG_RING): instead of a bitmap per
 * memory slot read with KVM_GET_DIRTY_LOG, KVM appends each page a vCPU
 * dirties to that vCPU's ring, mapped from the vCPU's fd. Collecting costs
 * what was dirtied, not what the guest has, and says which vCPU dirtied
 * what (the per-vCPU dirty limit uses that). A vCPU whose ring is nearly
 * full leaves KVM_RUN with KVM_EXIT_DIRTY_RING_FULL and must not run
 * again before its ring is collected and reset.
 *
 * Opt-in (vmig run --dirty-ring ENTRIES): enabled at VM creation, before
 * any vCPU exists, plain where KVM offers it (ACQ_REL otherwise).
 * Collection walks every vCPU's ring (vmm/ring_walk.h), then asks KVM to
 * re-protect the pages collected; one walker at a time (the migration thread's harvest and
 * vCPU threads on ring-full exits).
 */
#ifndef VMIG_VMM_DIRTYRING_H
#define VMIG_VMM_DIRTYRING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/ring_walk.h"

struct dirty_ring {
	uint32_t entries;      /* per vCPU; 0: the ring is off */
	bool acq_rel;          /* enabled as KVM_CAP_DIRTY_LOG_RING_ACQ_REL */
	int vm_fd;
	unsigned nr_vcpus;
	struct ring_view *rings;  /* one per vCPU; gfns NULL until mapped */
	uint32_t *delta;          /* under lock: each vCPU's pages in the walk at hand */
	uint64_t *vcpu_pages;     /* atomic: pages collected from each vCPU */
	uint64_t bad_entries;     /* atomic: entries naming no page of guest RAM */
	uint64_t collections;     /* atomic: walks that found something */
	pthread_mutex_t lock;     /* one walker at a time: fetch indices and the reset */
	bool lock_init;
	/* KVM_RESET_DIRTY_RINGS on vm_fd; unit tests put a test double here. */
	int (*reset)(int vm_fd);
	/* Told, under lock, how many pages each vCPU dirtied in one walk (the
	 * per-vCPU dirty limit's accounting); may be NULL. */
	void (*observe)(void *opaque, const uint32_t *pages_per_vcpu);
	void *observe_opaque;
};

/* KVM_RESET_DIRTY_RINGS: 0 or -errno. */
int dirty_ring_kvm_reset(int vm_fd);

/* Enables rings of `entries` (a power of two, DIRTY_RING_MIN_ENTRIES..
 * DIRTY_RING_MAX_ENTRIES) on a VM with no vCPU yet. A clear error if this
 * host's KVM lacks the ring or refuses the size. */
int dirty_ring_enable(struct dirty_ring *r, int vm_fd, uint32_t entries, unsigned nr_vcpus,
		      char *err, size_t errlen);

/* Maps vCPU `index`'s ring from its fd, once the vCPU exists. */
int dirty_ring_map_vcpu(struct dirty_ring *r, unsigned index, int vcpu_fd, char *err,
			size_t errlen);

/* The ring arrays without KVM (enable's second half): unit tests build a
 * ring over plain memory with it and set rings[i].gfns themselves. */
int dirty_ring_alloc(struct dirty_ring *r, uint32_t entries, unsigned nr_vcpus);

/* Collects every vCPU's ring into the slot maps, then lets KVM re-protect
 * what was collected. Returns the pages collected, or -errno with err. */
int64_t dirty_ring_collect(struct dirty_ring *r, const struct ring_slot_map *slots,
			   unsigned nr_slots, char *err, size_t errlen);

/* Unmaps the rings and frees everything; the ring is off afterwards. */
void dirty_ring_destroy(struct dirty_ring *r);

#endif

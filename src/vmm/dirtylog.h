/* SPDX-License-Identifier: MIT */
/*
 * KVM dirty-page logging for migration, with manual re-protection
 * (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): harvesting reads the log without
 * write-protecting anything; the engine re-protects pages in chunks just
 * before it sends them (KVM_CLEAR_DIRTY_LOG), which keeps the guest's
 * write-fault storm short. Pages the VMM writes itself are tracked in a
 * separate bitmap and ORed in.
 *
 * With the dirty ring (vmm/dirtyring.h) the same interface is served from
 * the vCPUs' rings instead: a harvest collects every ring into kvm_bits
 * and KVM re-protects what was collected; a clear only clears those bits.
 * The engine cannot tell the two apart.
 */
#ifndef VMIG_VMM_DIRTYLOG_H
#define VMIG_VMM_DIRTYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/dirtyring.h"
#include "vmm/kvm.h"
#include "vmm/memory.h"

struct dirty_log {
	bool manual;        /* MANUAL_DIRTY_LOG_PROTECT2 enabled on the VM */
	bool active;
	uint64_t *vmm_bits[GUEST_MAX_REGIONS]; /* VMM writes, atomically ORed */
	/* Without manual protection KVM_GET_DIRTY_LOG clears KVM's log as it
	 * reads it, and the ring's entries are recycled once collected: what
	 * KVM reported is kept here until dirty_log_clear, so a harvest never
	 * clears anything (include/vmig/guest.h's contract). Atomic: vCPU
	 * threads collect rings while channel threads clear. */
	uint64_t *kvm_bits[GUEST_MAX_REGIONS];
	struct dirty_ring ring; /* ring.entries 0: the bitmap */
};

/* At VM creation, before memory slots and vCPUs exist. ring_entries > 0
 * tracks with the dirty ring (an error if KVM cannot), 0 with the bitmap. */
int dirty_log_init(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		   uint32_t ring_entries, unsigned nr_vcpus, char *err, size_t errlen);
void dirty_log_destroy(struct dirty_log *d);

int dirty_log_start(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		    char *err, size_t errlen);
void dirty_log_stop(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem);
int dirty_log_harvest(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		      unsigned region, uint64_t *bitmap, char *err, size_t errlen);
int dirty_log_clear(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		    unsigned region, uint64_t first_page, uint64_t npages, const uint64_t *bits,
		    char *err, size_t errlen);

/* Ring mode: collects every vCPU's ring now (a vCPU's ring is full, or
 * logging stops). Returns the pages collected or -errno with err. */
int64_t dirty_log_collect_rings(struct dirty_log *d, const struct guest_memory *mem, char *err,
				size_t errlen);

/* "ring" or "bitmap": how dirty pages are tracked. */
const char *dirty_log_mode_name(const struct dirty_log *d);

/* Records a write the VMM made to guest RAM. */
void dirty_log_mark(struct dirty_log *d, const struct guest_memory *mem, uint64_t gpa,
		    uint64_t len);

#endif

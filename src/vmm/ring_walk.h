/* SPDX-License-Identifier: MIT */
/*
 * Walking one vCPU's KVM dirty ring (KVM_CAP_DIRTY_LOG_RING) in plain
 * memory: no ioctl here, so the walk is unit-tested over a test-double
 * ring.
 *
 * KVM publishes an entry by setting KVM_DIRTY_GFN_F_DIRTY in its flags
 * (after writing slot and offset); the VMM, reading the ring in order from
 * its own free-running fetch index, notes the page and sets the flags to
 * KVM_DIRTY_GFN_F_RESET; KVM_RESET_DIRTY_RINGS then write-protects those
 * pages again and recycles their entries. The VMM must never skip an
 * entry (KVM resets in order and stops at the first one not collected), so
 * an entry naming no known page is still marked and only counted as bad.
 * Flags are read with acquire and written with release: what
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL asks, and harmless on x86.
 */
#ifndef VMIG_VMM_RING_WALK_H
#define VMIG_VMM_RING_WALK_H

#include <linux/kvm.h>
#include <stdint.h>

/* KVM's bound on entries per ring (KVM_DIRTY_RING_MAX_ENTRIES, not in
 * the uapi headers) and the smallest ring vmig asks for: at least a page
 * of entries and more than KVM's reserve (64 + x86's 512 PML entries). */
#define DIRTY_RING_MAX_ENTRIES 65536u
#define DIRTY_RING_MIN_ENTRIES 1024u

/* One vCPU's ring as mapped from its fd. */
struct ring_view {
	struct kvm_dirty_gfn *gfns;
	uint32_t entries; /* a power of two */
	uint32_t fetch;   /* free-running: the next entry to read (wraps at 2^32) */
};

/* Where the pages of one KVM memory slot are recorded. */
struct ring_slot_map {
	uint32_t slot;    /* as KVM names it in kvm_dirty_gfn.slot (address space 0) */
	uint64_t pages;   /* pages in the slot */
	uint64_t *bits;   /* one bit per page, ORed atomically (other walkers may clear) */
};

/* What one walk found. */
struct ring_walk_result {
	uint32_t collected; /* entries taken, bad ones included */
	uint32_t bad;       /* entries naming no slot, or a page past its end */
};

/*
 * Collects every entry KVM has published since the last walk, in order,
 * stopping at the first one not (yet) dirty or after one full ring: sets
 * the page's bit in its slot's map, then marks the entry for reset.
 * Advances r->fetch past what it took.
 */
struct ring_walk_result ring_walk_collect(struct ring_view *r, const struct ring_slot_map *slots,
					  unsigned nr_slots);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The guest interface: all the migration engine (libvmig) knows of a VM.
 *
 * The VMM implements it over KVM; unit tests implement it with a test
 * double over plain memory. The engine never calls KVM itself.
 */
#ifndef VMIG_GUEST_H
#define VMIG_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/vmig.h"

#define VMIG_PAGE_SIZE 4096u
#define VMIG_PAGE_SHIFT 12

/* 64-bit words in a bitmap of one bit per page (dirty_harvest's and
 * dirty_clear's format) over `pages` pages. */
static inline uint64_t vmig_bitmap_words(uint64_t pages)
{
	return (pages + 63) / 64;
}

/* A contiguous piece of guest RAM, mapped in this process. */
struct vmig_ram_region {
	uint64_t gpa;
	uint64_t size;   /* bytes, multiple of VMIG_PAGE_SIZE */
	uint8_t *host;
};

struct vmig_guest_ops {
	/* RAM layout; stable for the life of the VM. Returns the count. */
	unsigned (*ram_regions)(void *guest, struct vmig_ram_region *out, unsigned max);

	/* Dirty tracking. start: every page counts as dirty until harvested. */
	int (*dirty_start)(void *guest, char *err, size_t errlen);
	void (*dirty_stop)(void *guest);
	/*
	 * OR into bitmap (one bit per page of region, bit i of word w is page
	 * w*64+i) the pages written since they were last cleared, including
	 * pages the VMM itself wrote. It should not clear anything, but the
	 * engine is correct either way: it keeps every page it harvested until
	 * it has sent it (a log that clears on read, like KVM's without manual
	 * protection, is fine).
	 */
	int (*dirty_harvest)(void *guest, unsigned region, uint64_t *bitmap, char *err,
			     size_t errlen);
	/*
	 * Re-arm tracking for the pages set in bits[0..npages) starting at
	 * first_page (a multiple of 64) of region, just before the engine reads
	 * them, so a write after this call is seen by the next harvest.
	 */
	int (*dirty_clear)(void *guest, unsigned region, uint64_t first_page, uint64_t npages,
			   const uint64_t *bits, char *err, size_t errlen);

	/* Run control. pause returns once no vCPU is in the guest. */
	int (*pause)(void *guest);
	int (*resume)(void *guest);

	/*
	 * Wall-clock time (CLOCK_REALTIME ns) of the guest's last sign of life
	 * (guestload's heartbeat), 0 if unknown. Optional (may be NULL): used
	 * to report the downtime the guest itself observed.
	 */
	uint64_t (*last_alive_ns)(void *guest);

	/* Device and CPU state as one opaque blob (the VMM's own format). */
	int (*save_state)(void *guest, uint8_t **blob, size_t *len, char *err, size_t errlen);
	int (*load_state)(void *guest, const uint8_t *blob, size_t len, char *err, size_t errlen);

	/*
	 * Slow the guest down: each vCPU should spend `percent` (0..99) of its
	 * time not running guest code; 0 lifts it. Keep each stop short: vmig's
	 * VMM stops a vCPU that share of every 10 ms cycle, a cycle long
	 * enough to run 1 ms (throttle_cycle_of in src/policy/throttle.h: at
	 * most 99 ms stopped at a time, where QEMU stops it 990 ms at 99 %,
	 * which the guest notices). Optional (NULL: no auto-converge for this
	 * guest). Called from the migration thread; the engine lifts it
	 * before the migration ends, whatever the outcome.
	 */
	int (*throttle)(void *guest, unsigned percent);
};

struct vmig_guest {
	const struct vmig_guest_ops *ops;
	void *opaque;
};

#endif

/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLE of a VM for bench/enginesim: the guest interface
 * (include/vmig/guest.h) over plain memory in this process, no KVM.
 *
 * RAM is laid out as vmig's VMM lays it out (src/vmm/memory.h): one region
 * at 0, and RAM above GUEST_LOW_RAM_MAX at GUEST_HIGH_RAM_BASE. Pages are
 * also numbered linearly over all regions (index 0 .. pages-1, region 0
 * first), which is how the workload addresses them.
 *
 * The vCPU stand-ins are threads of the workload (workload.c); they enter
 * and leave "the guest" around each batch of writes (gd_vcpu_enter/leave),
 * so that pause returns once none is inside, as a VMM's pause does, and
 * they sleep the throttle's share of their time (gd_vcpu_throttle).
 * Dirty tracking: a bitmap per region, bits set with an atomic OR after
 * the write; a harvest swaps words out atomically.
 */
#ifndef VMIG_ENGINESIM_GUEST_DOUBLE_H
#define VMIG_ENGINESIM_GUEST_DOUBLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmig/migration.h"

/* What the embedding program adds to the double: its device state. */
struct gd_hooks {
	int (*save_state)(void *opaque, uint8_t **blob, size_t *len, char *err, size_t errlen);
	int (*load_state)(void *opaque, const uint8_t *blob, size_t len, char *err,
			  size_t errlen);
	void (*before_resume)(void *opaque); /* optional: the guest is about to run */
	void *opaque;
};

struct gd_region {
	struct vmig_ram_region r;
	uint64_t first;   /* linear index of its first page */
	uint64_t pages;
	uint64_t *dirty;  /* bit per page, atomic */
};

/* One vCPU stand-in's gate: inside the guest (1) or not (0). */
struct gd_vcpu {
	int inside;
	uint64_t slice_start_ns; /* throttle: when it last came back from a sleep */
} __attribute__((aligned(64)));

struct guest_double {
	uint8_t *ram;
	uint64_t ram_bytes, pages;
	unsigned nr_regions;
	struct gd_region regions[VMIG_MAX_RAM_REGIONS];
	bool tracking;            /* atomic */
	unsigned nr_vcpus;
	struct gd_vcpu *vcpus;
	pthread_mutex_t lock;     /* with cond: the vCPUs' waits (pause, throttle) */
	pthread_cond_t cond;      /* on CLOCK_MONOTONIC */
	bool paused, stop;        /* atomic; written under lock */
	unsigned throttle_pct;    /* atomic */
	bool throttled;           /* atomic: a throttle was ever set */
	uint64_t alive_ns;        /* atomic: CLOCK_REALTIME of vCPU 0's last batch */
	/* Spun on a page's first write after its dirty bit was cleared, as a
	 * KVM guest takes a write-protection fault there; 0: free (default). */
	uint64_t write_fault_ns;
	uint64_t write_faults;    /* atomic: how many were taken */
	struct gd_hooks hooks;
};

/* RAM of ram_bytes (a multiple of the page size) laid out as vmig's VMM
 * lays it out, zero-filled, paused: 0 or -errno with err. */
int gd_create(struct guest_double *g, uint64_t ram_bytes, char *err, size_t errlen);
/* RAM with the regions the source described (gpa, size; host unset). */
int gd_create_regions(struct guest_double *g, const struct vmig_ram_region *regions,
		      unsigned nr, char *err, size_t errlen);
/* vCPU gates for n stand-ins (before any enters). 0 or -ENOMEM. */
int gd_set_vcpus(struct guest_double *g, unsigned n);
void gd_destroy(struct guest_double *g);

/* The guest interface for the engine. */
void gd_iface(struct guest_double *g, const struct gd_hooks *hooks, struct vmig_guest *out);

/* Page index -> its bytes. */
static inline uint8_t *gd_page(const struct guest_double *g, uint64_t index)
{
	return g->ram + index * VMIG_PAGE_SIZE;
}

/* After writing page index: marks it dirty (while tracking). */
void gd_mark_dirty(struct guest_double *g, uint64_t index);

/* vCPU v enters the guest: false once the guest stops (it must end);
 * waits while paused. */
bool gd_vcpu_enter(struct guest_double *g, unsigned v);
/* vCPU v leaves the guest (vCPU 0 leaves a sign of life). */
void gd_vcpu_leave(struct guest_double *g, unsigned v);
/* Outside the guest: sleeps the throttle's share, if a slice is due. */
void gd_vcpu_throttle(struct guest_double *g, unsigned v);
/* Starts the guest's vCPUs running (the destination's resume does this too). */
void gd_run(struct guest_double *g);
/* Tells the vCPUs to end: every enter returns false from now on. */
void gd_stop(struct guest_double *g);
bool gd_is_paused(struct guest_double *g);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * guestload's workload on a guest double: the same arguments (guest/args.c),
 * the same page contents and page format (guest/fill.c, guest/page.c), run
 * by threads named "vcpu0", "vcpu1", ... in this process instead of vCPUs.
 *
 * RAM: pages [0, gens_pages) hold one uint32_t generation per working-set
 * page (in guest RAM, so they migrate with it, as guestload keeps them);
 * the working set follows; every page outside the table is filled as
 * fill= says, at generation 1 (zero pages stay zero). Each writer owns a
 * slice of the working set and passes over it forever (pattern=seq or
 * random), visiting each page once per pass: it checks the page against
 * its generation (a mismatch counts in errors), then writes it at the next
 * generation, one word (write=word) or the whole page (write=page), and
 * marks it and its generation's page dirty. rate= MiB/s over all writers
 * (0: as fast as they can); vCPUs past writers= only compute.
 */
#ifndef VMIG_ENGINESIM_WORKLOAD_H
#define VMIG_ENGINESIM_WORKLOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "guest_double.h"
#include "ramhash.h"

/* The most vCPU stand-ins (as vmig run's --vcpus). */
#define WORKLOAD_MAX_VCPUS 64

struct wl_vcpu {
	struct workload *w;
	unsigned idx;
	pthread_t thread;
	uint64_t lo, hi;  /* its slice of the working set (working-set indexes) */
	uint64_t pages;   /* atomic: pages visited */
	uint64_t passes;  /* atomic: whole passes over its slice */
	uint64_t errors;  /* atomic: pages that did not hold what it last wrote */
} __attribute__((aligned(64)));

struct workload {
	struct guest_double *g;
	struct config cfg;
	unsigned nr_vcpus, nr_writers, started;
	uint64_t gens_pages;   /* the generation table: pages [0, gens_pages) */
	uint64_t ws_first, ws_pages;
	uint64_t static_first; /* after the working set: where modules go (modules_ram.h) */
	uint32_t *gens;        /* in guest RAM */
	uint64_t ns_per_page;  /* per writer at rate=; 0: as fast as it can */
	uint64_t passes_base;  /* passes made before (on the source, for a destination) */
	struct ramhash_snap *snap; /* a destination's: pages hashed before they change */
	struct wl_vcpu *vcpus;
};

/* What the vCPUs have done. passes: the slowest writer's, as guestload
 * counts them; pages: visited by all. */
struct wl_progress {
	uint64_t passes, pages, errors;
};

/* Whether guestload takes args and the double can run them (fill=modules
 * only with modules): 0, or -EINVAL with a message in err. */
int workload_check_args(const char *args, bool modules, char *err, size_t errlen);
/* guestload's arguments (args) for nr_vcpus vCPUs on g, module_pages of
 * RAM kept for boot modules at static_first: 0, or -EINVAL with a message
 * in err for an argument guestload refuses or this double cannot honour,
 * -E2BIG for modules that leave no RAM. */
int workload_init(struct workload *w, struct guest_double *g, const char *args,
		  unsigned nr_vcpus, uint64_t module_pages, char *err, size_t errlen);
/* Fills RAM as fill= says (on every CPU): 0 or -errno. */
int workload_fill(struct workload *w);
/* Starts the vCPU threads; they run once the guest does (gd_run). */
int workload_start(struct workload *w, char *err, size_t errlen);
/* Ends the vCPU threads (the guest stays as it is). */
void workload_stop(struct workload *w);
void workload_free(struct workload *w);
void workload_progress(const struct workload *w, struct wl_progress *p);

#endif

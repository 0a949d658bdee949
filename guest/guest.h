/* SPDX-License-Identifier: MIT */
/*
 * guestload's shared state. One instance (G) in .bss: vCPU 0 sets it up,
 * then every vCPU runs one worker; each worker writes only its own stats
 * slot, which vCPU 0 reads to print the totals.
 */
#ifndef GUESTLOAD_GUEST_H
#define GUESTLOAD_GUEST_H

#include <stdint.h>

#include "config.h"
#include "layout.h"
#include "modules.h"
#include "page.h"
#include "guest_abi.h"

/* Exit codes passed to the halt gate (and so to the VMM). */
#define EXIT_OK 0
#define EXIT_ERRORS 1    /* time= ran out with errors > 0 */
#define EXIT_BAD_ARGS 2
#define EXIT_BAD_BOOT 3  /* bad boot info, or no RAM to own */

struct vcpu_stats {
	uint64_t pages;  /* working-set pages written, ever */
	uint64_t passes; /* passes over this worker's slice of the working set */
	uint64_t errors; /* bad pages found (working set and static sweep) */
} __attribute__((aligned(64)));

struct guest {
	struct config cfg;
	struct layout L;
	struct module_pages mods; /* boot modules (fill=modules checks them) */
	unsigned nvcpus;
	uint64_t tsc_khz;
	uint64_t tsc_hz;
	uint64_t start_tsc; /* end of the fill: t=0 of the progress lines */
	int phase;          /* PHASE_*, written by vCPU 0 */
	unsigned filled;    /* vCPUs done filling their share */
	struct vcpu_stats st[VMIG_MAX_VCPUS];
};

enum { PHASE_BOOT, PHASE_FILL, PHASE_RUN };

extern struct guest G;
extern char __image_end[]; /* link.ld */

__attribute__((noreturn)) void guest_main(struct vmig_boot_info *bi, uint64_t vcpu);
__attribute__((noreturn)) void guest_exit(uint32_t code); /* entry.S: exit port, then halt gate */

/* Content seed of a page at a generation. */
uint64_t page_seed(uint32_t pageno, uint32_t gen);

/* check.c: verifies the page at gpa against want_gen (0: must be all
 * zeros); a bad page is counted in G.st[vcpu].errors and reported
 * (rate-limited). *s gets the payload's sums. */
enum page_verdict check_page(unsigned vcpu, uint64_t gpa, uint32_t want_gen, struct page_sums *s);
/* Same for the static (non-working-set) page with that owned index; a bad
 * one is rewritten as it should be, at its unchanged generation. */
void check_static(unsigned vcpu, uint64_t idx);

/* Same for module page i (fill=modules): a page that lost its bytes is
 * counted and reported once. */
void check_module(unsigned vcpu, uint64_t i);
/* vCPU 0: checks every module page now; prints "modules pages=N bad=N"
 * (bad: pages found changed since boot, by this check or the sweep). */
void check_all_modules(void);

/* worker.c: this vCPU's share of the working set, forever. */
__attribute__((noreturn)) void worker_run(unsigned vcpu);
/* vCPU's slice [lo, hi) of the working set; empty for a vCPU that only
 * computes (writers=). */
void ws_slice(unsigned vcpu, uint64_t *lo, uint64_t *hi);

/* monitor.c (vCPU 0 only): heartbeat every ~1 ms; once a second, after
 * monitor_start, the progress line and the time= check. */
void monitor_heartbeat(uint64_t now);
void monitor_start(uint64_t now);
void monitor_tick(uint64_t now);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A hash of a guest double's RAM, to check that what arrived is what left.
 * The sum (mod 2^64) of every page's XXH3 seeded with its index, so pages
 * may be hashed in any order: the destination hashes the RAM as it was
 * before its guest ran again without holding the guest back. A background
 * thread hashes every page, and a writer about to change a page not yet
 * hashed hashes it first (ramhash_snap_touch).
 */
#ifndef VMIG_ENGINESIM_RAMHASH_H
#define VMIG_ENGINESIM_RAMHASH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The hash of pages [0, pages) at ram, now (nothing may write them meanwhile). */
uint64_t ramhash_all(const uint8_t *ram, uint64_t pages);

/* The hash of RAM as it was at ramhash_snap_start, taken while it changes. */
struct ramhash_snap {
	const uint8_t *ram;
	uint64_t pages;
	uint8_t *state;   /* per page, atomic: SNAP_* in ramhash.c */
	uint64_t sum;     /* atomic */
	pthread_t thread;
	bool started;
};

/* Before anything writes RAM again: 0, or -ENOMEM. */
int ramhash_snap_init(struct ramhash_snap *s, const uint8_t *ram, uint64_t pages);
/* Starts the background thread that hashes every page. */
int ramhash_snap_start(struct ramhash_snap *s);
/* Before page index changes: makes sure its old content is in the hash. */
void ramhash_snap_touch(struct ramhash_snap *s, uint64_t index);
/* Waits for every page; the hash. Frees what init allocated. */
uint64_t ramhash_snap_finish(struct ramhash_snap *s);
/* No hash wanted after all (a failed migration): stops, frees. */
void ramhash_snap_discard(struct ramhash_snap *s);

#endif

/* SPDX-License-Identifier: MIT */
/* A hash of a guest double's RAM: see ramhash.h. */
#include "ramhash.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <xxhash.h>

#include "vmig/guest.h"

enum { SNAP_OLD, SNAP_HASHING, SNAP_DONE };

static uint64_t page_hash(const uint8_t *ram, uint64_t index)
{
	return XXH3_64bits_withSeed(ram + index * VMIG_PAGE_SIZE, VMIG_PAGE_SIZE, index);
}

uint64_t ramhash_all(const uint8_t *ram, uint64_t pages)
{
	uint64_t sum = 0;
	for (uint64_t i = 0; i < pages; i++)
		sum += page_hash(ram, i);
	return sum;
}

int ramhash_snap_init(struct ramhash_snap *s, const uint8_t *ram, uint64_t pages)
{
	*s = (struct ramhash_snap){.ram = ram, .pages = pages};
	s->state = calloc(pages ? pages : 1, 1);
	return s->state ? 0 : -ENOMEM;
}

void ramhash_snap_touch(struct ramhash_snap *s, uint64_t index)
{
	uint8_t *st = &s->state[index], old = SNAP_OLD;
	if (__atomic_load_n(st, __ATOMIC_ACQUIRE) == SNAP_DONE)
		return;
	if (__atomic_compare_exchange_n(st, &old, SNAP_HASHING, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&s->sum, page_hash(s->ram, index), __ATOMIC_RELAXED);
		__atomic_store_n(st, SNAP_DONE, __ATOMIC_RELEASE);
		return;
	}
	/* another thread hashes it right now: a page's hash takes a microsecond */
	while (__atomic_load_n(st, __ATOMIC_ACQUIRE) != SNAP_DONE)
		sched_yield();
}

static void touch_all(struct ramhash_snap *s)
{
	for (uint64_t i = 0; i < s->pages; i++)
		ramhash_snap_touch(s, i);
}

static void *snap_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "ramhash");
	touch_all(arg);
	return NULL;
}

int ramhash_snap_start(struct ramhash_snap *s)
{
	int r = pthread_create(&s->thread, NULL, snap_thread, s);
	s->started = r == 0;
	return -r;
}

uint64_t ramhash_snap_finish(struct ramhash_snap *s)
{
	if (s->started)
		pthread_join(s->thread, NULL);
	else
		touch_all(s);
	s->started = false;
	free(s->state);
	s->state = NULL;
	return __atomic_load_n(&s->sum, __ATOMIC_ACQUIRE);
}

void ramhash_snap_discard(struct ramhash_snap *s)
{
	if (s->started)
		pthread_join(s->thread, NULL); /* at most one pass over RAM */
	s->started = false;
	free(s->state);
	s->state = NULL;
}

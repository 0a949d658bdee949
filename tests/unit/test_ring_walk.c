/* SPDX-License-Identifier: MIT */
/*
 * The dirty ring walk (vmm/ring_walk.c) and its collection over every
 * vCPU (vmm/dirtyring.c), on test-double rings in plain memory: KVM's
 * side (publishing entries, recycling them at reset) is played here.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unittest.h"
#include "vmm/dirtyring.h"
#include "vmm/ring_walk.h"

#define ENTRIES 8u
#define SLOT_PAGES 256u

/* A test-double ring and two slots' maps (slot 0 and slot 1). */
struct double_ring {
	struct kvm_dirty_gfn gfns[ENTRIES];
	struct ring_view view;
	uint64_t bits0[SLOT_PAGES / 64], bits1[SLOT_PAGES / 64];
	struct ring_slot_map slots[2];
};

static void ring_init(struct double_ring *d, uint32_t fetch)
{
	memset(d, 0, sizeof(*d));
	d->view = (struct ring_view){.gfns = d->gfns, .entries = ENTRIES, .fetch = fetch};
	d->slots[0] = (struct ring_slot_map){.slot = 0, .pages = SLOT_PAGES, .bits = d->bits0};
	d->slots[1] = (struct ring_slot_map){.slot = 1, .pages = SLOT_PAGES, .bits = d->bits1};
}

/* What KVM does: fills the entry at free-running index idx and publishes it. */
static void publish(struct kvm_dirty_gfn *gfns, uint32_t entries, uint32_t idx, uint32_t slot,
		    uint64_t offset)
{
	struct kvm_dirty_gfn *e = &gfns[idx & (entries - 1)];
	e->slot = slot;
	e->offset = offset;
	__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
}

static bool page_set(const uint64_t *bits, uint64_t page)
{
	return bits[page / 64] >> (page % 64) & 1;
}

TEST(collects_published_entries_and_marks_them_for_reset)
{
	struct double_ring d;
	ring_init(&d, 0);
	publish(d.gfns, ENTRIES, 0, 0, 3);
	publish(d.gfns, ENTRIES, 1, 0, 70);
	struct ring_walk_result w = ring_walk_collect(&d.view, d.slots, 2);
	CHECK_EQ_INT(w.collected, 2);
	CHECK_EQ_INT(w.bad, 0);
	CHECK_EQ_INT(d.view.fetch, 2);
	CHECK(page_set(d.bits0, 3) && page_set(d.bits0, 70));
	CHECK_EQ_INT(d.gfns[0].flags, KVM_DIRTY_GFN_F_RESET);
	CHECK_EQ_INT(d.gfns[1].flags, KVM_DIRTY_GFN_F_RESET);
}

TEST(stops_at_the_first_entry_not_yet_published)
{
	/* KVM resets in order: an entry past a gap must wait for the next walk */
	struct double_ring d;
	ring_init(&d, 0);
	publish(d.gfns, ENTRIES, 0, 0, 1);
	publish(d.gfns, ENTRIES, 2, 0, 2);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, 1);
	CHECK(!page_set(d.bits0, 2));
	CHECK_EQ_INT(d.gfns[2].flags, KVM_DIRTY_GFN_F_DIRTY);
	publish(d.gfns, ENTRIES, 1, 0, 9);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, 2);
	CHECK(page_set(d.bits0, 2) && page_set(d.bits0, 9));
}

TEST(an_entry_awaiting_reset_is_not_taken_twice)
{
	struct double_ring d;
	ring_init(&d, 0);
	publish(d.gfns, ENTRIES, 0, 0, 5);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, 1);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, 0);
	CHECK_EQ_INT(d.view.fetch, 1);
}

TEST(wraps_around_the_end_of_the_ring)
{
	struct double_ring d;
	ring_init(&d, ENTRIES - 2);
	for (uint32_t i = 0; i < 4; i++)
		publish(d.gfns, ENTRIES, ENTRIES - 2 + i, 1, 10 + i);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, 4);
	CHECK_EQ_INT(d.view.fetch, ENTRIES + 2);
	for (uint64_t p = 10; p < 14; p++)
		CHECK(page_set(d.bits1, p));
	CHECK_EQ_INT(d.gfns[0].flags, KVM_DIRTY_GFN_F_RESET);
	CHECK_EQ_INT(d.gfns[ENTRIES - 1].flags, KVM_DIRTY_GFN_F_RESET);
}

TEST(the_fetch_index_wraps_at_2_to_the_32)
{
	struct double_ring d;
	ring_init(&d, UINT32_MAX - 1);
	for (uint32_t i = 0; i < 3; i++)
		publish(d.gfns, ENTRIES, UINT32_MAX - 1 + i, 0, 100 + i);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, 3);
	CHECK_EQ_INT(d.view.fetch, 1);
	CHECK(page_set(d.bits0, 100) && page_set(d.bits0, 101) && page_set(d.bits0, 102));
}

TEST(slot_and_offset_name_the_page)
{
	struct double_ring d;
	ring_init(&d, 0);
	publish(d.gfns, ENTRIES, 0, 1, 64);
	publish(d.gfns, ENTRIES, 1, 0, SLOT_PAGES - 1);
	ring_walk_collect(&d.view, d.slots, 2);
	CHECK_EQ_INT(d.bits1[1], 1);
	CHECK_EQ_INT(d.bits1[0], 0);
	CHECK_EQ_INT(d.bits0[SLOT_PAGES / 64 - 1], 1ull << 63);
}

TEST(an_entry_naming_no_page_is_still_marked_and_counted_bad)
{
	struct double_ring d;
	ring_init(&d, 0);
	publish(d.gfns, ENTRIES, 0, 7, 1);          /* no such slot */
	publish(d.gfns, ENTRIES, 1, 0, SLOT_PAGES); /* past the slot's end */
	publish(d.gfns, ENTRIES, 2, 0, 4);
	struct ring_walk_result w = ring_walk_collect(&d.view, d.slots, 2);
	CHECK_EQ_INT(w.collected, 3);
	CHECK_EQ_INT(w.bad, 2);
	CHECK_EQ_INT(d.gfns[0].flags, KVM_DIRTY_GFN_F_RESET);
	CHECK_EQ_INT(d.gfns[1].flags, KVM_DIRTY_GFN_F_RESET);
	CHECK(page_set(d.bits0, 4));
}

TEST(a_full_ring_is_taken_in_one_lap)
{
	struct double_ring d;
	ring_init(&d, 3);
	for (uint32_t i = 0; i < ENTRIES; i++)
		publish(d.gfns, ENTRIES, 3 + i, 0, i);
	CHECK_EQ_INT(ring_walk_collect(&d.view, d.slots, 2).collected, ENTRIES);
	CHECK_EQ_INT(d.view.fetch, 3 + ENTRIES);
}

/* ---- every vCPU's ring: dirty_ring_collect ---- */

static int resets;
static int reset_result;

/* KVM_RESET_DIRTY_RINGS' test double: recycles every entry marked reset. */
static struct dirty_ring *reset_ring;
static int reset_double(int vm_fd)
{
	(void)vm_fd;
	resets++;
	if (reset_result)
		return reset_result;
	for (unsigned v = 0; v < reset_ring->nr_vcpus; v++)
		for (uint32_t i = 0; i < reset_ring->entries; i++)
			if (reset_ring->rings[v].gfns[i].flags == KVM_DIRTY_GFN_F_RESET)
				reset_ring->rings[v].gfns[i].flags = 0;
	return 0;
}

static uint32_t observed[2];
static int observations;
static void observe_double(void *opaque, const uint32_t *pages)
{
	(void)opaque;
	observed[0] += pages[0];
	observed[1] += pages[1];
	observations++;
}

struct two_vcpus {
	struct dirty_ring ring;
	struct kvm_dirty_gfn gfns[2][ENTRIES];
	uint64_t bits[SLOT_PAGES / 64];
	struct ring_slot_map slot;
};

static int two_vcpus_init(struct two_vcpus *t)
{
	memset(t, 0, sizeof(*t));
	int r = dirty_ring_alloc(&t->ring, ENTRIES, 2);
	if (r)
		return r;
	t->ring.rings[0].gfns = t->gfns[0];
	t->ring.rings[1].gfns = t->gfns[1];
	t->ring.reset = reset_double;
	t->ring.observe = observe_double;
	t->slot = (struct ring_slot_map){.slot = 0, .pages = SLOT_PAGES, .bits = t->bits};
	reset_ring = &t->ring;
	resets = reset_result = observations = 0;
	observed[0] = observed[1] = 0;
	return 0;
}

TEST(counts_pages_per_vcpu_and_resets_once_per_walk)
{
	struct two_vcpus t;
	char err[128];
	CHECK_EQ_INT(two_vcpus_init(&t), 0);
	for (uint32_t i = 0; i < 5; i++)
		publish(t.gfns[0], ENTRIES, i, 0, i);
	publish(t.gfns[1], ENTRIES, 0, 0, 200);
	CHECK_EQ_INT(dirty_ring_collect(&t.ring, &t.slot, 1, err, sizeof(err)), 6);
	CHECK_EQ_INT(resets, 1);
	CHECK_EQ_INT(t.ring.vcpu_pages[0], 5);
	CHECK_EQ_INT(t.ring.vcpu_pages[1], 1);
	CHECK_EQ_INT(observations, 1);
	CHECK_EQ_INT(observed[0], 5);
	CHECK_EQ_INT(observed[1], 1);
	/* recycled by the reset: KVM may publish there again */
	CHECK_EQ_INT(t.gfns[0][0].flags, 0);
	dirty_ring_destroy(&t.ring);
}

TEST(nothing_collected_asks_kvm_for_nothing)
{
	struct two_vcpus t;
	char err[128];
	CHECK_EQ_INT(two_vcpus_init(&t), 0);
	CHECK_EQ_INT(dirty_ring_collect(&t.ring, &t.slot, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(resets, 0);
	CHECK_EQ_INT(observations, 0);
	dirty_ring_destroy(&t.ring);
}

TEST(a_failed_reset_is_an_error_that_says_so)
{
	struct two_vcpus t;
	char err[128] = "";
	CHECK_EQ_INT(two_vcpus_init(&t), 0);
	publish(t.gfns[1], ENTRIES, 0, 0, 1);
	reset_result = -EINVAL;
	CHECK_EQ_INT(dirty_ring_collect(&t.ring, &t.slot, 1, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "KVM_RESET_DIRTY_RINGS") != NULL);
	dirty_ring_destroy(&t.ring);
}

RUN_TESTS("ring_walk", UT(collects_published_entries_and_marks_them_for_reset),
	  UT(stops_at_the_first_entry_not_yet_published), UT(an_entry_awaiting_reset_is_not_taken_twice),
	  UT(wraps_around_the_end_of_the_ring), UT(the_fetch_index_wraps_at_2_to_the_32),
	  UT(slot_and_offset_name_the_page), UT(an_entry_naming_no_page_is_still_marked_and_counted_bad),
	  UT(a_full_ring_is_taken_in_one_lap), UT(counts_pages_per_vcpu_and_resets_once_per_walk),
	  UT(nothing_collected_asks_kvm_for_nothing), UT(a_failed_reset_is_an_error_that_says_so))

/* SPDX-License-Identifier: MIT */
/*
 * The dirty log's contract (include/vmig/guest.h) served from the dirty
 * ring (vmm/dirtylog.c in ring mode), on test-double rings in plain
 * memory: harvest never clears, the VMM's own writes are included, clear
 * re-arms exactly the pages given. KVM's side is played here.
 */
#include <stdlib.h>
#include <string.h>

#include "unittest.h"
#include "vmm/dirtylog.h"

#define ENTRIES 16u
#define REGION_PAGES 128u

struct ring_vm {
	struct guest_memory mem;
	struct dirty_log d;
	struct kvm_dirty_gfn gfns[ENTRIES];
	uint32_t published; /* KVM's free-running index */
};

static struct ring_vm *reset_vm;

/* KVM_RESET_DIRTY_RINGS' test double: recycles the entries marked reset. */
static int reset_double(int vm_fd)
{
	(void)vm_fd;
	for (uint32_t i = 0; i < ENTRIES; i++)
		if (reset_vm->gfns[i].flags == KVM_DIRTY_GFN_F_RESET)
			reset_vm->gfns[i].flags = 0;
	return 0;
}

/* What KVM does when the guest writes a page of region 0 (slot 0). */
static void guest_writes(struct ring_vm *t, uint64_t page)
{
	struct kvm_dirty_gfn *e = &t->gfns[t->published++ % ENTRIES];
	e->slot = 0;
	e->offset = page;
	__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
}

static int ring_vm_init(struct ring_vm *t)
{
	memset(t, 0, sizeof(*t));
	t->mem.size = REGION_PAGES * GUEST_PAGE_SIZE;
	t->mem.nr_regions = 1;
	t->mem.regions[0] = (struct mem_region){.gpa = 0, .size = t->mem.size, .slot = 0};
	if (dirty_ring_alloc(&t->d.ring, ENTRIES, 1))
		return -1;
	t->d.ring.rings[0].gfns = t->gfns;
	t->d.ring.reset = reset_double;
	t->d.vmm_bits[0] = calloc(REGION_PAGES / 64, 8);
	t->d.kvm_bits[0] = calloc(REGION_PAGES / 64, 8);
	t->d.active = true;
	reset_vm = t;
	return t->d.vmm_bits[0] && t->d.kvm_bits[0] ? 0 : -1;
}

static bool harvested(struct ring_vm *t, uint64_t page)
{
	uint64_t bits[REGION_PAGES / 64] = {0};
	char err[128];
	if (dirty_log_harvest(&t->d, NULL, &t->mem, 0, bits, err, sizeof(err)))
		return false;
	return bits[page / 64] >> (page % 64) & 1;
}

static int clear_page(struct ring_vm *t, uint64_t page)
{
	uint64_t bits[REGION_PAGES / 64] = {0};
	char err[128];
	bits[page / 64] = 1ull << (page % 64);
	return dirty_log_clear(&t->d, NULL, &t->mem, 0, 0, REGION_PAGES, bits, err, sizeof(err));
}

TEST(harvest_keeps_a_page_until_it_is_cleared)
{
	struct ring_vm t;
	CHECK_EQ_INT(ring_vm_init(&t), 0);
	guest_writes(&t, 5);
	CHECK(harvested(&t, 5));
	CHECK(harvested(&t, 5)); /* the ring's entry is gone; the page is not */
	CHECK_EQ_INT(clear_page(&t, 5), 0);
	CHECK(!harvested(&t, 5));
	dirty_log_destroy(&t.d);
}

TEST(the_vmms_own_writes_are_harvested_too)
{
	struct ring_vm t;
	CHECK_EQ_INT(ring_vm_init(&t), 0);
	dirty_log_mark(&t.d, &t.mem, 9 * GUEST_PAGE_SIZE + 100, 8);
	CHECK(harvested(&t, 9));
	CHECK_STR(dirty_log_mode_name(&t.d), "ring");
	dirty_log_destroy(&t.d);
}

TEST(a_write_after_clear_is_seen_by_the_next_harvest)
{
	struct ring_vm t;
	CHECK_EQ_INT(ring_vm_init(&t), 0);
	guest_writes(&t, 70);
	CHECK(harvested(&t, 70));
	CHECK_EQ_INT(clear_page(&t, 70), 0);
	guest_writes(&t, 70); /* re-protected at the reset: a new entry */
	CHECK(harvested(&t, 70));
	dirty_log_destroy(&t.d);
}

TEST(a_ring_full_collection_between_harvests_loses_nothing)
{
	struct ring_vm t;
	char err[128];
	CHECK_EQ_INT(ring_vm_init(&t), 0);
	for (uint64_t p = 0; p < ENTRIES; p++)
		guest_writes(&t, p);
	/* a vCPU thread collects on KVM_EXIT_DIRTY_RING_FULL, then writes on */
	CHECK_EQ_INT(dirty_log_collect_rings(&t.d, &t.mem, err, sizeof(err)), ENTRIES);
	guest_writes(&t, 100);
	for (uint64_t p = 0; p < ENTRIES; p++)
		CHECK(harvested(&t, p));
	CHECK(harvested(&t, 100));
	dirty_log_destroy(&t.d);
}

RUN_TESTS("dirtylog_ring", UT(harvest_keeps_a_page_until_it_is_cleared),
	  UT(the_vmms_own_writes_are_harvested_too), UT(a_write_after_clear_is_seen_by_the_next_harvest),
	  UT(a_ring_full_collection_between_harvests_loses_nothing))

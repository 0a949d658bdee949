/* SPDX-License-Identifier: MIT */
#include "vmm/ring_walk.h"

#include <stdbool.h>
#include <stddef.h>

/* Sets the entry's page in its slot's map; false if it names none. */
static bool note_page(const struct ring_slot_map *slots, unsigned nr_slots, uint32_t slot,
		      uint64_t offset)
{
	for (unsigned i = 0; i < nr_slots; i++) {
		if (slots[i].slot != slot)
			continue;
		if (offset >= slots[i].pages)
			return false;
		__atomic_fetch_or(&slots[i].bits[offset / 64], 1ull << (offset % 64),
				  __ATOMIC_RELEASE);
		return true;
	}
	return false;
}

struct ring_walk_result ring_walk_collect(struct ring_view *r, const struct ring_slot_map *slots,
					  unsigned nr_slots)
{
	struct ring_walk_result res = {0, 0};
	uint32_t mask = r->entries - 1;

	/* At most one lap: KVM never publishes more than the ring holds. */
	while (res.collected < r->entries) {
		struct kvm_dirty_gfn *e = &r->gfns[r->fetch & mask];
		uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
		/* Not published yet (0), or ours from the last lap awaiting
		 * KVM's reset (RESET alone): nothing newer follows it. */
		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (!note_page(slots, nr_slots, e->slot, e->offset))
			res.bad++;
		/* The page is in the map before KVM may re-protect it. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		r->fetch++;
		res.collected++;
	}
	return res;
}

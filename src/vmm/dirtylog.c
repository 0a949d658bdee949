/* SPDX-License-Identifier: MIT */
#include "vmm/dirtylog.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "vmig/guest.h" /* vmig_bitmap_words: KVM's dirty bitmap has the same layout */

static uint64_t region_pages(const struct guest_memory *mem, unsigned region)
{
	return mem->regions[region].size / GUEST_PAGE_SIZE;
}

int dirty_log_init(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		   uint32_t ring_entries, unsigned nr_vcpus, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->ring.vm_fd = -1;
	int r = ring_entries ? dirty_ring_enable(&d->ring, k->vm_fd, ring_entries, nr_vcpus, err,
						 errlen)
			     : 0;
	if (r)
		return r;
	/* The ring replaces the bitmap: KVM refuses GET/CLEAR_DIRTY_LOG then. */
	int caps = ring_entries ? 0 : ioctl(k->kvm_fd, KVM_CHECK_EXTENSION,
					    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps > 0) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				 (caps & KVM_DIRTY_LOG_INITIALLY_SET)},
		};
		d->manual = ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
	}
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		uint64_t words = vmig_bitmap_words(region_pages(mem, i));
		d->vmm_bits[i] = calloc(words, sizeof(uint64_t));
		d->kvm_bits[i] = d->manual ? NULL : calloc(words, sizeof(uint64_t));
		if (!d->vmm_bits[i] || (!d->manual && !d->kvm_bits[i])) {
			snprintf(err, errlen, "out of memory for dirty bitmaps");
			return -ENOMEM;
		}
	}
	return 0;
}

void dirty_log_destroy(struct dirty_log *d)
{
	for (unsigned i = 0; i < GUEST_MAX_REGIONS; i++) {
		free(d->vmm_bits[i]);
		free(d->kvm_bits[i]);
	}
	dirty_ring_destroy(&d->ring);
	memset(d, 0, sizeof(*d));
	d->ring.vm_fd = -1;
}

const char *dirty_log_mode_name(const struct dirty_log *d)
{
	return d->ring.entries ? "ring" : "bitmap";
}

/* The slot maps a ring walk records into: kvm_bits, region by region. */
static unsigned ring_slots(struct dirty_log *d, const struct guest_memory *mem,
			   struct ring_slot_map *out)
{
	for (unsigned i = 0; i < mem->nr_regions; i++)
		out[i] = (struct ring_slot_map){.slot = mem->regions[i].slot,
						.pages = region_pages(mem, i),
						.bits = d->kvm_bits[i]};
	return mem->nr_regions;
}

int64_t dirty_log_collect_rings(struct dirty_log *d, const struct guest_memory *mem, char *err,
				size_t errlen)
{
	struct ring_slot_map slots[GUEST_MAX_REGIONS];
	unsigned n = ring_slots(d, mem, slots);
	return dirty_ring_collect(&d->ring, slots, n, err, errlen);
}

static int set_logging(struct kvm_handles *k, const struct guest_memory *mem, bool on)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = r->slot,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)(mem->host + r->offset),
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return -errno;
	}
	return 0;
}

int dirty_log_start(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		    char *err, size_t errlen)
{
	int r = set_logging(k, mem, true);
	if (r) {
		snprintf(err, errlen, "cannot enable dirty logging: %s", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < mem->nr_regions; i++)
		if (d->kvm_bits[i])
			memset(d->kvm_bits[i], 0,
			       vmig_bitmap_words(region_pages(mem, i)) * sizeof(uint64_t));
	d->active = true;
	return 0;
}

void dirty_log_stop(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem)
{
	/* Leaves the rings empty for the next migration, while the slots
	 * still log (what a reset re-protects is then still tracked). */
	char err[128];
	if (d->active && d->ring.entries && dirty_log_collect_rings(d, mem, err, sizeof(err)) < 0)
		log_warn("dirty ring: %s", err);
	if (d->active)
		set_logging(k, mem, false);
	d->active = false;
}

/* Ring mode: every ring collected into kvm_bits, which go out with the
 * VMM's own writes; nothing cleared. */
static int harvest_rings(struct dirty_log *d, const struct guest_memory *mem, unsigned region,
			 uint64_t *bitmap, char *err, size_t errlen)
{
	int64_t r = dirty_log_collect_rings(d, mem, err, errlen);
	if (r < 0)
		return (int)r;
	uint64_t *kept = d->kvm_bits[region], *vmm = d->vmm_bits[region];
	for (uint64_t w = 0; w < vmig_bitmap_words(region_pages(mem, region)); w++)
		bitmap[w] |= __atomic_load_n(&kept[w], __ATOMIC_ACQUIRE) |
			     __atomic_load_n(&vmm[w], __ATOMIC_ACQUIRE);
	return 0;
}

int dirty_log_harvest(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		      unsigned region, uint64_t *bitmap, char *err, size_t errlen)
{
	if (d->ring.entries)
		return harvest_rings(d, mem, region, bitmap, err, errlen);
	uint64_t pages = region_pages(mem, region), words = vmig_bitmap_words(pages);
	uint64_t *tmp = calloc(words, sizeof(uint64_t));
	if (!tmp)
		return -ENOMEM;
	struct kvm_dirty_log log = {.slot = mem->regions[region].slot, .dirty_bitmap = tmp};
	if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		int e = errno;
		free(tmp);
		snprintf(err, errlen, "KVM_GET_DIRTY_LOG: %s", strerror(e));
		return -e;
	}
	/* Nothing is cleared here: the VMM's bits and (without manual
	 * protection) what KVM reported stay set until dirty_log_clear. */
	uint64_t *vmm = d->vmm_bits[region], *kept = d->kvm_bits[region];
	for (uint64_t w = 0; w < words; w++) {
		if (kept)
			tmp[w] = __atomic_or_fetch(&kept[w], tmp[w], __ATOMIC_ACQ_REL);
		bitmap[w] |= tmp[w] | __atomic_load_n(&vmm[w], __ATOMIC_ACQUIRE);
	}
	free(tmp);
	return 0;
}

/* Clears the software-kept bits of pages first..first+n that are set in bits. */
static void clear_kept(struct dirty_log *d, unsigned region, uint64_t first, uint64_t n,
		       const uint64_t *bits)
{
	for (uint64_t w = 0; w < vmig_bitmap_words(n); w++) {
		uint64_t m = bits[w];
		if (n - w * 64 < 64)
			m &= (1ull << (n - w * 64)) - 1;
		__atomic_fetch_and(&d->vmm_bits[region][first / 64 + w], ~m, __ATOMIC_ACQ_REL);
		if (d->kvm_bits[region]) /* atomic: ring walks OR bits in meanwhile */
			__atomic_fetch_and(&d->kvm_bits[region][first / 64 + w], ~m, __ATOMIC_ACQ_REL);
	}
}

int dirty_log_clear(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		    unsigned region, uint64_t first_page, uint64_t npages, const uint64_t *bits,
		    char *err, size_t errlen)
{
	if (!npages)
		return 0;
	uint64_t pages = region_pages(mem, region);
	if (first_page % 64 || first_page >= pages || npages > pages - first_page ||
	    (npages % 64 && first_page + npages != pages)) {
		snprintf(err, errlen, "bad dirty-log clear range %llu+%llu",
			 (unsigned long long)first_page, (unsigned long long)npages);
		return -EINVAL;
	}
	clear_kept(d, region, first_page, npages, bits);
	/* Without manual protection KVM_GET_DIRTY_LOG already re-protected;
	 * the ring's reset did at collection. */
	if (!d->manual)
		return 0;
	struct kvm_clear_dirty_log c = {
		.slot = mem->regions[region].slot,
		.num_pages = (uint32_t)npages,
		.first_page = first_page,
		.dirty_bitmap = (void *)bits,
	};
	if (ioctl(k->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) < 0) {
		int e = errno;
		snprintf(err, errlen, "KVM_CLEAR_DIRTY_LOG: %s", strerror(e));
		return -e;
	}
	return 0;
}

void dirty_log_mark(struct dirty_log *d, const struct guest_memory *mem, uint64_t gpa,
		    uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		if (!d->vmm_bits[i] || gpa < r->gpa || gpa >= r->gpa + r->size)
			continue;
		uint64_t first = (gpa - r->gpa) / GUEST_PAGE_SIZE;
		uint64_t last = (gpa - r->gpa + (len ? len - 1 : 0)) / GUEST_PAGE_SIZE;
		for (uint64_t p = first; p <= last && p < r->size / GUEST_PAGE_SIZE; p++)
			__atomic_fetch_or(&d->vmm_bits[i][p / 64], 1ull << (p % 64), __ATOMIC_RELEASE);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one memfd (so it can later be shared or sent), mapped once in
 * the VMM, exposed to KVM as one or two slots. RAM above 3 GiB is placed at
 * 4 GiB so the LAPIC/IOAPIC window below 4 GiB stays free, as on a PC.
 */
#ifndef VMIG_VMM_MEMORY_H
#define VMIG_VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE_SIZE 4096ull
#define GUEST_LOW_RAM_MAX (3ull << 30)
#define GUEST_HIGH_RAM_BASE (4ull << 30)
#define GUEST_MAX_REGIONS 2

struct mem_region {
	uint64_t gpa;      /* guest-physical start */
	uint64_t size;     /* bytes, page multiple */
	uint64_t offset;   /* offset in the memfd and in host mapping */
	uint32_t slot;     /* KVM memory slot */
};

struct guest_memory {
	int memfd;
	uint8_t *host;     /* whole memfd mapped MAP_SHARED */
	uint64_t size;     /* total RAM bytes */
	unsigned nr_regions;
	struct mem_region regions[GUEST_MAX_REGIONS];
	bool thp;          /* MADV_HUGEPAGE accepted */
};

int guest_memory_init(struct guest_memory *mem, uint64_t size, char *err, size_t errlen);
void guest_memory_destroy(struct guest_memory *mem);

/* Host pointer for [gpa, gpa+len) if it lies inside one region, else NULL. */
void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* Top of guest-physical address space used by RAM (exclusive). */
uint64_t guest_memory_top(const struct guest_memory *mem);

#endif

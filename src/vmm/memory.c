/* SPDX-License-Identifier: MIT */
#include "vmm/memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_memory_init(struct guest_memory *mem, uint64_t size, char *err, size_t errlen)
{
	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	if (size == 0 || size % (2ull << 20)) {
		snprintf(err, errlen, "guest memory size must be a non-zero multiple of 2 MiB");
		return -EINVAL;
	}
	mem->memfd = memfd_create("vmig-guest-ram", MFD_CLOEXEC);
	if (mem->memfd < 0) {
		int e = errno;
		snprintf(err, errlen, "memfd_create: %s", strerror(e));
		return -e;
	}
	if (ftruncate(mem->memfd, (off_t)size) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot size guest RAM to %llu bytes: %s",
			 (unsigned long long)size, strerror(e));
		close(mem->memfd);
		mem->memfd = -1;
		return -e;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		       mem->memfd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		snprintf(err, errlen, "cannot map %llu bytes of guest RAM: %s",
			 (unsigned long long)size, strerror(e));
		close(mem->memfd);
		mem->memfd = -1;
		return -e;
	}
	mem->host = p;
	mem->size = size;
	/* Huge pages cut TLB and EPT cost; shmem honours this only when the host
	 * allows it (shmem_enabled=advise), so failure is not an error. */
	mem->thp = madvise(p, size, MADV_HUGEPAGE) == 0;

	uint64_t low = size < GUEST_LOW_RAM_MAX ? size : GUEST_LOW_RAM_MAX;
	mem->regions[0] = (struct mem_region){.gpa = 0, .size = low, .offset = 0, .slot = 0};
	mem->nr_regions = 1;
	if (size > low) {
		mem->regions[1] = (struct mem_region){
			.gpa = GUEST_HIGH_RAM_BASE, .size = size - low, .offset = low, .slot = 1};
		mem->nr_regions = 2;
	}
	return 0;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	mem->host = NULL;
	mem->memfd = -1;
}

void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return mem->host + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_memory_top(const struct guest_memory *mem)
{
	const struct mem_region *r = &mem->regions[mem->nr_regions - 1];
	return r->gpa + r->size;
}

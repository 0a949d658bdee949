/* SPDX-License-Identifier: MIT */
#include "vmm/modules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_abi.h"

#define MODULE_ADDR_LIMIT (1ull << 32) /* mod_start/mod_end are 32-bit */

static uint64_t page_up(uint64_t v)
{
	return (v + GUEST_PAGE_SIZE - 1) & ~(GUEST_PAGE_SIZE - 1);
}

int module_layout(const struct module_layout_req *req, struct module_place *out, uint64_t *top,
		  char *err, size_t errlen)
{
	uint64_t at = page_up(req->image_end), names = 0;
	uint64_t limit = req->ram_end < MODULE_ADDR_LIMIT ? req->ram_end : MODULE_ADDR_LIMIT;

	if (req->count > VMIG_MAX_MODULES) {
		snprintf(err, errlen, "%u modules given; at most %d", req->count, VMIG_MAX_MODULES);
		return -E2BIG;
	}
	for (unsigned i = 0; i < req->count; i++) {
		if (req->name_lens[i] >= VMIG_MODNAMES_SIZE - names) {
			snprintf(err, errlen, "module names take more than %d bytes", VMIG_MODNAMES_SIZE);
			return -E2BIG;
		}
		out[i].string = VMIG_DIRECT_MODNAMES + names;
		names += req->name_lens[i] + 1;
		/* Compared as room left, so huge sizes cannot wrap around. */
		if (at > limit || req->sizes[i] > limit - at) {
			uint64_t need = at - page_up(req->image_end);
			for (unsigned j = i; j < req->count; j++) {
				/* saturating: only the message needs the sum */
				uint64_t s = req->sizes[j] > (UINT64_MAX >> 1) ? UINT64_MAX >> 1
									: page_up(req->sizes[j]);
				need = need > UINT64_MAX - s ? UINT64_MAX : need + s;
			}
			snprintf(err, errlen,
				 "the modules do not fit in guest RAM: they need %llu MiB from 0x%llx "
				 "(above the guest image), RAM there ends at 0x%llx",
				 (unsigned long long)((need >> 20) + !!(need & ((1 << 20) - 1))),
				 (unsigned long long)page_up(req->image_end), (unsigned long long)limit);
			return -E2BIG;
		}
		out[i].start = at;
		out[i].end = at + req->sizes[i];
		at = page_up(out[i].end);
	}
	*top = at;
	return 0;
}

/* The RAM region that holds gpa, as the layout's ram_end; 0 if none. */
static uint64_t region_end(const struct guest_memory *mem, uint64_t gpa)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size)
			return r->gpa + r->size;
	}
	return 0;
}

static int plan(const struct boot_modules *mods, uint64_t image_end, uint64_t ram_end,
		struct module_place *out, char *err, size_t errlen)
{
	uint64_t sizes[VMIG_MAX_MODULES], lens[VMIG_MAX_MODULES], top;
	unsigned n = mods->count < VMIG_MAX_MODULES ? mods->count : VMIG_MAX_MODULES;

	for (unsigned i = 0; i < n; i++) {
		sizes[i] = mods->m[i].size;
		lens[i] = strlen(mods->m[i].name);
	}
	struct module_layout_req req = {image_end, ram_end, mods->count, sizes, lens};
	return module_layout(&req, out, &top, err, errlen);
}

int boot_modules_precheck(const struct boot_modules *mods, uint64_t mem_bytes, char *err,
			  size_t errlen)
{
	struct module_place out[VMIG_MAX_MODULES];
	uint64_t low = mem_bytes < GUEST_LOW_RAM_MAX ? mem_bytes : GUEST_LOW_RAM_MAX;
	return plan(mods, VMIG_GUEST_LOAD_ADDR, low, out, err, errlen);
}

int boot_modules_load(const struct boot_modules *mods, struct guest_memory *mem,
		      uint64_t image_end, uint32_t *count, uint64_t *list_gpa, char *err,
		      size_t errlen)
{
	struct module_place out[VMIG_MAX_MODULES];
	int r;

	*count = 0;
	*list_gpa = 0;
	if (!mods || !mods->count)
		return 0;
	if ((r = plan(mods, image_end, region_end(mem, image_end), out, err, errlen)))
		return r;
	struct vmig_module *list =
		guest_memory_ptr(mem, VMIG_DIRECT_MODLIST, VMIG_MAX_MODULES * sizeof(*list));
	char *names = guest_memory_ptr(mem, VMIG_DIRECT_MODNAMES, VMIG_MODNAMES_SIZE);
	if (!list || !names) {
		snprintf(err, errlen, "guest RAM has no room for the module list");
		return -EINVAL;
	}
	memset(list, 0, VMIG_MAX_MODULES * sizeof(*list));
	memset(names, 0, VMIG_MODNAMES_SIZE);
	for (unsigned i = 0; i < mods->count; i++) {
		const struct boot_module *m = &mods->m[i];
		/* The whole last page, so its tail is zero whatever was there. */
		uint64_t span = page_up(m->size);
		uint8_t *dst = guest_memory_ptr(mem, out[i].start, span ? span : 1);
		if (!dst) {
			snprintf(err, errlen, "module '%s' at 0x%llx is outside guest RAM", m->name,
				 (unsigned long long)out[i].start);
			return -EINVAL;
		}
		if ((r = boot_module_read_into(m, dst, err, errlen)))
			return r;
		strcpy(names + (out[i].string - VMIG_DIRECT_MODNAMES), m->name);
		list[i] = (struct vmig_module){(uint32_t)out[i].start, (uint32_t)out[i].end,
					       (uint32_t)out[i].string, 0};
	}
	*count = mods->count;
	*list_gpa = VMIG_DIRECT_MODLIST;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Boot modules in the guest double's RAM: see modules_ram.h. */
#include "modules_ram.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ramhash.h"

static uint64_t pages_of(uint64_t bytes)
{
	return (bytes + VMIG_PAGE_SIZE - 1) / VMIG_PAGE_SIZE;
}

uint64_t modules_ram_pages(const struct boot_modules *mods)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < mods->count; i++)
		n += pages_of(mods->m[i].size);
	return n;
}

int modules_ram_load(struct guest_double *g, uint64_t first, const struct boot_modules *mods,
		     struct module_span *span, char *err, size_t errlen)
{
	uint64_t need = modules_ram_pages(mods);
	if (first > g->pages || need > g->pages - first) {
		snprintf(err, errlen, "the modules take %llu MiB; the guest's RAM has %llu MiB left "
			 "after its working set",
			 (unsigned long long)(need * VMIG_PAGE_SIZE >> 20),
			 (unsigned long long)((first > g->pages ? 0 : g->pages - first) *
					      VMIG_PAGE_SIZE >> 20));
		return -E2BIG;
	}
	uint64_t at = first;
	for (unsigned i = 0; i < mods->count; i++) {
		const struct boot_module *m = &mods->m[i];
		/* the last page's tail zeroed too, whatever the fill left there */
		int r = boot_module_read_into(m, gd_page(g, at), err, errlen);
		if (r)
			return r;
		at += pages_of(m->size);
	}
	*span = (struct module_span){.first = first, .pages = need};
	span->hash = modules_ram_hash(g, span);
	return 0;
}

uint64_t modules_ram_hash(const struct guest_double *g, const struct module_span *span)
{
	return ramhash_all(gd_page(g, span->first), span->pages);
}

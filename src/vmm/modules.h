/* SPDX-License-Identifier: MIT */
/*
 * Boot modules: files `vmig run --module a,b` puts into guest RAM the way
 * QEMU's `-kernel K -initrd "a,b"` does for a multiboot kernel, each one
 * page aligned right above the guest image, with a module list (struct
 * vmig_module, the multiboot v1 layout) that both boot paths hand over.
 *
 * Placement is a pure function (module_layout) so it is tested without
 * KVM; opening (module_files.h) and loading are the two steps around it.
 */
#ifndef VMIG_VMM_MODULES_H
#define VMIG_VMM_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"
#include "vmm/module_files.h"

struct module_layout_req {
	uint64_t image_end;        /* first gpa after the guest image, bss included */
	uint64_t ram_end;          /* end of the RAM region holding the image */
	unsigned count;
	const uint64_t *sizes;     /* bytes of each module */
	const uint64_t *name_lens; /* strlen of each module's name */
};

struct module_place {
	uint64_t start;  /* page aligned */
	uint64_t end;    /* start + size */
	uint64_t string; /* gpa of the name, in VMIG_DIRECT_MODNAMES */
};

/* Places the modules one after the other, each page aligned, from the
 * first page at or above image_end; *top gets the page-aligned end of the
 * last (image_end rounded up when there are none). 0, or -E2BIG/-EINVAL
 * with the reason in err: too many modules, names too long, or a set that
 * does not fit below ram_end (or below 4 GiB, the list's 32-bit limit). */
int module_layout(const struct module_layout_req *req, struct module_place *out, uint64_t *top,
		  char *err, size_t errlen);

/* Lays the modules out above image_end, reads their bytes straight into
 * guest RAM, and writes the module list at VMIG_DIRECT_MODLIST and the
 * names at VMIG_DIRECT_MODNAMES. *list_gpa is 0 when there are no modules (nothing is written then). */
int boot_modules_load(const struct boot_modules *mods, struct guest_memory *mem,
		      uint64_t image_end, uint32_t *count, uint64_t *list_gpa, char *err,
		      size_t errlen);

/* Before anything is allocated: can the set fit at all in `mem_bytes` of
 * guest RAM (its low region, above the image's load address)? The exact
 * check, against the loaded image's end, is boot_modules_load's. */
int boot_modules_precheck(const struct boot_modules *mods, uint64_t mem_bytes, char *err,
			  size_t errlen);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Real content for the guest double: the files of `--module a,b` laid
 * into its RAM as vmig run lays boot modules into a guest's (each one page
 * aligned, its last page zero-padded, one after the other), so that
 * `fill=modules` runs on the engine with the content sets of
 * bench/content/. Nothing of the workload writes them; their hash goes
 * with the guest's state, and the destination checks that the module
 * pages arrived as they left, as guestload's module check does.
 */
#ifndef VMIG_ENGINESIM_MODULES_RAM_H
#define VMIG_ENGINESIM_MODULES_RAM_H

#include <stddef.h>
#include <stdint.h>

#include "guest_double.h"
#include "vmm/module_files.h"

struct module_span {
	uint64_t first, pages; /* linear page indexes of the double's RAM */
	uint64_t hash;         /* of those pages, as laid */
};

/* Pages the files take, each rounded up to whole pages. */
uint64_t modules_ram_pages(const struct boot_modules *mods);

/* Reads the files from page `first` on, straight into the RAM: 0, or
 * -E2BIG with err when they do not fit in the RAM left (-errno when a
 * file cannot be read). *span says where they are, with their hash. */
int modules_ram_load(struct guest_double *g, uint64_t first, const struct boot_modules *mods,
		     struct module_span *span, char *err, size_t errlen);

/* The hash of span's pages as they are now. */
uint64_t modules_ram_hash(const struct guest_double *g, const struct module_span *span);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * fill=modules: the boot modules (files the loader put in RAM: `vmig run
 * --module`, QEMU's -initrd "a,b") are the guest's static content, real
 * bytes instead of generated ones. They stay where the loader put them,
 * right above the image; owned RAM starts above the last one, so nothing
 * guestload writes (metadata, working set) lands on them. A hash of every
 * module page, taken once after boot, is compared later by the background
 * sweep and at the end of a time= run: a page that lost its bytes in a
 * migration is counted as an error.
 */
#ifndef GUESTLOAD_MODULES_H
#define GUESTLOAD_MODULES_H

#include <stdint.h>

#include "guest_abi.h"

struct module_pages {
	unsigned count;
	struct vmig_module list[VMIG_MAX_MODULES]; /* copied: the loader's copy may be in owned RAM */
	uint64_t first[VMIG_MAX_MODULES + 1];      /* module page index of each one's first page */
	uint64_t pages;     /* module pages in all (first[count]) */
	uint64_t end;       /* page-aligned end of the highest module, 0 if none */
	uint64_t *hash;     /* hash[module page], taken at load (owned metadata) */
	uint64_t bad;       /* pages found changed, ever (atomic) */
};

/* Copies the boot info's module list. 0, or -1 with *why set when a
 * module ends before it starts or overlaps the image. */
int modules_init(struct module_pages *M, const struct vmig_boot_info *bi, uint64_t image_end,
		 const char **why);

/* Module page i: its gpa (page aligned) and the bytes [*at, *at + *len)
 * of it the module holds (a module need not end on a page boundary). */
uint64_t modules_page(const struct module_pages *M, uint64_t i, uint64_t *at, unsigned *len);

/* Takes the hashes of pages [lo, hi). */
void modules_hash_range(struct module_pages *M, uint64_t lo, uint64_t hi);

/* 0 if page i still holds its bytes (and for an i past the last module
 * page, or before the hashes are taken). Else 1 for the one caller that
 * notices first (the page's hash becomes its current one, so a changed
 * page counts once), 2 for a caller that lost that race. */
int modules_check_page(struct module_pages *M, uint64_t i);

/* Debug aid (modcorrupt=): flips one byte of page i. */
void modules_corrupt_page(struct module_pages *M, uint64_t i);

#endif

/* SPDX-License-Identifier: MIT */
/* ELF32/ELF64 x86 executable loading into guest RAM (by physical address). */
#ifndef VMIG_VMM_ELF_H
#define VMIG_VMM_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

struct guest_image {
	uint8_t *data;       /* whole file */
	size_t size;
};

struct elf_loaded {
	int elf_class;       /* 32 or 64 */
	uint64_t entry;
	uint64_t lowest;     /* lowest loaded gpa */
	uint64_t highest;    /* first gpa after the last segment incl. bss */
};

/* Reads the whole file (max 64 MiB). Clear message on failure. */
int guest_image_read(const char *path, struct guest_image *img, char *err, size_t errlen);
void guest_image_free(struct guest_image *img);

/*
 * Validates the ELF (every offset and size checked against the file and
 * guest RAM, loads only at or above min_gpa) and copies PT_LOAD segments
 * into guest RAM at p_paddr, zero-filling bss.
 */
int elf_load(const struct guest_image *img, struct guest_memory *mem, uint64_t min_gpa,
	     struct elf_loaded *out, char *err, size_t errlen);

#endif

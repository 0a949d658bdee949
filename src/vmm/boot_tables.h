/* SPDX-License-Identifier: MIT */
/*
 * A copy of the tables direct entry builds in guest RAM (boot_direct.c:
 * GDT, IDT, TSSs, I/O bitmap, page tables), kept at boot so that a guest
 * crash can say whether they are still as built. A triple fault with them
 * intact means the CPU's view of memory failed, not the memory (seen under
 * nested emulation); one with them changed means something wrote them: a
 * guest bug (a stray write over the page tables once looked just like
 * this, guest/worker.c) or a VMM bug.
 *
 * What the CPU itself writes there is left out of the comparison: the
 * accessed and dirty bits of page-table entries, and the accessed and busy
 * bits of GDT descriptors.
 */
#ifndef VMIG_VMM_BOOT_TABLES_H
#define VMIG_VMM_BOOT_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

struct boot_tables_copy {
	uint8_t *sys;       /* VMIG_DIRECT_GDT up to the end of the I/O bitmap */
	uint8_t *pt;        /* VMIG_DIRECT_PGTABLE, pt_len bytes */
	uint64_t pt_len;
};

/* Copies the tables as built; 0 or -ENOMEM (c is then empty). */
int boot_tables_keep(const struct guest_memory *mem, struct boot_tables_copy *c);
/* Says in out whether the tables are as kept: "as built", or which table
 * changed first and where. An empty copy says nothing (out = ""). */
void boot_tables_compare(const struct guest_memory *mem, const struct boot_tables_copy *c,
			 char *out, size_t outlen);
void boot_tables_free(struct boot_tables_copy *c);

/* Bytes of page tables direct entry builds for this RAM (boot_direct.c). */
uint64_t boot_direct_pgtable_bytes(const struct guest_memory *mem);

#endif

/* SPDX-License-Identifier: MIT */
#include "vmm/boot_tables.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_abi.h"
#include "vmm/x86_defs.h"

#define SYS_START VMIG_DIRECT_GDT
#define SYS_END (VMIG_DIRECT_IOBITMAP + IOBITMAP_BYTES + 1)
#define PTE_ACCESSED_DIRTY ((1ull << 5) | (1ull << 6))
#define DESC_ACCESSED_BUSY ((1ull << 40) | (1ull << 41))

int boot_tables_keep(const struct guest_memory *mem, struct boot_tables_copy *c)
{
	memset(c, 0, sizeof(*c));
	uint64_t pt_len = boot_direct_pgtable_bytes(mem);
	const void *sys = guest_memory_ptr(mem, SYS_START, SYS_END - SYS_START);
	const void *pt = guest_memory_ptr(mem, VMIG_DIRECT_PGTABLE, pt_len);
	if (!sys || !pt)
		return 0; /* RAM too small for direct entry: nothing was built */
	c->sys = malloc(SYS_END - SYS_START);
	c->pt = malloc(pt_len);
	if (!c->sys || !c->pt) {
		boot_tables_free(c);
		return -ENOMEM;
	}
	memcpy(c->sys, sys, SYS_END - SYS_START);
	memcpy(c->pt, pt, pt_len);
	c->pt_len = pt_len;
	return 0;
}

/* Offset of the first 8-byte word that differs outside ignore, or -1. */
static int64_t first_change(const uint8_t *now, const uint8_t *kept, uint64_t len,
			    uint64_t ignore)
{
	for (uint64_t off = 0; off + 8 <= len; off += 8) {
		uint64_t a, b;
		memcpy(&a, now + off, 8);
		memcpy(&b, kept + off, 8);
		if ((a ^ b) & ~ignore)
			return (int64_t)off;
	}
	for (uint64_t off = len & ~7ull; off < len; off++)
		if (now[off] != kept[off])
			return (int64_t)off;
	return -1;
}

static const char *sys_table_at(uint64_t gpa)
{
	if (gpa < VMIG_DIRECT_IDT)
		return "GDT";
	if (gpa < VMIG_DIRECT_TSS)
		return "IDT";
	return gpa < VMIG_DIRECT_IOBITMAP ? "TSS" : "I/O bitmap";
}

void boot_tables_compare(const struct guest_memory *mem, const struct boot_tables_copy *c,
			 char *out, size_t outlen)
{
	*out = '\0';
	if (!c->sys)
		return;
	const uint8_t *sys = guest_memory_ptr(mem, SYS_START, SYS_END - SYS_START);
	const uint8_t *pt = guest_memory_ptr(mem, VMIG_DIRECT_PGTABLE, c->pt_len);
	uint64_t gdt_len = VMIG_DIRECT_IDT - VMIG_DIRECT_GDT;
	int64_t off = first_change(sys, c->sys, gdt_len, DESC_ACCESSED_BUSY);
	if (off < 0) {
		off = first_change(sys + gdt_len, c->sys + gdt_len, SYS_END - SYS_START - gdt_len, 0);
		if (off >= 0)
			off += (int64_t)gdt_len;
	}
	if (off >= 0) {
		uint64_t gpa = SYS_START + (uint64_t)off;
		snprintf(out, outlen, "the %s built at boot has changed (at 0x%llx)", sys_table_at(gpa),
			 (unsigned long long)gpa);
		return;
	}
	off = first_change(pt, c->pt, c->pt_len, PTE_ACCESSED_DIRTY);
	if (off >= 0)
		snprintf(out, outlen, "the page tables built at boot have changed (at 0x%llx)",
			 (unsigned long long)(VMIG_DIRECT_PGTABLE + (uint64_t)off));
	else
		snprintf(out, outlen, "the page tables, GDT, IDT and TSS built at boot are intact");
}

void boot_tables_free(struct boot_tables_copy *c)
{
	free(c->sys);
	free(c->pt);
	memset(c, 0, sizeof(*c));
}

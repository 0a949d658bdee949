/* SPDX-License-Identifier: MIT */
/*
 * The boot-tables copy a crash report compares against (vmm/boot_tables.h):
 * what the CPU sets itself is not a change, anything else is, named by
 * table and address. Guest RAM is a plain memfd: no KVM is needed.
 */
#include <stdint.h>
#include <string.h>

#include "unittest.h"
#include "guest_abi.h"
#include "vmm/boot_tables.h"

#define RAM (64ull << 20)

struct fixture {
	struct guest_memory mem;
	struct boot_tables_copy copy;
	char said[128];
};

/* Tables with something in them (the real ones come from boot_direct.c),
 * kept as built. */
static int set_up(struct fixture *f)
{
	char err[128];
	memset(f, 0, sizeof(*f));
	if (guest_memory_init(&f->mem, RAM, err, sizeof(err)))
		return -1;
	uint64_t *gdt = guest_memory_ptr(&f->mem, VMIG_DIRECT_GDT, 0x1000);
	uint64_t *idt = guest_memory_ptr(&f->mem, VMIG_DIRECT_IDT, 0x1000);
	uint64_t *pt = guest_memory_ptr(&f->mem, VMIG_DIRECT_PGTABLE,
					boot_direct_pgtable_bytes(&f->mem));
	gdt[1] = 0x00af9a000000ffffull; /* 64-bit code, accessed bit clear */
	idt[2] = 0x00008e0000101000ull;
	pt[0] = (VMIG_DIRECT_PGTABLE + 0x1000) | 0x7;
	pt[0x2000 / 8 + 1] = (1ull << 21) | 0x87; /* a 2 MiB page, A and D clear */
	return boot_tables_keep(&f->mem, &f->copy);
}

static const char *compare(struct fixture *f)
{
	boot_tables_compare(&f->mem, &f->copy, f->said, sizeof(f->said));
	return f->said;
}

static void tear_down(struct fixture *f)
{
	boot_tables_free(&f->copy);
	guest_memory_destroy(&f->mem);
}

TEST(tables_as_built_are_intact)
{
	struct fixture f;
	CHECK(set_up(&f) == 0);
	CHECK_STR(compare(&f), "the page tables, GDT, IDT and TSS built at boot are intact");
	tear_down(&f);
}

TEST(accessed_and_dirty_bits_the_cpu_sets_are_not_a_change)
{
	struct fixture f;
	CHECK(set_up(&f) == 0);
	uint64_t *pd = guest_memory_ptr(&f.mem, VMIG_DIRECT_PGTABLE + 0x2000, 0x1000);
	uint64_t *gdt = guest_memory_ptr(&f.mem, VMIG_DIRECT_GDT, 0x1000);
	pd[1] |= (1ull << 5) | (1ull << 6);
	gdt[1] |= 1ull << 40;
	CHECK_STR(compare(&f), "the page tables, GDT, IDT and TSS built at boot are intact");
	tear_down(&f);
}

TEST(a_page_table_entry_overwritten_is_named_with_its_address)
{
	struct fixture f;
	CHECK(set_up(&f) == 0);
	uint64_t *pd = guest_memory_ptr(&f.mem, VMIG_DIRECT_PGTABLE + 0x2000, 0x1000);
	pd[1] = 0;
	CHECK_STR(compare(&f), "the page tables built at boot have changed (at 0x12008)");
	tear_down(&f);
}

TEST(an_idt_gate_overwritten_is_named_before_the_page_tables)
{
	struct fixture f;
	CHECK(set_up(&f) == 0);
	uint64_t *idt = guest_memory_ptr(&f.mem, VMIG_DIRECT_IDT, 0x1000);
	uint64_t *pt = guest_memory_ptr(&f.mem, VMIG_DIRECT_PGTABLE, 0x1000);
	idt[2] = 0x1234;
	pt[0] = 0;
	CHECK_STR(compare(&f), "the IDT built at boot has changed (at 0x2010)");
	tear_down(&f);
}

TEST(nothing_kept_says_nothing)
{
	struct fixture f;
	CHECK(set_up(&f) == 0);
	boot_tables_free(&f.copy);
	CHECK_STR(compare(&f), "");
	tear_down(&f);
}

RUN_TESTS("boot_tables", UT(tables_as_built_are_intact),
	  UT(accessed_and_dirty_bits_the_cpu_sets_are_not_a_change),
	  UT(a_page_table_entry_overwritten_is_named_with_its_address),
	  UT(an_idt_gate_overwritten_is_named_before_the_page_tables),
	  UT(nothing_kept_says_nothing))

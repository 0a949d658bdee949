/* SPDX-License-Identifier: MIT */
/*
 * The direct-entry boot header (guest_abi.h) and the stacks it points to.
 * link.ld puts section .vmigboot right after the multiboot header, so the
 * VMM finds it within the file's first 8 KiB.
 */
#include "abi_asm.h"
#include "guest.h"

#define USTACK_SIZE 16384
#define KSTACK_SIZE 4096

_Static_assert(ASM_HALT_VECTOR == VMIG_HALT_VECTOR, "abi_asm.h is out of date");
_Static_assert(ASM_PORT_EXIT == VMIG_PORT_EXIT, "abi_asm.h is out of date");

static uint8_t ustacks[VMIG_MAX_VCPUS][USTACK_SIZE] __attribute__((aligned(4096)));
static uint8_t kstacks[VMIG_MAX_VCPUS][KSTACK_SIZE] __attribute__((aligned(4096)));

extern const uint64_t isr_table[VMIG_NR_ISR]; /* isr.S */
extern const char guest_entry64[];             /* entry.S */

__attribute__((section(".vmigboot"), used, aligned(8)))
const struct vmig_boot_header guest_boot_header = {
	.magic = VMIG_BOOT_HEADER_MAGIC,
	.version = VMIG_ABI_VERSION,
	.size = sizeof(struct vmig_boot_header),
	.entry64 = (uint64_t)(uintptr_t)guest_entry64,
	.isr_table = (uint64_t)(uintptr_t)isr_table,
	.ustack_base = (uint64_t)(uintptr_t)ustacks,
	.ustack_size = USTACK_SIZE,
	.kstack_base = (uint64_t)(uintptr_t)kstacks,
	.kstack_size = KSTACK_SIZE,
	.max_vcpus = VMIG_MAX_VCPUS,
	.image_end = (uint64_t)(uintptr_t)__image_end,
};

/* SPDX-License-Identifier: MIT */
/*
 * Guest entry. Two paths (see guest/abi/guest_abi.h):
 *  - direct: the VMM lays out page tables, GDT, IDT and per-vCPU TSS and
 *    starts every vCPU in 64-bit ring 3; no emulated boot code runs at all.
 *  - multiboot v1: the VMM loads the ELF and multiboot info and starts the
 *    BSP in 32-bit protected mode, as a multiboot loader (QEMU -kernel) does.
 */
#ifndef VMIG_VMM_BOOT_H
#define VMIG_VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "guest_abi.h"
#include "vmm/elf.h"
#include "vmm/memory.h"
#include "vmm/modules.h"

enum boot_mode { BOOT_AUTO, BOOT_DIRECT, BOOT_MULTIBOOT };

struct boot_plan {
	enum boot_mode mode;
	uint64_t entry;          /* first instruction */
	unsigned nr_vcpus;       /* vCPUs the VM has */
	unsigned started_vcpus;  /* vCPUs made runnable at boot (multiboot: 1) */
	struct vmig_boot_header hdr; /* direct: copied from the image */
	uint64_t mbinfo_gpa;     /* multiboot: info structure */
};

struct boot_args {
	const char *cmdline;     /* guest arguments, may be NULL */
	unsigned nr_vcpus;
	uint64_t tsc_khz;        /* 0 if unknown */
	const struct boot_modules *modules; /* may be NULL: none */
};

/* Finds and validates the direct-entry header; 0, -ENOENT if absent, -EINVAL if bad. */
int boot_direct_find_header(const struct guest_image *img, struct vmig_boot_header *hdr,
			    char *err, size_t errlen);

int boot_direct_prepare(const struct guest_image *img, struct guest_memory *mem,
			const struct boot_args *args, struct boot_plan *plan, char *err,
			size_t errlen);

int boot_multiboot_prepare(const struct guest_image *img, struct guest_memory *mem,
			   const struct boot_args *args, struct boot_plan *plan, char *err,
			   size_t errlen);

/* Sets the vCPU's registers for the plan (x86_setup.c). */
int x86_setup_vcpu(int vcpu_fd, const struct boot_plan *plan, unsigned index, char *err,
		   size_t errlen);

#endif

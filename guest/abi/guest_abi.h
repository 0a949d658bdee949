/* SPDX-License-Identifier: MIT */
/*
 * The contract between the vmig VMM and guestload, the workload guest.
 *
 * Shared by both sides, so it uses only fixed-width types and no libc.
 * Everything here is a guest-physical address (gpa); guestload runs
 * identity-mapped, so a gpa is also a guest-virtual address.
 *
 * Two ways into the guest:
 *  - multiboot v1: the image is an ELF32 with a multiboot header; the
 *    guest's own 32-bit stub enters long mode, builds its GDT/IDT/TSS and
 *    drops to ring 3 (this is how QEMU's -kernel runs it).
 *  - direct 64-bit: the VMM finds struct vmig_boot_header in the first
 *    8 KiB of the image file, builds page tables, GDT, IDT and TSS itself
 *    and starts every vCPU in 64-bit ring 3 at entry64 with IOPL=3.
 * Either way the ring-3 entry sees the same struct vmig_boot_info.
 */
#ifndef VMIG_GUEST_ABI_H
#define VMIG_GUEST_ABI_H

#include <stdint.h>

#define VMIG_BOOT_HEADER_MAGIC 0x544f4f4247494d56ull /* "VMIGBOOT" */
#define VMIG_BOOT_INFO_MAGIC 0x4f464e4947494d56ull   /* "VMIGINFO" */
#define VMIG_ABI_VERSION 1

/* Exception vectors 0..31 plus the "halt" software-interrupt gate. */
#define VMIG_HALT_VECTOR 0x81
#define VMIG_NR_ISR 33 /* isr_table[0..31] = vectors 0..31, [32] = halt */

#define VMIG_MAX_VCPUS 64
#define VMIG_MAX_MEM_RANGES 8
#define VMIG_MAX_MODULES 64 /* the module list's room at VMIG_DIRECT_MODLIST */

/* Ports (all accesses 32-bit unless said otherwise). */
#define VMIG_PORT_SERIAL 0x3f8    /* 8250 UART, COM1, 8-bit */
#define VMIG_PORT_HEARTBEAT 0x4e0 /* out: heartbeat counter, ~every 1 ms */
#define VMIG_PORT_EXIT 0x4e4      /* out: exit code; the VM ends */
/* in: the host's check-request count; guestload (fill=modules) checks its
 * module pages when it changes (it reads it once a second). A port no
 * device answers reads as all ones and never changes. */
#define VMIG_PORT_REQUEST 0x4e8

/* Lives in the image, 8-byte aligned, within the first 8 KiB of the file. */
struct vmig_boot_header {
	uint64_t magic;   /* VMIG_BOOT_HEADER_MAGIC */
	uint32_t version; /* VMIG_ABI_VERSION */
	uint32_t size;    /* sizeof(struct vmig_boot_header) */
	uint64_t entry64; /* ring-3 entry: void entry(struct vmig_boot_info *, uint64_t vcpu) */
	uint64_t isr_table;  /* gpa of uint64_t[VMIG_NR_ISR]: ring-0 handler addresses */
	uint64_t ustack_base; /* ring-3 stacks: vCPU i uses [base + i*size, base + (i+1)*size) */
	uint64_t ustack_size;
	uint64_t kstack_base; /* ring-0 (TSS.RSP0) stacks, same layout */
	uint64_t kstack_size;
	uint32_t max_vcpus;   /* stacks exist for this many vCPUs */
	uint32_t reserved;
	uint64_t image_end;   /* first gpa after the image including .bss */
};

struct vmig_mem_range {
	uint64_t base;
	uint64_t len;
};

/*
 * One boot module (a file the loader put in guest RAM: `vmig run --module`,
 * QEMU's -initrd "a,b"), laid out as a multiboot v1 module entry so both
 * boot paths share it. [mod_start, mod_end) holds the file's bytes;
 * mod_start is page aligned; string is the gpa of its NUL-terminated name.
 */
struct vmig_module {
	uint32_t mod_start, mod_end, string, reserved;
};

/* Built by the VMM (direct entry) or by guestload's ring-0 code (multiboot). */
struct vmig_boot_info {
	uint64_t magic;   /* VMIG_BOOT_INFO_MAGIC */
	uint32_t version; /* VMIG_ABI_VERSION */
	uint32_t nr_vcpus;
	uint64_t tsc_khz; /* 0: unknown, guest calibrates with the PIT */
	uint64_t cmdline; /* gpa of NUL-terminated guest arguments, or 0 */
	uint32_t nr_mem;
	uint32_t reserved;
	struct vmig_mem_range mem[VMIG_MAX_MEM_RANGES]; /* usable RAM */
	/* Appended in the same version: a VMM that predates modules leaves
	 * them zero (the struct sits in zeroed RAM), which reads "none". */
	uint64_t mods_addr;  /* gpa of struct vmig_module[mods_count], or 0 */
	uint32_t mods_count;
	uint32_t reserved2;
};

/*
 * Fixed low-memory layout the VMM uses for direct entry (all below 1 MiB,
 * guestload's image is linked at 1 MiB and must not use these).
 */
#define VMIG_DIRECT_GDT 0x1000
#define VMIG_DIRECT_IDT 0x2000
#define VMIG_DIRECT_TSS 0x3000 /* VMIG_MAX_VCPUS * 128 bytes */
/*
 * One I/O permission bitmap (all ports allowed, 8 KiB + a 0xff byte) shared
 * by every vCPU's TSS. It is needed even with IOPL=3: the software-nested
 * KVM on the development hosts checks the bitmap for ring-3 port I/O.
 */
#define VMIG_DIRECT_IOBITMAP 0x5000
#define VMIG_DIRECT_BOOT_INFO 0x8000
#define VMIG_DIRECT_CMDLINE 0x9000 /* up to 4 KiB */
/* Module list and names, on both of vmig's boot paths (the multiboot
 * info's own structures end below 0xb000). */
#define VMIG_DIRECT_MODLIST 0xb000 /* struct vmig_module[VMIG_MAX_MODULES] */
#define VMIG_DIRECT_MODNAMES 0xc000
#define VMIG_MODNAMES_SIZE 0x4000 /* all names with their NULs */
#define VMIG_DIRECT_PGTABLE 0x10000 /* PML4, PDPTs, PDs up to 0x9f000 */

#define VMIG_GUEST_LOAD_ADDR 0x100000

#endif

/*
 * Serial lines guestload prints (the VMM and tools parse these; keep them
 * stable):
 *   guestload: layout ws_base=0x100000 ws_pages=65536 owned_base=0x... owned_pages=N vcpus=1 fill=mixed
 *   guestload: t=12s passes=340 dirty=812.3MiB/s errors=0        (once a second)
 *   guestload: ERROR page=0x... want_gen=N got_gen=N (bad header|bad checksum|stale|not zero)  (rate-limited)
 *   guestload: done t=30s passes=N errors=N                      (time= expired)
 *   guestload: modules pages=N bad=N     (fill=modules: a full module check: time= end, request)
 *   guestload: module I start=0x... bytes=N name=...             (each boot module, at boot)
 *   guestload: FATAL exception N rip=0x... err=0x...             (ring-0 handler; " cr2=0x..." added for #PF)
 * Other "guestload: " lines (tsc_khz=, filled, note:, bad argument) are
 * informational. ERROR reasons: bad header = wrong page number in the
 * header, bad checksum = corrupt, stale = intact but an older generation,
 * not zero = a never-written page is not all zeros, module changed = a
 * boot module page no longer holds its bytes (want_gen=got_gen=0). passes= counts full
 * passes over the whole working set (the slowest worker's); see
 * guest/README.md.
 */

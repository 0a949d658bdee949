/* SPDX-License-Identifier: MIT */
/* x86 architectural constants the VMM's boot code uses. */
#ifndef VMIG_VMM_X86_DEFS_H
#define VMIG_VMM_X86_DEFS_H

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_RESERVED (1ull << 1)
#define RFLAGS_IOPL3 (3ull << 12)

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_PS (1ull << 7)

/* Direct-boot GDT (descriptor values in the usual packed encoding). */
#define GDT_KCODE64 0x00af9a000000ffffull
#define GDT_KDATA 0x00cf92000000ffffull
#define GDT_UCODE32 0x00cffa000000ffffull /* placeholder, keeps SYSRET order */
#define GDT_UDATA 0x00cff2000000ffffull
#define GDT_UCODE64 0x00affa000000ffffull
#define GDT_SEL_KCODE64 0x08
#define GDT_SEL_KDATA 0x10
#define GDT_SEL_UDATA (0x20 | 3)
#define GDT_SEL_UCODE64 (0x28 | 3)
#define GDT_TSS_INDEX(vcpu) (6 + 2 * (vcpu))
#define TSS_STRIDE 128
#define TSS_LIMIT 0x67
#define IOBITMAP_BYTES 8192 /* 65536 ports, one bit each */

#include <stdint.h>
/* Limit of vCPU i's TSS, which reaches the shared I/O bitmap (boot_direct.c). */
uint32_t tss_limit(unsigned vcpu);

/* Multiboot entry GDT. */
#define GDT_CODE32 0x00cf9a000000ffffull
#define GDT_DATA32 0x00cf92000000ffffull

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The few guest_abi.h / GDT values the assembly files need (that header
 * has C declarations, so .S files cannot include it). header.c checks
 * that these agree with guest_abi.h.
 */
#ifndef GUESTLOAD_ABI_ASM_H
#define GUESTLOAD_ABI_ASM_H

#define ASM_HALT_VECTOR 0x81
#define ASM_PORT_EXIT 0x4e4

/* Multiboot-path GDT (boot32.S); the VMM uses its own on direct entry. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS 0x28

#endif

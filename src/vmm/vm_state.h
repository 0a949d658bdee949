/* SPDX-License-Identifier: MIT */
/*
 * The VMM's state blob: everything of a VM that is not RAM (x86 VM-wide and
 * vCPU state, the UART, what the VMM learnt of the guest), as migration
 * carries it from the source's VMM to the destination's.
 *
 * The destination treats the blob as hostile. Loading is two phases:
 *   1. vm_state_decode + vm_state_validate: wire bytes into plain structs,
 *      every field read at an explicit width and checked (sizes exact,
 *      counts bounded, booleans 0/1, enums and ranges, reserved bits,
 *      this host's limits). Nothing is touched yet.
 *   2. vm_state_apply: only a state that passed phase 1 reaches KVM and the
 *      devices.
 * A bad blob ends with an error naming the section and field, e.g.
 * "VM state: vCPU 0 REGS: RFLAGS 0x8 lacks bit 1 (always set)".
 *
 * Wire format (version VM_STATE_VERSION), all integers little-endian:
 *   blob    = u32 version, section*
 *   section = u32 id, u32 len, len bytes
 *     1 VM_X86   : field CLOCK, PIT2, PIC_MASTER, PIC_SLAVE, IOAPIC (this order)
 *     2 VCPU     : u32 index, field CPUID, MP_STATE, REGS, SREGS, XSAVE, XCRS,
 *                  DEBUGREGS, LAPIC, MSRS, EVENTS (this order); one per vCPU
 *     3 SERIAL   : serial_state_encode (serial.h)
 *     4 GUESTDEV : guest_progress_encode (guestdev.h)
 *   field   = u32 id, u32 len, len bytes (each KVM struct member by member;
 *             padding and reserved members are not carried)
 * Every section exactly once (VCPU once per vCPU of the VM), fields exactly
 * once and in order, every length exact. vm_state.c documents each field.
 */
#ifndef VMIG_VMM_VM_STATE_H
#define VMIG_VMM_VM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guestdev.h"
#include "vmm/serial.h"
#include "vmm/x86_state.h"

#define VM_STATE_VERSION 2

enum vm_state_section {
	VMS_SEC_VM_X86 = 1,
	VMS_SEC_VCPU = 2, /* u32 index, then the vCPU's fields */
	VMS_SEC_SERIAL = 3,
	VMS_SEC_GUESTDEV = 4,
};

enum vm_state_field {
	VMS_F_CPUID = 1,
	VMS_F_MP_STATE,
	VMS_F_REGS,
	VMS_F_SREGS,
	VMS_F_XSAVE,
	VMS_F_XCRS,
	VMS_F_DEBUGREGS,
	VMS_F_LAPIC,
	VMS_F_MSRS,
	VMS_F_EVENTS,
	VMS_F_CLOCK = 32,
	VMS_F_PIT2,
	VMS_F_PIC_MASTER,
	VMS_F_PIC_SLAVE,
	VMS_F_IOAPIC,
};

/* The decoded state: plain structs, nothing shared with a running VM. */
struct vmm_state {
	unsigned nr_vcpus;
	struct x86_vm_state vm;
	struct x86_vcpu_state *vcpus; /* nr_vcpus of them */
	struct serial_state serial;
	struct guest_progress progress;
};

/* What this host accepts. Tests fill it by hand; vm_state_limits_of asks KVM. */
struct vm_state_limits {
	uint64_t xcr0_supported; /* XCR0 / XSTATE_BV bits this host's KVM supports */
	uint32_t xsave_max;	 /* bytes of XSAVE image KVM_SET_XSAVE takes here */
	const uint32_t *msrs;	 /* MSRs this host's KVM saves and restores; */
	unsigned nr_msrs;	 /* NULL: any index (duplicates still refused) */
};

/* Allocates room for nr_vcpus vCPUs (1..VMIG_MAX_VCPUS); -EINVAL or -ENOMEM. */
int vm_state_init(struct vmm_state *st, unsigned nr_vcpus);
void vm_state_free(struct vmm_state *st);

/* The blob for st (malloc'd, the caller frees it); 0 or -ENOMEM. */
int vm_state_encode(const struct vmm_state *st, uint8_t **blob, size_t *len);

/* Phase 1a: structure. Fills st (initialised for the destination's vCPU
 * count) from the blob; 0, or -EINVAL/-EPROTONOSUPPORT with a message. */
int vm_state_decode(const uint8_t *blob, size_t len, struct vmm_state *st, char *err,
		    size_t errlen);
/* Phase 1b: values, against this host's limits; 0 or -EINVAL with a message. */
int vm_state_validate(const struct vmm_state *st, const struct vm_state_limits *lim, char *err,
		      size_t errlen);

struct vm;
/* This VM's host limits (KVM's XCR0, XSAVE size and MSR list). */
void vm_state_limits_of(struct vm *vm, struct vm_state_limits *lim);
/* Reads the paused VM's state / writes a validated state into the VM. */
int vm_state_capture(struct vm *vm, struct vmm_state *st, char *err, size_t errlen);
int vm_state_apply(struct vm *vm, const struct vmm_state *st, char *err, size_t errlen);

/* The guest interface's save_state/load_state: capture+encode, and
 * decode+validate, then apply only if all of it is valid. */
int vm_state_save(struct vm *vm, uint8_t **blob, size_t *len, char *err, size_t errlen);
int vm_state_load(struct vm *vm, const uint8_t *blob, size_t len, char *err, size_t errlen);

#endif

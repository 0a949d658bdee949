/* SPDX-License-Identifier: MIT */
/*
 * x86 vCPU and VM-wide KVM state as plain structs: the KVM get/set of each
 * piece, and nothing else. The migration format (encoding, decoding and
 * validation of these structs) lives in vm_state.c; by the time a struct
 * reaches x86_*_state_set it has been checked field by field.
 *
 * Set order is the one KVM needs (CPUID, MP state, regs, sregs, XSAVE,
 * XCRs, debug regs, LAPIC, MSRs with TSC_DEADLINE last, events; VM-wide:
 * irqchip, PIT, clock).
 */
#ifndef VMIG_VMM_X86_STATE_H
#define VMIG_VMM_X86_STATE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/kvm.h"

#define X86_MAX_CPUID 256
#define X86_MAX_MSRS 1024
/* Largest XSAVE image carried; AMX makes it 11008 bytes today. */
#define X86_XSAVE_MAX 32768
#define X86_MSR_TSC_DEADLINE 0x6e0

struct x86_vcpu_state {
	uint32_t nr_cpuid;
	struct kvm_cpuid_entry2 cpuid[X86_MAX_CPUID];
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	/* struct kvm_xsave image: xsave_len bytes as the source's KVM filled
	 * them, zero beyond (KVM_SET_XSAVE reads this host's size). */
	uint32_t xsave_len;
	uint32_t xsave[X86_XSAVE_MAX / 4];
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	uint32_t nr_msrs;
	struct kvm_msr_entry msrs[X86_MAX_MSRS];
	struct kvm_vcpu_events events;
};

struct x86_vm_state {
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	struct kvm_pic_state pic[2]; /* master, slave */
	struct kvm_ioapic_state ioapic;
};

/* Finds the MSRs this host's KVM can save and the XSAVE size (once per VM). */
int x86_msr_list_init(struct kvm_handles *k, char *err, size_t errlen);

/* XCR0 bits this host's KVM lets a guest enable (CPUID 0xD.0 EDX:EAX). */
uint64_t x86_supported_xcr0(const struct kvm_handles *k);

int x86_vcpu_state_get(struct kvm_handles *k, int vcpu_fd, struct x86_vcpu_state *st, char *err,
		       size_t errlen);
int x86_vcpu_state_set(struct kvm_handles *k, int vcpu_fd, const struct x86_vcpu_state *st,
		       char *err, size_t errlen);

int x86_vm_state_get(struct kvm_handles *k, struct x86_vm_state *st, char *err, size_t errlen);
int x86_vm_state_set(struct kvm_handles *k, const struct x86_vm_state *st, char *err,
		     size_t errlen);

#endif

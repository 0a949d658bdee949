/* SPDX-License-Identifier: MIT */
/*
 * x86 vCPU and VM-wide KVM state as byte blobs, for migration.
 * A blob is a sequence of fields {u32 id, u32 len, bytes}; loading checks
 * every id and length and applies the fields in the order KVM needs
 * (CPUID, MP state, regs, sregs, XSAVE, XCRs, debug regs, LAPIC, MSRs with
 * TSC_DEADLINE last, events; VM-wide: irqchip, PIT, clock).
 */
#ifndef VMIG_VMM_X86_STATE_H
#define VMIG_VMM_X86_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "vmm/kvm.h"

/* Finds the MSRs this host's KVM can save (once per VM). */
int x86_msr_list_init(struct kvm_handles *k, char *err, size_t errlen);

int x86_vcpu_state_save(struct kvm_handles *k, int vcpu_fd, struct vbuf *out, char *err,
			size_t errlen);
int x86_vcpu_state_load(struct kvm_handles *k, int vcpu_fd, const uint8_t *data, size_t len,
			char *err, size_t errlen);

int x86_vm_state_save(struct kvm_handles *k, struct vbuf *out, char *err, size_t errlen);
int x86_vm_state_load(struct kvm_handles *k, const uint8_t *data, size_t len, char *err,
		      size_t errlen);

#endif

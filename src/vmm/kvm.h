/* SPDX-License-Identifier: MIT */
/* Thin wrappers over the KVM system and VM ioctls vmig needs. */
#ifndef VMIG_VMM_KVM_H
#define VMIG_VMM_KVM_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

struct kvm_handles {
	int kvm_fd;
	int vm_fd;
	size_t run_size;          /* KVM_GET_VCPU_MMAP_SIZE */
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, filtered */
	uint32_t *msrs;           /* MSRs to migrate (x86_state.c), TSC_DEADLINE last */
	unsigned nr_msrs;
	size_t xsave_size;        /* bytes KVM_GET_XSAVE(2) fills */
};

/* Opens /dev/kvm, checks the API and capabilities, creates the VM with an
 * in-kernel irqchip and PIT. Clear message if KVM is missing. */
int kvm_init(struct kvm_handles *k, char *err, size_t errlen);
void kvm_close(struct kvm_handles *k);

int kvm_map_memory(struct kvm_handles *k, const struct guest_memory *mem, char *err,
		   size_t errlen);

/* Creates vCPU `index`, sets its CPUID (APIC ID = index); returns the fd. */
int kvm_create_vcpu(struct kvm_handles *k, unsigned index, int *fd_out, char *err,
		    size_t errlen);

/* TSC frequency in kHz as KVM sees it for this vCPU, 0 if unknown. */
uint64_t kvm_vcpu_tsc_khz(int vcpu_fd);

#endif

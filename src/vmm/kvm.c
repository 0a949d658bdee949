/* SPDX-License-Identifier: MIT */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Addresses for the Intel real-mode helper pages, as other VMMs use. */
#define KVM_TSS_ADDR 0xfffbd000ul
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define CPUID_MAX_ENTRIES 256

static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno;
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

/* /dev/kvm opened, its API version and the capabilities vmig needs checked. */
static int open_kvm(struct kvm_handles *k, char *err, size_t errlen)
{
	static const struct {
		int cap;
		const char *name;
	} needed[] = {
		{KVM_CAP_IRQCHIP, "IRQCHIP"},         {KVM_CAP_PIT2, "PIT2"},
		{KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"}, {KVM_CAP_USER_MEMORY, "USER_MEMORY"},
		{KVM_CAP_EXT_CPUID, "EXT_CPUID"},
	};
	k->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s%s", strerror(e),
			 e == ENOENT ? " (KVM is not available on this host)"
			 : e == EACCES ? " (run as root or join the kvm group)" : "");
		return -e;
	}
	int api = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, vmig needs %d", api, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks the %s capability", needed[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* What every vCPU needs from KVM: its run area's size and the CPUID
 * entries KVM supports. */
static int query_vcpu_needs(struct kvm_handles *k, char *err, size_t errlen)
{
	int sz = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		return fail(err, errlen, "KVM_GET_VCPU_MMAP_SIZE");
	k->run_size = (size_t)sz;
	k->cpuid = calloc(1, sizeof(*k->cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!k->cpuid) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	k->cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, k->cpuid) < 0)
		return fail(err, errlen, "KVM_GET_SUPPORTED_CPUID");
	return 0;
}

/* The VM, with its TSS and identity map, in-kernel irqchip and PIT. */
static int create_vm(struct kvm_handles *k, char *err, size_t errlen)
{
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return fail(err, errlen, "KVM_CREATE_VM");
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 ||
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return fail(err, errlen, "KVM_SET_TSS_ADDR/IDENTITY_MAP_ADDR");
	/* In-kernel PIC/IOAPIC/LAPIC and PIT: the guest calibrates its TSC with
	 * the PIT when the VMM does not tell it the frequency. */
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail(err, errlen, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = {.flags = 0};
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return fail(err, errlen, "KVM_CREATE_PIT2");
	return 0;
}

int kvm_init(struct kvm_handles *k, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	int r = open_kvm(k, err, errlen);
	if (!r)
		r = query_vcpu_needs(k, err, errlen);
	if (!r)
		r = create_vm(k, err, errlen);
	if (r)
		kvm_close(k); /* fds at -1 or open, buffers NULL or allocated */
	return r;
}

void kvm_close(struct kvm_handles *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k->cpuid);
	free(k->msrs);
	k->cpuid = NULL;
	k->msrs = NULL;
	k->vm_fd = k->kvm_fd = -1;
}

int kvm_map_memory(struct kvm_handles *k, const struct guest_memory *mem, char *err,
		   size_t errlen)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = r->slot,
			.flags = 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)(mem->host + r->offset),
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return fail(err, errlen, "KVM_SET_USER_MEMORY_REGION");
	}
	return 0;
}

int kvm_create_vcpu(struct kvm_handles *k, unsigned index, int *fd_out, char *err,
		    size_t errlen)
{
	int fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (fd < 0)
		return fail(err, errlen, "KVM_CREATE_VCPU");

	size_t bytes = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(bytes);
	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(c, k->cpuid, bytes);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1) {
			/* initial APIC ID */
			e->ebx = (e->ebx & 0x00ffffffu) | (index << 24);
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = index; /* x2APIC ID */
		}
	}
	int r = ioctl(fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0) {
		r = fail(err, errlen, "KVM_SET_CPUID2");
		close(fd);
		return r;
	}
	*fd_out = fd;
	return 0;
}

uint64_t kvm_vcpu_tsc_khz(int vcpu_fd)
{
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (uint64_t)khz : 0;
}

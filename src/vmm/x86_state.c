/* SPDX-License-Identifier: MIT */
#include "vmm/x86_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int ioctl_err(const char *what, char *err, size_t errlen)
{
	int e = errno;
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory handling x86 state");
	return -ENOMEM;
}

/* One ioctl that returns 0 on success, its name in the error message. */
static int xioctl(int fd, unsigned long req, const void *arg, const char *name, char *err,
		  size_t errlen)
{
	if (ioctl(fd, req, arg) < 0)
		return ioctl_err(name, err, errlen);
	return 0;
}
#define XIOCTL(fd, req, arg) xioctl(fd, req, arg, #req, err, errlen)

/* One MSR readable through KVM_GET_MSRS? */
static bool msr_readable(int vcpu_fd, uint32_t index)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = index;
	return ioctl(vcpu_fd, KVM_GET_MSRS, &m) == 1;
}

static bool listed(const struct kvm_handles *k, uint32_t index)
{
	for (unsigned i = 0; i < k->nr_msrs; i++)
		if (k->msrs[i] == index)
			return true;
	return false;
}

/* Keeps the listed MSRs a vCPU can read, each once (the destination refuses
 * a state with an MSR twice), TSC_DEADLINE last: it is relative to the TSC,
 * which must be written before it. */
static int filter_msrs(struct kvm_handles *k, const struct kvm_msr_list *list, int vcpu)
{
	free(k->msrs);
	k->msrs = calloc(list->nmsrs + 1, sizeof(uint32_t));
	k->nr_msrs = 0;
	if (!k->msrs)
		return -ENOMEM;
	bool deadline = false;
	for (unsigned i = 0; i < list->nmsrs; i++) {
		if (list->indices[i] == X86_MSR_TSC_DEADLINE)
			deadline = msr_readable(vcpu, X86_MSR_TSC_DEADLINE);
		else if (!listed(k, list->indices[i]) && msr_readable(vcpu, list->indices[i]))
			k->msrs[k->nr_msrs++] = list->indices[i];
	}
	if (deadline)
		k->msrs[k->nr_msrs++] = X86_MSR_TSC_DEADLINE;
	return 0;
}

int x86_msr_list_init(struct kvm_handles *k, char *err, size_t errlen)
{
	struct kvm_msr_list *list = calloc(1, sizeof(*list) + X86_MAX_MSRS * sizeof(uint32_t));
	if (!list)
		return oom(err, errlen);
	list->nmsrs = X86_MAX_MSRS;
	if (ioctl(k->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return ioctl_err("KVM_GET_MSR_INDEX_LIST", err, errlen);
	}
	/* Probe on a throwaway VM's vCPU so the real vCPUs' state is untouched. */
	int vm = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	int vcpu = vm >= 0 ? ioctl(vm, KVM_CREATE_VCPU, 0) : -1;
	if (vcpu < 0) {
		int r = ioctl_err("probe vCPU for MSRs", err, errlen);
		if (vm >= 0)
			close(vm);
		free(list);
		return r;
	}
	int r = filter_msrs(k, list, vcpu);
	close(vcpu);
	close(vm);
	free(list);
	if (r)
		return oom(err, errlen);

	int xs = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	k->xsave_size = xs > (int)sizeof(struct kvm_xsave) ? (size_t)xs : sizeof(struct kvm_xsave);
	/* The state structs hold at most X86_XSAVE_MAX bytes, and KVM_SET_XSAVE
	 * reads xsave_size bytes from them. */
	if (k->xsave_size > X86_XSAVE_MAX) {
		snprintf(err, errlen, "KVM's XSAVE area is %zu bytes, vmig handles at most %d",
			 k->xsave_size, X86_XSAVE_MAX);
		return -ENOTSUP;
	}
	return 0;
}

uint64_t x86_supported_xcr0(const struct kvm_handles *k)
{
	for (unsigned i = 0; k->cpuid && i < k->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];
		if (e->function == 0xd && e->index == 0)
			return ((uint64_t)e->edx << 32) | e->eax;
	}
	return 0x3; /* no XSAVE leaf: x87 and SSE only */
}

/* ---- vCPU ---- */

/* Marks the entries KVM_GET_CPUID2 did not write: no CPUID range reaches
 * leaf 0xffffffff, so no real entry looks like this. */
#define CPUID_UNWRITTEN 0xffffffffu

/* How many entries KVM wrote. On older kernels, Debian 12's 6.1 among them
 * (6.18 does not), KVM_GET_CPUID2 never writes the count back: on success
 * nent stays the caller's capacity, the entries past the real ones are what
 * the buffer held (zeros, which the destination rightly refused as "leaf
 * 0x0.0 appears twice"), and an E2BIG does not say the count either. So the
 * buffer is marked first, and the count is where the marks begin. */
static uint32_t cpuid_written(const struct kvm_cpuid2 *c, uint32_t cap)
{
	uint32_t n = c->nent < cap ? c->nent : cap;
	for (uint32_t i = 0; i < n; i++)
		if (c->entries[i].function == CPUID_UNWRITTEN && c->entries[i].index == CPUID_UNWRITTEN)
			return i;
	return n;
}

static int get_cpuid(int fd, struct x86_vcpu_state *st, char *err, size_t errlen)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + X86_MAX_CPUID * sizeof(c->entries[0]));
	if (!c)
		return oom(err, errlen);
	c->nent = X86_MAX_CPUID;
	for (uint32_t i = 0; i < X86_MAX_CPUID; i++)
		c->entries[i].function = c->entries[i].index = CPUID_UNWRITTEN;
	int r = XIOCTL(fd, KVM_GET_CPUID2, c);
	if (!r) {
		st->nr_cpuid = cpuid_written(c, X86_MAX_CPUID);
		memcpy(st->cpuid, c->entries, st->nr_cpuid * sizeof(c->entries[0]));
	}
	free(c);
	return r;
}

static int get_xsave(struct kvm_handles *k, int fd, struct x86_vcpu_state *st, char *err,
		     size_t errlen)
{
	if (k->xsave_size > sizeof(st->xsave)) { /* x86_msr_list_init refuses this */
		snprintf(err, errlen, "XSAVE area of %zu bytes is too large", k->xsave_size);
		return -ENOTSUP;
	}
	int r = k->xsave_size > sizeof(struct kvm_xsave) ? XIOCTL(fd, KVM_GET_XSAVE2, st->xsave)
							 : XIOCTL(fd, KVM_GET_XSAVE, st->xsave);
	st->xsave_len = (uint32_t)k->xsave_size;
	return r;
}

static int get_msrs(struct kvm_handles *k, int fd, struct x86_vcpu_state *st, char *err,
		    size_t errlen)
{
	if (k->nr_msrs > X86_MAX_MSRS) {
		snprintf(err, errlen, "%u MSRs to save, at most %d", k->nr_msrs, X86_MAX_MSRS);
		return -E2BIG;
	}
	struct kvm_msrs *m = calloc(1, sizeof(*m) + k->nr_msrs * sizeof(m->entries[0]));
	if (!m)
		return oom(err, errlen);
	m->nmsrs = k->nr_msrs;
	for (unsigned i = 0; i < k->nr_msrs; i++)
		m->entries[i].index = k->msrs[i];
	int r = ioctl(fd, KVM_GET_MSRS, m);
	if (r != (int)k->nr_msrs) {
		snprintf(err, errlen, "KVM_GET_MSRS read %d of %u MSRs", r, k->nr_msrs);
		free(m);
		return -EIO;
	}
	st->nr_msrs = k->nr_msrs;
	memcpy(st->msrs, m->entries, k->nr_msrs * sizeof(m->entries[0]));
	free(m);
	return 0;
}

int x86_vcpu_state_get(struct kvm_handles *k, int fd, struct x86_vcpu_state *st, char *err,
		       size_t errlen)
{
	int r;
	/* Zeroed first: padding and the XSAVE tail must not carry old bytes. */
	memset(st, 0, sizeof(*st));
	if ((r = get_cpuid(fd, st, err, errlen)) || (r = XIOCTL(fd, KVM_GET_MP_STATE, &st->mp)) ||
	    (r = XIOCTL(fd, KVM_GET_REGS, &st->regs)) ||
	    (r = XIOCTL(fd, KVM_GET_SREGS, &st->sregs)) ||
	    (r = get_xsave(k, fd, st, err, errlen)) || (r = XIOCTL(fd, KVM_GET_XCRS, &st->xcrs)) ||
	    (r = XIOCTL(fd, KVM_GET_DEBUGREGS, &st->dregs)) ||
	    (r = XIOCTL(fd, KVM_GET_LAPIC, &st->lapic)) || (r = get_msrs(k, fd, st, err, errlen)) ||
	    (r = XIOCTL(fd, KVM_GET_VCPU_EVENTS, &st->events)))
		return r;
	return 0;
}

static int set_cpuid(int fd, const struct x86_vcpu_state *st, char *err, size_t errlen)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + st->nr_cpuid * sizeof(c->entries[0]));
	if (!c)
		return oom(err, errlen);
	c->nent = st->nr_cpuid;
	memcpy(c->entries, st->cpuid, st->nr_cpuid * sizeof(c->entries[0]));
	int r = XIOCTL(fd, KVM_SET_CPUID2, c);
	free(c);
	return r;
}

static int set_xsave(struct kvm_handles *k, int fd, const struct x86_vcpu_state *st, char *err,
		     size_t errlen)
{
	/* KVM_SET_XSAVE reads this host's xsave_size bytes; the buffer is
	 * X86_XSAVE_MAX bytes with zeros past what the source sent. */
	if (k->xsave_size > sizeof(st->xsave)) {
		snprintf(err, errlen, "XSAVE area of %zu bytes is too large", k->xsave_size);
		return -ENOTSUP;
	}
	return XIOCTL(fd, KVM_SET_XSAVE, st->xsave);
}

static int set_msrs(int fd, const struct x86_vcpu_state *st, char *err, size_t errlen)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + st->nr_msrs * sizeof(m->entries[0]));
	if (!m)
		return oom(err, errlen);
	m->nmsrs = st->nr_msrs;
	memcpy(m->entries, st->msrs, st->nr_msrs * sizeof(m->entries[0]));
	int r = ioctl(fd, KVM_SET_MSRS, m);
	if (r != (int)st->nr_msrs) {
		snprintf(err, errlen, "KVM_SET_MSRS stopped at MSR 0x%x (%d of %u set)",
			 r >= 0 && (unsigned)r < st->nr_msrs ? st->msrs[r].index : 0, r,
			 st->nr_msrs);
		free(m);
		return -EINVAL;
	}
	free(m);
	return 0;
}

int x86_vcpu_state_set(struct kvm_handles *k, int fd, const struct x86_vcpu_state *st, char *err,
		       size_t errlen)
{
	int r;
	if ((r = set_cpuid(fd, st, err, errlen)) || (r = XIOCTL(fd, KVM_SET_MP_STATE, &st->mp)) ||
	    (r = XIOCTL(fd, KVM_SET_REGS, &st->regs)) ||
	    (r = XIOCTL(fd, KVM_SET_SREGS, &st->sregs)) ||
	    (r = set_xsave(k, fd, st, err, errlen)) || (r = XIOCTL(fd, KVM_SET_XCRS, &st->xcrs)) ||
	    (r = XIOCTL(fd, KVM_SET_DEBUGREGS, &st->dregs)) ||
	    (r = XIOCTL(fd, KVM_SET_LAPIC, &st->lapic)) || (r = set_msrs(fd, st, err, errlen)) ||
	    (r = XIOCTL(fd, KVM_SET_VCPU_EVENTS, &st->events)))
		return r;
	return 0;
}

/* ---- VM-wide ---- */

int x86_vm_state_get(struct kvm_handles *k, struct x86_vm_state *st, char *err, size_t errlen)
{
	int fd = k->vm_fd, r;
	memset(st, 0, sizeof(*st));
	if ((r = XIOCTL(fd, KVM_GET_CLOCK, &st->clock)) || (r = XIOCTL(fd, KVM_GET_PIT2, &st->pit)))
		return r;
	struct kvm_irqchip chip;
	for (unsigned i = 0; i < 3; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = i == 0	? KVM_IRQCHIP_PIC_MASTER
			       : i == 1 ? KVM_IRQCHIP_PIC_SLAVE
					: KVM_IRQCHIP_IOAPIC;
		if ((r = XIOCTL(fd, KVM_GET_IRQCHIP, &chip)))
			return r;
		if (i < 2)
			st->pic[i] = chip.chip.pic;
		else
			st->ioapic = chip.chip.ioapic;
	}
	return 0;
}

int x86_vm_state_set(struct kvm_handles *k, const struct x86_vm_state *st, char *err, size_t errlen)
{
	int fd = k->vm_fd, r;
	/* Interrupt controllers first, then the PIT that feeds them, then the clock. */
	struct kvm_irqchip chip;
	for (unsigned i = 0; i < 3; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = i == 0	? KVM_IRQCHIP_PIC_MASTER
			       : i == 1 ? KVM_IRQCHIP_PIC_SLAVE
					: KVM_IRQCHIP_IOAPIC;
		if (i < 2)
			chip.chip.pic = st->pic[i];
		else
			chip.chip.ioapic = st->ioapic;
		if ((r = XIOCTL(fd, KVM_SET_IRQCHIP, &chip)))
			return r;
	}
	if ((r = XIOCTL(fd, KVM_SET_PIT2, &st->pit)))
		return r;
	/* Only the clock value travels; flags describing the source host's
	 * clock source would be rejected here. */
	struct kvm_clock_data clock = st->clock;
	clock.flags = 0;
	return XIOCTL(fd, KVM_SET_CLOCK, &clock);
}

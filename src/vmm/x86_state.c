/* SPDX-License-Identifier: MIT */
#include "vmm/x86_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum x86_field {
	F_CPUID = 1,
	F_MP_STATE,
	F_REGS,
	F_SREGS,
	F_XSAVE,
	F_XCRS,
	F_DEBUGREGS,
	F_LAPIC,
	F_MSRS,
	F_EVENTS,
	F_VCPU_MAX,
	F_CLOCK = 32,
	F_PIT2,
	F_PIC_MASTER,
	F_PIC_SLAVE,
	F_IOAPIC,
	F_VM_MAX,
};

#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MAX_MSRS 1024
#define MAX_CPUID 256

static int ioctl_err(const char *what, char *err, size_t errlen)
{
	int e = errno;
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

static void put_field(struct vbuf *b, uint32_t id, const void *p, size_t n)
{
	vbuf_put_u32(b, id);
	vbuf_put_u32(b, (uint32_t)n);
	vbuf_put(b, p, n);
}

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

int x86_msr_list_init(struct kvm_handles *k, char *err, size_t errlen)
{
	struct kvm_msr_list *list = calloc(1, sizeof(*list) + MAX_MSRS * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = MAX_MSRS;
	if (ioctl(k->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return ioctl_err("KVM_GET_MSR_INDEX_LIST", err, errlen);
	}
	/* A scratch vCPU would be cleaner; instead probe on a throwaway VM's
	 * vCPU so the real vCPUs' state is untouched. */
	int vm = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	int vcpu = vm >= 0 ? ioctl(vm, KVM_CREATE_VCPU, 0) : -1;
	if (vcpu < 0) {
		int r = ioctl_err("probe vCPU for MSRs", err, errlen);
		if (vm >= 0)
			close(vm);
		free(list);
		return r;
	}
	free(k->msrs);
	k->msrs = calloc(list->nmsrs + 1, sizeof(uint32_t));
	k->nr_msrs = 0;
	bool deadline = false;
	for (unsigned i = 0; k->msrs && i < list->nmsrs; i++) {
		if (list->indices[i] == MSR_IA32_TSC_DEADLINE) {
			deadline = msr_readable(vcpu, MSR_IA32_TSC_DEADLINE);
			continue;
		}
		if (msr_readable(vcpu, list->indices[i]))
			k->msrs[k->nr_msrs++] = list->indices[i];
	}
	/* TSC_DEADLINE is written last: it is relative to the TSC set before. */
	if (k->msrs && deadline)
		k->msrs[k->nr_msrs++] = MSR_IA32_TSC_DEADLINE;
	close(vcpu);
	close(vm);
	free(list);
	if (!k->msrs)
		return -ENOMEM;

	int xs = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	k->xsave_size = xs > (int)sizeof(struct kvm_xsave) ? (size_t)xs : sizeof(struct kvm_xsave);
	return 0;
}

int x86_vcpu_state_save(struct kvm_handles *k, int fd, struct vbuf *out, char *err,
			size_t errlen)
{
	int r = -ENOMEM;

	/* CPUID */
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + MAX_CPUID * sizeof(cpuid->entries[0]));
	if (!cpuid)
		goto oom;
	cpuid->nent = MAX_CPUID;
	if (ioctl(fd, KVM_GET_CPUID2, cpuid) < 0) {
		free(cpuid);
		return ioctl_err("KVM_GET_CPUID2", err, errlen);
	}
	put_field(out, F_CPUID, cpuid, sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]));
	free(cpuid);

	struct kvm_mp_state mp;
	if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
		return ioctl_err("KVM_GET_MP_STATE", err, errlen);
	put_field(out, F_MP_STATE, &mp, sizeof(mp));

	struct kvm_regs regs;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0)
		return ioctl_err("KVM_GET_REGS", err, errlen);
	put_field(out, F_REGS, &regs, sizeof(regs));

	struct kvm_sregs sregs;
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return ioctl_err("KVM_GET_SREGS", err, errlen);
	put_field(out, F_SREGS, &sregs, sizeof(sregs));

	struct kvm_xsave *xs = calloc(1, k->xsave_size);
	if (!xs)
		goto oom;
	if (ioctl(fd, k->xsave_size > sizeof(*xs) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, xs) < 0) {
		free(xs);
		return ioctl_err("KVM_GET_XSAVE", err, errlen);
	}
	put_field(out, F_XSAVE, xs, k->xsave_size);
	free(xs);

	struct kvm_xcrs xcrs;
	if (ioctl(fd, KVM_GET_XCRS, &xcrs) < 0)
		return ioctl_err("KVM_GET_XCRS", err, errlen);
	put_field(out, F_XCRS, &xcrs, sizeof(xcrs));

	struct kvm_debugregs dregs;
	if (ioctl(fd, KVM_GET_DEBUGREGS, &dregs) < 0)
		return ioctl_err("KVM_GET_DEBUGREGS", err, errlen);
	put_field(out, F_DEBUGREGS, &dregs, sizeof(dregs));

	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return ioctl_err("KVM_GET_LAPIC", err, errlen);
	put_field(out, F_LAPIC, &lapic, sizeof(lapic));

	size_t msz = sizeof(struct kvm_msrs) + k->nr_msrs * sizeof(struct kvm_msr_entry);
	struct kvm_msrs *msrs = calloc(1, msz);
	if (!msrs)
		goto oom;
	msrs->nmsrs = k->nr_msrs;
	for (unsigned i = 0; i < k->nr_msrs; i++)
		msrs->entries[i].index = k->msrs[i];
	r = ioctl(fd, KVM_GET_MSRS, msrs);
	if (r != (int)k->nr_msrs) {
		snprintf(err, errlen, "KVM_GET_MSRS read %d of %u MSRs", r, k->nr_msrs);
		free(msrs);
		return -EIO;
	}
	put_field(out, F_MSRS, msrs, msz);
	free(msrs);

	struct kvm_vcpu_events ev;
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return ioctl_err("KVM_GET_VCPU_EVENTS", err, errlen);
	put_field(out, F_EVENTS, &ev, sizeof(ev));
	return out->oom ? -ENOMEM : 0;
oom:
	snprintf(err, errlen, "out of memory saving vCPU state");
	return -ENOMEM;
}

struct field_ref {
	const uint8_t *p;
	uint32_t len;
};

/* Splits a blob into fields; every id in [lo, hi) at most once. */
static int split_fields(const uint8_t *data, size_t len, unsigned lo, unsigned hi,
			struct field_ref *f, char *err, size_t errlen)
{
	struct vreader r;
	vreader_init(&r, data, len);
	while (r.left) {
		uint32_t id = vr_u32(&r), n = vr_u32(&r);
		const uint8_t *p = vr_take(&r, n);
		if (r.bad) {
			snprintf(err, errlen, "state blob is truncated");
			return -EINVAL;
		}
		if (id < lo || id >= hi || f[id - lo].p) {
			snprintf(err, errlen, "state blob has an unknown or repeated field %u", id);
			return -EINVAL;
		}
		f[id - lo] = (struct field_ref){p, n};
	}
	for (unsigned id = lo; id < hi; id++) {
		if (!f[id - lo].p) {
			snprintf(err, errlen, "state blob lacks field %u", id);
			return -EINVAL;
		}
	}
	return 0;
}

/* Copies a fixed-size field, checking its length. */
static int fixed(const struct field_ref *f, void *out, size_t size, const char *name, char *err,
		 size_t errlen)
{
	if (f->len != size) {
		snprintf(err, errlen, "%s state has %u bytes, expected %zu", name, f->len, size);
		return -EINVAL;
	}
	memcpy(out, f->p, size);
	return 0;
}

#define SET_FIXED(field, type, ioc, name)                                           \
	do {                                                                        \
		type v_;                                                            \
		if ((r = fixed(&f[(field) - F_CPUID], &v_, sizeof(v_), name, err, errlen))) \
			return r;                                                   \
		if (ioctl(fd, ioc, &v_) < 0)                                        \
			return ioctl_err(#ioc, err, errlen);                        \
	} while (0)

int x86_vcpu_state_load(struct kvm_handles *k, int fd, const uint8_t *data, size_t len,
			char *err, size_t errlen)
{
	struct field_ref f[F_VCPU_MAX - F_CPUID] = {{0}};
	int r;

	if ((r = split_fields(data, len, F_CPUID, F_VCPU_MAX, f, err, errlen)))
		return r;

	/* CPUID: variable length, entry count checked against the bytes. */
	const struct field_ref *c = &f[F_CPUID - F_CPUID];
	struct kvm_cpuid2 hdr;
	if (c->len < sizeof(hdr))
		goto bad_cpuid;
	memcpy(&hdr, c->p, sizeof(hdr));
	if (hdr.nent > MAX_CPUID || c->len != sizeof(hdr) + hdr.nent * sizeof(hdr.entries[0]))
		goto bad_cpuid;
	struct kvm_cpuid2 *cpuid = malloc(c->len);
	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, c->p, c->len);
	r = ioctl(fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (r < 0)
		return ioctl_err("KVM_SET_CPUID2", err, errlen);

	SET_FIXED(F_MP_STATE, struct kvm_mp_state, KVM_SET_MP_STATE, "MP");
	SET_FIXED(F_REGS, struct kvm_regs, KVM_SET_REGS, "register");
	SET_FIXED(F_SREGS, struct kvm_sregs, KVM_SET_SREGS, "segment register");

	const struct field_ref *x = &f[F_XSAVE - F_CPUID];
	if (x->len < sizeof(struct kvm_xsave) || x->len > (1u << 20)) {
		snprintf(err, errlen, "XSAVE state has %u bytes", x->len);
		return -EINVAL;
	}
	/* KVM_SET_XSAVE reads as many bytes as KVM_CAP_XSAVE2 says: pad. */
	size_t xsz = x->len > k->xsave_size ? x->len : k->xsave_size;
	struct kvm_xsave *xs = calloc(1, xsz);
	if (!xs)
		return -ENOMEM;
	memcpy(xs, x->p, x->len);
	r = ioctl(fd, KVM_SET_XSAVE, xs);
	free(xs);
	if (r < 0)
		return ioctl_err("KVM_SET_XSAVE", err, errlen);

	SET_FIXED(F_XCRS, struct kvm_xcrs, KVM_SET_XCRS, "XCR");
	SET_FIXED(F_DEBUGREGS, struct kvm_debugregs, KVM_SET_DEBUGREGS, "debug register");
	SET_FIXED(F_LAPIC, struct kvm_lapic_state, KVM_SET_LAPIC, "LAPIC");

	const struct field_ref *m = &f[F_MSRS - F_CPUID];
	struct kvm_msrs mh;
	if (m->len < sizeof(mh))
		goto bad_msrs;
	memcpy(&mh, m->p, sizeof(mh));
	if (mh.nmsrs > MAX_MSRS || m->len != sizeof(mh) + mh.nmsrs * sizeof(struct kvm_msr_entry))
		goto bad_msrs;
	struct kvm_msrs *msrs = malloc(m->len);
	if (!msrs)
		return -ENOMEM;
	memcpy(msrs, m->p, m->len);
	r = ioctl(fd, KVM_SET_MSRS, msrs);
	if (r != (int)mh.nmsrs) {
		snprintf(err, errlen, "KVM_SET_MSRS stopped at MSR 0x%x (%d of %u set)",
			 r >= 0 && (unsigned)r < mh.nmsrs ? msrs->entries[r].index : 0, r, mh.nmsrs);
		free(msrs);
		return -EINVAL;
	}
	free(msrs);

	SET_FIXED(F_EVENTS, struct kvm_vcpu_events, KVM_SET_VCPU_EVENTS, "event");
	return 0;
bad_cpuid:
	snprintf(err, errlen, "CPUID state is malformed (%u bytes)", c->len);
	return -EINVAL;
bad_msrs:
	snprintf(err, errlen, "MSR state is malformed (%u bytes)", m->len);
	return -EINVAL;
}

int x86_vm_state_save(struct kvm_handles *k, struct vbuf *out, char *err, size_t errlen)
{
	int fd = k->vm_fd;

	struct kvm_clock_data clock;
	memset(&clock, 0, sizeof(clock));
	if (ioctl(fd, KVM_GET_CLOCK, &clock) < 0)
		return ioctl_err("KVM_GET_CLOCK", err, errlen);
	put_field(out, F_CLOCK, &clock, sizeof(clock));

	struct kvm_pit_state2 pit;
	if (ioctl(fd, KVM_GET_PIT2, &pit) < 0)
		return ioctl_err("KVM_GET_PIT2", err, errlen);
	put_field(out, F_PIT2, &pit, sizeof(pit));

	static const struct {
		unsigned id, chip;
	} chips[] = {{F_PIC_MASTER, KVM_IRQCHIP_PIC_MASTER},
		     {F_PIC_SLAVE, KVM_IRQCHIP_PIC_SLAVE},
		     {F_IOAPIC, KVM_IRQCHIP_IOAPIC}};
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_irqchip chip;
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = chips[i].chip;
		if (ioctl(fd, KVM_GET_IRQCHIP, &chip) < 0)
			return ioctl_err("KVM_GET_IRQCHIP", err, errlen);
		put_field(out, chips[i].id, &chip, sizeof(chip));
	}
	return out->oom ? -ENOMEM : 0;
}

int x86_vm_state_load(struct kvm_handles *k, const uint8_t *data, size_t len, char *err,
		      size_t errlen)
{
	struct field_ref f[F_VM_MAX - F_CLOCK] = {{0}};
	int fd = k->vm_fd;
	int r;

	if ((r = split_fields(data, len, F_CLOCK, F_VM_MAX, f, err, errlen)))
		return r;
	/* Interrupt controllers first, then the PIT that feeds them, then the clock. */
	static const unsigned chip_ids[] = {F_PIC_MASTER, F_PIC_SLAVE, F_IOAPIC};
	static const unsigned chip_kvm[] = {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
					    KVM_IRQCHIP_IOAPIC};
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_irqchip chip;
		if ((r = fixed(&f[chip_ids[i] - F_CLOCK], &chip, sizeof(chip), "irqchip", err, errlen)))
			return r;
		if (chip.chip_id != chip_kvm[i]) {
			snprintf(err, errlen, "irqchip state has chip id %u, expected %u", chip.chip_id,
				 chip_kvm[i]);
			return -EINVAL;
		}
		if (ioctl(fd, KVM_SET_IRQCHIP, &chip) < 0)
			return ioctl_err("KVM_SET_IRQCHIP", err, errlen);
	}
	struct kvm_pit_state2 pit;
	if ((r = fixed(&f[F_PIT2 - F_CLOCK], &pit, sizeof(pit), "PIT", err, errlen)))
		return r;
	if (ioctl(fd, KVM_SET_PIT2, &pit) < 0)
		return ioctl_err("KVM_SET_PIT2", err, errlen);
	struct kvm_clock_data clock;
	if ((r = fixed(&f[F_CLOCK - F_CLOCK], &clock, sizeof(clock), "clock", err, errlen)))
		return r;
	/* Only the clock value travels; flags describing the source host's
	 * clock source would be rejected here. */
	clock.flags = 0;
	if (ioctl(fd, KVM_SET_CLOCK, &clock) < 0)
		return ioctl_err("KVM_SET_CLOCK", err, errlen);
	return 0;
}

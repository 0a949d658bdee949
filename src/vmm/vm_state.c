/* SPDX-License-Identifier: MIT */
/*
 * The VMM's state blob (format in vm_state.h): encode, decode, validate,
 * apply. Decoding reads every member of every KVM struct at an explicit
 * width from a reader bounded by its field's length, so a hostile blob can
 * at worst be refused: no struct is memcpy'd from the wire, no bool or enum
 * is loaded from a byte that was not checked, nothing reaches KVM before
 * the whole blob has passed.
 *
 * The checks are the cheap ones that keep nonsense away from KVM and the
 * devices: each field's size, counts against their arrays, booleans,
 * enumerations and ranges, architecturally reserved bits (RFLAGS, CR0,
 * CR4, EFER, APIC base, DR6/DR7, MXCSR, the XSAVE header), what this host
 * supports (XCR0/XSTATE_BV bits, XSAVE size, MSR indices), duplicates. KVM
 * still checks the rest (e.g. CR4 against the guest's CPUID) when applying.
 *
 * This file frames the fields into sections and a blob, and takes them
 * to and from the VM; the fields themselves, each with its encoder,
 * decoder and check, are vm_state_vcpu.c's and vm_state_vm.c's.
 */
#include "vmm/vm_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "guest_abi.h"
#include "vmm/vm.h"
#include "vmm/vm_state_fields.h"

int vs_fail(const struct vs_ctx *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->where[0])
		snprintf(c->err, c->errlen, "VM state: %s: %s", c->where, msg);
	else
		snprintf(c->err, c->errlen, "VM state: %s", msg);
	return -EINVAL;
}

/* ---- length-prefixed records ---- */

/* Writes id and a length to patch once the body is written. */
static size_t rec_begin(struct vbuf *b, uint32_t id)
{
	vbuf_put_u32(b, id);
	size_t at = b->len;
	vbuf_put_u32(b, 0);
	return at;
}

static void rec_end(struct vbuf *b, size_t at)
{
	if (b->oom)
		return;
	uint32_t n = (uint32_t)(b->len - at - 4);
	memcpy(b->data + at, &n, 4); /* little-endian host, as vbuf_put_u32 */
}

/* Reads the next field of a section, which must be `id`, and gives a reader
 * over exactly its bytes. */
static int field_begin(struct vreader *r, uint32_t id, struct vreader *sub, const struct vs_ctx *c)
{
	if (r->left < 8)
		return vs_fail(c, "missing (the section ends first)");
	uint32_t got = vr_u32(r), n = vr_u32(r);
	if (got != id)
		return vs_fail(c, "found field id %u where this field (id %u) belongs", got, id);
	size_t left = r->left;
	const uint8_t *p = vr_take(r, n);
	if (!p)
		return vs_fail(c, "field claims %u bytes, the section has %zu left", n, left);
	vreader_init(sub, p, n);
	return 0;
}

/* A field's decoder must have used exactly its bytes. */
static int field_end(const struct vreader *sub, const struct vs_ctx *c)
{
	if (sub->bad)
		return vs_fail(c, "truncated (field shorter than its contents)");
	if (sub->left)
		return vs_fail(c, "%zu trailing bytes after its contents", sub->left);
	return 0;
}



/* ---- the blob ---- */

int vm_state_init(struct vmm_state *st, unsigned nr_vcpus)
{
	memset(st, 0, sizeof(*st));
	if (nr_vcpus < 1 || nr_vcpus > VMIG_MAX_VCPUS)
		return -EINVAL;
	st->vcpus = calloc(nr_vcpus, sizeof(*st->vcpus));
	if (!st->vcpus)
		return -ENOMEM;
	st->nr_vcpus = nr_vcpus;
	return 0;
}

void vm_state_free(struct vmm_state *st)
{
	free(st->vcpus);
	memset(st, 0, sizeof(*st));
}

static void encode_vm_section(struct vbuf *b, const struct x86_vm_state *s)
{
	size_t sec = rec_begin(b, VMS_SEC_VM_X86);
	for (size_t i = 0; i < vm_state_nr_vm_fields; i++) {
		size_t at = rec_begin(b, vm_state_vm_fields[i].id);
		vm_state_vm_fields[i].enc(b, s);
		rec_end(b, at);
	}
	rec_end(b, sec);
}

static void encode_vcpu_section(struct vbuf *b, uint32_t index, const struct x86_vcpu_state *v)
{
	size_t sec = rec_begin(b, VMS_SEC_VCPU);
	vbuf_put_u32(b, index);
	for (size_t i = 0; i < vm_state_nr_vcpu_fields; i++) {
		size_t at = rec_begin(b, vm_state_vcpu_fields[i].id);
		vm_state_vcpu_fields[i].enc(b, v);
		rec_end(b, at);
	}
	rec_end(b, sec);
}

int vm_state_encode(const struct vmm_state *st, uint8_t **blob, size_t *len)
{
	struct vbuf b;
	vbuf_init(&b);
	vbuf_put_u32(&b, VM_STATE_VERSION);
	encode_vm_section(&b, &st->vm);
	for (unsigned i = 0; i < st->nr_vcpus; i++)
		encode_vcpu_section(&b, i, &st->vcpus[i]);
	size_t at = rec_begin(&b, VMS_SEC_SERIAL);
	serial_state_encode(&st->serial, &b);
	rec_end(&b, at);
	at = rec_begin(&b, VMS_SEC_GUESTDEV);
	guest_progress_encode(&st->progress, &b);
	rec_end(&b, at);
	if (b.oom) {
		vbuf_free(&b);
		return -ENOMEM;
	}
	*blob = b.data;
	*len = b.len;
	return 0;
}

/* Sections met so far: each at most once. */
struct seen {
	bool vm, serial, guestdev;
	bool vcpu[VMIG_MAX_VCPUS];
};

static int decode_vm_section(const uint8_t *p, uint32_t n, struct x86_vm_state *s, struct vs_ctx *c)
{
	struct vreader r, sub;
	int rc;
	vreader_init(&r, p, n);
	memset(s, 0, sizeof(*s)); /* padding and unsent members read as zero */
	for (size_t i = 0; i < vm_state_nr_vm_fields; i++) {
		const struct vm_field *f = &vm_state_vm_fields[i];
		snprintf(c->where, sizeof(c->where), "VM %s", f->name);
		if ((rc = field_begin(&r, f->id, &sub, c)) || (rc = f->dec(&sub, s, c)) ||
		    (rc = field_end(&sub, c)))
			return rc;
	}
	snprintf(c->where, sizeof(c->where), "VM section");
	return r.left ? vs_fail(c, "%zu bytes after its last field", r.left) : 0;
}

static int decode_vcpu_section(const uint8_t *p, uint32_t n, struct vmm_state *st,
			       struct seen *seen, struct vs_ctx *c)
{
	struct vreader r, sub;
	int rc;
	vreader_init(&r, p, n);
	uint32_t idx = vr_u32(&r);
	snprintf(c->where, sizeof(c->where), "vCPU section");
	if (r.bad)
		return vs_fail(c, "%u bytes, too short for its vCPU index", n);
	if (idx >= st->nr_vcpus)
		return vs_fail(c, "for vCPU %u, but this VM has %u vCPUs", idx, st->nr_vcpus);
	snprintf(c->where, sizeof(c->where), "vCPU %u", idx);
	if (seen->vcpu[idx])
		return vs_fail(c, "its section appears twice");
	seen->vcpu[idx] = true;
	struct x86_vcpu_state *v = &st->vcpus[idx];
	memset(v, 0, sizeof(*v)); /* padding, unsent members and the XSAVE tail read as zero */
	for (size_t i = 0; i < vm_state_nr_vcpu_fields; i++) {
		const struct vcpu_field *f = &vm_state_vcpu_fields[i];
		snprintf(c->where, sizeof(c->where), "vCPU %u %s", idx, f->name);
		if ((rc = field_begin(&r, f->id, &sub, c)) || (rc = f->dec(&sub, v, c)) ||
		    (rc = field_end(&sub, c)))
			return rc;
	}
	snprintf(c->where, sizeof(c->where), "vCPU %u", idx);
	return r.left ? vs_fail(c, "%zu bytes after its last field", r.left) : 0;
}

/* Serial and guest progress: their own modules decode and check them. */
static int decode_device(uint32_t id, const uint8_t *p, uint32_t n, struct vmm_state *st,
			 struct vs_ctx *c)
{
	char msg[200];
	int r;
	if (id == VMS_SEC_SERIAL) {
		snprintf(c->where, sizeof(c->where), "serial");
		r = serial_state_decode(p, n, &st->serial, msg, sizeof(msg));
	} else {
		snprintf(c->where, sizeof(c->where), "guest progress");
		r = guest_progress_decode(p, n, &st->progress, msg, sizeof(msg));
	}
	return r ? vs_fail(c, "%s", msg) : 0;
}

static int decode_section(uint32_t id, const uint8_t *p, uint32_t n, struct vmm_state *st,
			  struct seen *seen, struct vs_ctx *c)
{
	bool *once = id == VMS_SEC_VM_X86     ? &seen->vm
		     : id == VMS_SEC_SERIAL   ? &seen->serial
		     : id == VMS_SEC_GUESTDEV ? &seen->guestdev
					      : NULL;
	static const char *const names[] = {"", "VM-wide x86", "vCPU", "serial", "guest progress"};
	if (once && *once)
		return vs_fail(c, "the %s section appears twice", names[id]);
	if (once)
		*once = true;
	switch (id) {
	case VMS_SEC_VM_X86: return decode_vm_section(p, n, &st->vm, c);
	case VMS_SEC_VCPU: return decode_vcpu_section(p, n, st, seen, c);
	case VMS_SEC_SERIAL:
	case VMS_SEC_GUESTDEV: return decode_device(id, p, n, st, c);
	default: return vs_fail(c, "unknown section id %u", id);
	}
}

static int check_complete(const struct vmm_state *st, const struct seen *seen, struct vs_ctx *c)
{
	c->where[0] = 0;
	if (!seen->vm)
		return vs_fail(c, "no VM-wide x86 section");
	for (unsigned i = 0; i < st->nr_vcpus; i++)
		if (!seen->vcpu[i])
			return vs_fail(c, "no section for vCPU %u", i);
	if (!seen->serial)
		return vs_fail(c, "no serial section");
	if (!seen->guestdev)
		return vs_fail(c, "no guest progress section");
	return 0;
}

int vm_state_decode(const uint8_t *blob, size_t len, struct vmm_state *st, char *err, size_t errlen)
{
	struct vs_ctx c = {err, errlen, ""};
	struct seen seen;
	struct vreader r;
	int rc;

	memset(&seen, 0, sizeof(seen));
	if (!st->vcpus || st->nr_vcpus < 1 || st->nr_vcpus > VMIG_MAX_VCPUS)
		return vs_fail(&c, "no room to decode into");
	vreader_init(&r, blob ? blob : (const uint8_t *)"", blob ? len : 0);
	uint32_t version = vr_u32(&r);
	if (r.bad)
		return vs_fail(&c, "%zu bytes, too short for a version", len);
	if (version != VM_STATE_VERSION) {
		snprintf(err, errlen, "VM state version %u is not supported (want %u)", version,
			 VM_STATE_VERSION);
		return -EPROTONOSUPPORT;
	}
	while (r.left) {
		c.where[0] = 0;
		if (r.left < 8)
			return vs_fail(&c, "%zu stray bytes after the last section", r.left);
		uint32_t id = vr_u32(&r), n = vr_u32(&r);
		size_t left = r.left;
		const uint8_t *p = vr_take(&r, n);
		if (!p)
			return vs_fail(&c, "section %u claims %u bytes, only %zu left (truncated)", id,
				    n, left);
		if ((rc = decode_section(id, p, n, st, &seen, &c)))
			return rc;
	}
	return check_complete(st, &seen, &c);
}

int vm_state_validate(const struct vmm_state *st, const struct vm_state_limits *lim, char *err,
		      size_t errlen)
{
	struct vs_ctx c = {err, errlen, ""};
	int r;
	for (size_t i = 0; i < vm_state_nr_vm_fields; i++) {
		snprintf(c.where, sizeof(c.where), "VM %s", vm_state_vm_fields[i].name);
		if ((r = vm_state_vm_fields[i].check(&st->vm, &c)))
			return r;
	}
	for (unsigned v = 0; v < st->nr_vcpus; v++) {
		for (size_t i = 0; i < vm_state_nr_vcpu_fields; i++) {
			const struct vcpu_field *f = &vm_state_vcpu_fields[i];
			snprintf(c.where, sizeof(c.where), "vCPU %u %s", v, f->name);
			if (f->check && (r = f->check(&st->vcpus[v], lim, &c)))
				return r;
		}
	}
	return 0;
}

/* ---- the VM ---- */

void vm_state_limits_of(struct vm *vm, struct vm_state_limits *lim)
{
	lim->xcr0_supported = x86_supported_xcr0(&vm->kvm);
	lim->xsave_max = (uint32_t)vm->kvm.xsave_size;
	lim->msrs = vm->kvm.msrs;
	lim->nr_msrs = vm->kvm.nr_msrs;
}

int vm_state_capture(struct vm *vm, struct vmm_state *st, char *err, size_t errlen)
{
	int r;
	if (st->nr_vcpus != vm->nr_vcpus) {
		snprintf(err, errlen, "state has room for %u vCPUs, the VM has %u", st->nr_vcpus,
			 vm->nr_vcpus);
		return -EINVAL;
	}
	if ((r = x86_vm_state_get(&vm->kvm, &st->vm, err, errlen)))
		return r;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if ((r = x86_vcpu_state_get(&vm->kvm, vm->vcpus[i].fd, &st->vcpus[i], err, errlen)))
			return r;
	serial_save(&vm->serial, &st->serial);
	/* What the VMM learnt about the guest (layout, last progress) so the
	 * destination's query-guest answers at once. */
	guestdev_snapshot(&vm->gdev, &st->progress, NULL);
	return 0;
}

int vm_state_apply(struct vm *vm, const struct vmm_state *st, char *err, size_t errlen)
{
	char msg[256];
	int r;
	if (st->nr_vcpus != vm->nr_vcpus) {
		snprintf(err, errlen, "state is for %u vCPUs, the VM has %u", st->nr_vcpus,
			 vm->nr_vcpus);
		return -EINVAL;
	}
	if ((r = x86_vm_state_set(&vm->kvm, &st->vm, msg, sizeof(msg)))) {
		snprintf(err, errlen, "loading VM-wide state: %s", msg);
		return r;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		r = x86_vcpu_state_set(&vm->kvm, vm->vcpus[i].fd, &st->vcpus[i], msg, sizeof(msg));
		if (r) {
			snprintf(err, errlen, "loading vCPU %u state: %s", i, msg);
			return r;
		}
	}
	serial_load(&vm->serial, &st->serial);
	guestdev_restore(&vm->gdev, &st->progress);
	return 0;
}

int vm_state_save(struct vm *vm, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	struct vmm_state st;
	int r = vm_state_init(&st, vm->nr_vcpus);
	if (r) {
		snprintf(err, errlen, "cannot hold the state of %u vCPUs", vm->nr_vcpus);
		return r;
	}
	if (!(r = vm_state_capture(vm, &st, err, errlen)) && (r = vm_state_encode(&st, blob, len)))
		snprintf(err, errlen, "out of memory saving VM state");
	vm_state_free(&st);
	return r;
}

int vm_state_load(struct vm *vm, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct vmm_state st;
	struct vm_state_limits lim;
	int r = vm_state_init(&st, vm->nr_vcpus);
	if (r) {
		snprintf(err, errlen, "cannot hold the state of %u vCPUs", vm->nr_vcpus);
		return r;
	}
	vm_state_limits_of(vm, &lim);
	/* Phase 1 for the whole blob, then phase 2: a bad field anywhere is
	 * refused before the guest is touched. */
	if (!(r = vm_state_decode(blob, len, &st, err, errlen)) &&
	    !(r = vm_state_validate(&st, &lim, err, errlen)))
		r = vm_state_apply(vm, &st, err, errlen);
	vm_state_free(&st);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * The state blob's fields (format in vm_state.h), each a set of three:
 * its encoder, its decoder (every member read at an explicit width from a
 * reader bounded by the field's length) and its check (what keeps
 * nonsense away from KVM). vm_state_vcpu.c holds a vCPU's, vm_state_vm.c
 * the VM-wide ones; vm_state.c frames them into sections and a blob.
 */
#ifndef VMIG_VMM_VM_STATE_FIELDS_H
#define VMIG_VMM_VM_STATE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "vmm/vm_state.h"

typedef unsigned long long ull; /* for %llx in the messages */

/* Where a check failed, for the message: "VM state: vCPU 0 REGS: ...". */
struct vs_ctx {
	char *err;
	size_t errlen;
	char where[48];
};

/* Says what failed, where, into c->err; returns -EINVAL. */
int vs_fail(const struct vs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A byte KVM treats as a boolean. */
static inline int vs_check_bool(const struct vs_ctx *c, const char *name, unsigned v)
{
	return v > 1 ? vs_fail(c, "%s is %u, not 0 or 1", name, v) : 0;
}

/* An address is canonical if bits 63..bits-1 are all equal. */
static inline bool vs_canonical(uint64_t a, unsigned bits)
{
	uint64_t top = a >> (bits - 1);
	return top == 0 || top == (UINT64_MAX >> (bits - 1));
}

struct vcpu_field {
	uint32_t id;
	const char *name;
	void (*enc)(struct vbuf *b, const struct x86_vcpu_state *v);
	int (*dec)(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c);
	int (*check)(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		     const struct vs_ctx *c); /* NULL: the size is all there is to check */
};

struct vm_field {
	uint32_t id;
	const char *name;
	void (*enc)(struct vbuf *b, const struct x86_vm_state *s);
	int (*dec)(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c);
	int (*check)(const struct x86_vm_state *s, const struct vs_ctx *c);
};

/* In the order they travel and KVM takes them. */
extern const struct vcpu_field vm_state_vcpu_fields[];
extern const size_t vm_state_nr_vcpu_fields;
extern const struct vm_field vm_state_vm_fields[];
extern const size_t vm_state_nr_vm_fields;

#endif

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

/* Architectural bits the checks use (SDM vol. 3, chapter 2). */
#define VS_RFLAGS_FIXED1 (1ull << 1)
#define VS_RFLAGS_KNOWN 0x3f7fd7ull /* CF,1,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT,RF,VM,AC,VIF,VIP,ID */
#define VS_CR0_PE (1ull << 0)
#define VS_CR0_NW (1ull << 29)
#define VS_CR0_CD (1ull << 30)
#define VS_CR0_PG (1ull << 31)
/* PE MP EM TS ET NE, WP, AM, NW CD PG */
#define VS_CR0_KNOWN 0xe005003full
/* Above MAXPHYADDR (at most 52), except LAM's bits 61 and 62 */
#define VS_CR3_RESERVED ((0x1ffull << 52) | (1ull << 63))
#define VS_CR4_PAE (1ull << 5)
#define VS_CR4_LA57 (1ull << 12)
/* VME..SMXE (0-14), FSGSBASE..UINTR (16-25), LAM_SUP (28), FRED (32) */
#define VS_CR4_KNOWN (0x7fffull | (0x3ffull << 16) | (1ull << 28) | (1ull << 32))
#define VS_EFER_LME (1ull << 8)
#define VS_EFER_LMA (1ull << 10)
#define VS_EFER_KNOWN 0x20fd01ull /* SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE, AUTOIBRS */
#define VS_APIC_BASE_EXTD (1ull << 10)
#define VS_APIC_BASE_EN (1ull << 11)
#define VS_APIC_BASE_RESERVED (0xffull | (1ull << 9) | (0xfffull << 52))
#define VS_XCR0_X87 (1ull << 0)
#define VS_XCR0_SSE (1ull << 1)
#define VS_XCR0_AVX (1ull << 2)
#define VS_XCR0_MPX (3ull << 3)
#define VS_XCR0_AVX512 (7ull << 5)
#define VS_XCR0_AMX (3ull << 17)
#define VS_XSAVE_MIN 4096 /* sizeof(struct kvm_xsave): legacy area, header, AVX */
#define VS_XSAVE_MXCSR 24
#define VS_XSAVE_HDR 512 /* XSTATE_BV, XCOMP_BV, 48 reserved bytes */
#define VS_CPUID_FLAGS_KNOWN                                                                       \
	(KVM_CPUID_FLAG_SIGNIFCANT_INDEX | KVM_CPUID_FLAG_STATEFUL_FUNC |                          \
	 KVM_CPUID_FLAG_STATE_READ_NEXT)
#define VS_EVENTS_FLAGS_KNOWN 0x3fu /* KVM_VCPUEVENT_VALID_NMI_PENDING..TRIPLE_FAULT */
#define VS_CLOCK_FLAGS_KNOWN (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)
#define VS_PIT_FLAGS_KNOWN (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)
#define VS_IOAPIC_BASE 0xfec00000ull /* where KVM's in-kernel IOAPIC sits, fixed */

typedef unsigned long long ull;

/* Where a check failed, for the message: "VM state: vCPU 0 REGS: ...". */
struct vs_ctx {
	char *err;
	size_t errlen;
	char where[48];
};

static int fail(const struct vs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const struct vs_ctx *c, const char *fmt, ...)
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

/* A byte KVM treats as a boolean. */
static int check_bool(const struct vs_ctx *c, const char *name, unsigned v)
{
	return v > 1 ? fail(c, "%s is %u, not 0 or 1", name, v) : 0;
}

/* An address is canonical if bits 63..bits-1 are all equal. */
static bool canonical(uint64_t a, unsigned bits)
{
	uint64_t top = a >> (bits - 1);
	return top == 0 || top == (UINT64_MAX >> (bits - 1));
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
		return fail(c, "missing (the section ends first)");
	uint32_t got = vr_u32(r), n = vr_u32(r);
	if (got != id)
		return fail(c, "found field id %u where this field (id %u) belongs", got, id);
	size_t left = r->left;
	const uint8_t *p = vr_take(r, n);
	if (!p)
		return fail(c, "field claims %u bytes, the section has %zu left", n, left);
	vreader_init(sub, p, n);
	return 0;
}

/* A field's decoder must have used exactly its bytes. */
static int field_end(const struct vreader *sub, const struct vs_ctx *c)
{
	if (sub->bad)
		return fail(c, "truncated (field shorter than its contents)");
	if (sub->left)
		return fail(c, "%zu trailing bytes after its contents", sub->left);
	return 0;
}

/* ---- vCPU fields: encode and decode, member by member ---- */

/* CPUID: u32 count, then per entry u32 function, index, flags, eax, ebx, ecx, edx. */
static void enc_cpuid(struct vbuf *b, const struct x86_vcpu_state *v)
{
	uint32_t n = v->nr_cpuid < X86_MAX_CPUID ? v->nr_cpuid : X86_MAX_CPUID;
	vbuf_put_u32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = &v->cpuid[i];
		const uint32_t w[7] = {e->function, e->index, e->flags, e->eax,
				       e->ebx,	    e->ecx,   e->edx};
		for (unsigned j = 0; j < 7; j++)
			vbuf_put_u32(b, w[j]);
	}
}

static int dec_cpuid(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	uint32_t n = vr_u32(r);
	if (n > X86_MAX_CPUID)
		return fail(c, "%u entries, at most %d", n, X86_MAX_CPUID);
	v->nr_cpuid = n;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		uint32_t w[7];
		for (unsigned j = 0; j < 7; j++)
			w[j] = vr_u32(r);
		v->cpuid[i] = (struct kvm_cpuid_entry2){.function = w[0],
							.index = w[1],
							.flags = w[2],
							.eax = w[3],
							.ebx = w[4],
							.ecx = w[5],
							.edx = w[6]};
	}
	return 0;
}

/* MP_STATE: u32. */
static void enc_mp(struct vbuf *b, const struct x86_vcpu_state *v)
{
	vbuf_put_u32(b, v->mp.mp_state);
}

static int dec_mp(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	v->mp.mp_state = vr_u32(r);
	return 0;
}

/* REGS: u64 rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags. */
static void enc_regs(struct vbuf *b, const struct x86_vcpu_state *v)
{
	const struct kvm_regs *g = &v->regs;
	const uint64_t w[18] = {g->rax, g->rbx, g->rcx, g->rdx, g->rsi, g->rdi,
				g->rsp, g->rbp, g->r8,	g->r9,	g->r10, g->r11,
				g->r12, g->r13, g->r14, g->r15, g->rip, g->rflags};
	for (unsigned i = 0; i < 18; i++)
		vbuf_put_u64(b, w[i]);
}

static int dec_regs(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	uint64_t w[18];
	for (unsigned i = 0; i < 18; i++)
		w[i] = vr_u64(r);
	v->regs = (struct kvm_regs){.rax = w[0],
				    .rbx = w[1],
				    .rcx = w[2],
				    .rdx = w[3],
				    .rsi = w[4],
				    .rdi = w[5],
				    .rsp = w[6],
				    .rbp = w[7],
				    .r8 = w[8],
				    .r9 = w[9],
				    .r10 = w[10],
				    .r11 = w[11],
				    .r12 = w[12],
				    .r13 = w[13],
				    .r14 = w[14],
				    .r15 = w[15],
				    .rip = w[16],
				    .rflags = w[17]};
	return 0;
}

/* Segment: u64 base, u32 limit, u16 selector, u8 type present dpl db s l g avl unusable. */
static void enc_segment(struct vbuf *b, const struct kvm_segment *s)
{
	vbuf_put_u64(b, s->base);
	vbuf_put_u32(b, s->limit);
	vbuf_put_u16(b, s->selector);
	const uint8_t f[9] = {s->type, s->present, s->dpl, s->db,      s->s,
			      s->l,    s->g,	   s->avl, s->unusable};
	vbuf_put(b, f, sizeof(f));
}

static void dec_segment(struct vreader *r, struct kvm_segment *s)
{
	s->base = vr_u64(r);
	s->limit = vr_u32(r);
	s->selector = vr_u16(r);
	s->type = vr_u8(r);
	s->present = vr_u8(r);
	s->dpl = vr_u8(r);
	s->db = vr_u8(r);
	s->s = vr_u8(r);
	s->l = vr_u8(r);
	s->g = vr_u8(r);
	s->avl = vr_u8(r);
	s->unusable = vr_u8(r);
}

/* SREGS: segments CS DS ES FS GS SS TR LDT; GDT and IDT as u64 base, u16 limit;
 * u64 CR0 CR2 CR3 CR4 CR8 EFER APIC_BASE; u64 interrupt_bitmap[4]. */
static void enc_sregs(struct vbuf *b, const struct x86_vcpu_state *v)
{
	const struct kvm_sregs *s = &v->sregs;
	const struct kvm_segment *seg[8] = {&s->cs, &s->ds, &s->es, &s->fs,
					    &s->gs, &s->ss, &s->tr, &s->ldt};
	for (unsigned i = 0; i < 8; i++)
		enc_segment(b, seg[i]);
	vbuf_put_u64(b, s->gdt.base);
	vbuf_put_u16(b, s->gdt.limit);
	vbuf_put_u64(b, s->idt.base);
	vbuf_put_u16(b, s->idt.limit);
	const uint64_t w[7] = {s->cr0, s->cr2, s->cr3, s->cr4, s->cr8, s->efer, s->apic_base};
	for (unsigned i = 0; i < 7; i++)
		vbuf_put_u64(b, w[i]);
	for (unsigned i = 0; i < 4; i++)
		vbuf_put_u64(b, s->interrupt_bitmap[i]);
}

static int dec_sregs(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	struct kvm_sregs *s = &v->sregs;
	struct kvm_segment *seg[8] = {&s->cs, &s->ds, &s->es, &s->fs,
				      &s->gs, &s->ss, &s->tr, &s->ldt};
	for (unsigned i = 0; i < 8; i++)
		dec_segment(r, seg[i]);
	s->gdt.base = vr_u64(r);
	s->gdt.limit = vr_u16(r);
	s->idt.base = vr_u64(r);
	s->idt.limit = vr_u16(r);
	__u64 *w[7] = {&s->cr0, &s->cr2, &s->cr3, &s->cr4, &s->cr8, &s->efer, &s->apic_base};
	for (unsigned i = 0; i < 7; i++)
		*w[i] = vr_u64(r);
	for (unsigned i = 0; i < 4; i++)
		s->interrupt_bitmap[i] = vr_u64(r);
	return 0;
}

/* XSAVE: the image's bytes (the field length is its size). The image is an
 * architectural little-endian layout, so bytes are its explicit encoding. */
static void enc_xsave(struct vbuf *b, const struct x86_vcpu_state *v)
{
	size_t n = v->xsave_len < sizeof(v->xsave) ? v->xsave_len : sizeof(v->xsave);
	vbuf_put(b, v->xsave, n);
}

static int dec_xsave(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	size_t n = r->left;
	if (n < VS_XSAVE_MIN || n > X86_XSAVE_MAX || n % 4)
		return fail(c, "%zu bytes; an XSAVE image is %d..%d bytes, a multiple of 4", n,
			    VS_XSAVE_MIN, X86_XSAVE_MAX);
	vr_get(r, v->xsave, n);
	v->xsave_len = (uint32_t)n;
	return 0;
}

/* XCRS: u32 count, u32 flags, then per XCR u32 index, u64 value. */
static void enc_xcrs(struct vbuf *b, const struct x86_vcpu_state *v)
{
	uint32_t n = v->xcrs.nr_xcrs < KVM_MAX_XCRS ? v->xcrs.nr_xcrs : KVM_MAX_XCRS;
	vbuf_put_u32(b, n);
	vbuf_put_u32(b, v->xcrs.flags);
	for (uint32_t i = 0; i < n; i++) {
		vbuf_put_u32(b, v->xcrs.xcrs[i].xcr);
		vbuf_put_u64(b, v->xcrs.xcrs[i].value);
	}
}

static int dec_xcrs(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	uint32_t n = vr_u32(r);
	if (n > KVM_MAX_XCRS)
		return fail(c, "%u XCRs, at most %d", n, KVM_MAX_XCRS);
	v->xcrs.nr_xcrs = n;
	v->xcrs.flags = vr_u32(r);
	for (uint32_t i = 0; i < n; i++) {
		v->xcrs.xcrs[i].xcr = vr_u32(r);
		v->xcrs.xcrs[i].value = vr_u64(r);
	}
	return 0;
}

/* DEBUGREGS: u64 DR0..DR3, DR6, DR7, flags. */
static void enc_dregs(struct vbuf *b, const struct x86_vcpu_state *v)
{
	for (unsigned i = 0; i < 4; i++)
		vbuf_put_u64(b, v->dregs.db[i]);
	vbuf_put_u64(b, v->dregs.dr6);
	vbuf_put_u64(b, v->dregs.dr7);
	vbuf_put_u64(b, v->dregs.flags);
}

static int dec_dregs(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	for (unsigned i = 0; i < 4; i++)
		v->dregs.db[i] = vr_u64(r);
	v->dregs.dr6 = vr_u64(r);
	v->dregs.dr7 = vr_u64(r);
	v->dregs.flags = vr_u64(r);
	return 0;
}

/* LAPIC: the 1024-byte register page (architectural layout), exactly. */
static void enc_lapic(struct vbuf *b, const struct x86_vcpu_state *v)
{
	vbuf_put(b, v->lapic.regs, KVM_APIC_REG_SIZE);
}

static int dec_lapic(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	vr_get(r, v->lapic.regs, KVM_APIC_REG_SIZE);
	return 0;
}

/* MSRS: u32 count, then per MSR u32 index, u64 value. */
static void enc_msrs(struct vbuf *b, const struct x86_vcpu_state *v)
{
	uint32_t n = v->nr_msrs < X86_MAX_MSRS ? v->nr_msrs : X86_MAX_MSRS;
	vbuf_put_u32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		vbuf_put_u32(b, v->msrs[i].index);
		vbuf_put_u64(b, v->msrs[i].data);
	}
}

static int dec_msrs(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	uint32_t n = vr_u32(r);
	if (n > X86_MAX_MSRS)
		return fail(c, "%u MSRs, at most %d", n, X86_MAX_MSRS);
	v->nr_msrs = n;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		v->msrs[i].index = vr_u32(r);
		v->msrs[i].data = vr_u64(r);
	}
	return 0;
}

/* EVENTS: exception {u8 injected nr has_error_code pending, u32 error_code},
 * interrupt {u8 injected nr soft shadow}, nmi {u8 injected pending masked},
 * u32 sipi_vector, u32 flags, smi {u8 smm pending smm_inside_nmi
 * latched_init}, u8 triple_fault.pending, u8 exception_has_payload,
 * u64 exception_payload. */
static void enc_events(struct vbuf *b, const struct x86_vcpu_state *v)
{
	const struct kvm_vcpu_events *e = &v->events;
	const uint8_t a[11] = {
	    e->exception.injected, e->exception.nr,	  e->exception.has_error_code,
	    e->exception.pending,  e->interrupt.injected, e->interrupt.nr,
	    e->interrupt.soft,	   e->interrupt.shadow,	  e->nmi.injected,
	    e->nmi.pending,	   e->nmi.masked};
	vbuf_put(b, a, 4);
	vbuf_put_u32(b, e->exception.error_code);
	vbuf_put(b, a + 4, sizeof(a) - 4);
	vbuf_put_u32(b, e->sipi_vector);
	vbuf_put_u32(b, e->flags);
	const uint8_t s[6] = {
	    e->smi.smm,		 e->smi.pending,	  e->smi.smm_inside_nmi,
	    e->smi.latched_init, e->triple_fault.pending, e->exception_has_payload};
	vbuf_put(b, s, sizeof(s));
	vbuf_put_u64(b, e->exception_payload);
}

static int dec_events(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c)
{
	struct kvm_vcpu_events *e = &v->events;
	e->exception.injected = vr_u8(r);
	e->exception.nr = vr_u8(r);
	e->exception.has_error_code = vr_u8(r);
	e->exception.pending = vr_u8(r);
	e->exception.error_code = vr_u32(r);
	e->interrupt.injected = vr_u8(r);
	e->interrupt.nr = vr_u8(r);
	e->interrupt.soft = vr_u8(r);
	e->interrupt.shadow = vr_u8(r);
	e->nmi.injected = vr_u8(r);
	e->nmi.pending = vr_u8(r);
	e->nmi.masked = vr_u8(r);
	e->sipi_vector = vr_u32(r);
	e->flags = vr_u32(r);
	e->smi.smm = vr_u8(r);
	e->smi.pending = vr_u8(r);
	e->smi.smm_inside_nmi = vr_u8(r);
	e->smi.latched_init = vr_u8(r);
	e->triple_fault.pending = vr_u8(r);
	e->exception_has_payload = vr_u8(r);
	e->exception_payload = vr_u64(r);
	return 0;
}

/* ---- vCPU fields: validation ---- */

static int check_cpuid(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		       const struct vs_ctx *c)
{
	for (uint32_t i = 0; i < v->nr_cpuid; i++) {
		const struct kvm_cpuid_entry2 *e = &v->cpuid[i];
		if (e->flags & ~VS_CPUID_FLAGS_KNOWN)
			return fail(c, "leaf 0x%x.%u has unknown flags 0x%x", e->function, e->index,
				    e->flags);
		/* Two answers for one leaf: which one the guest sees is up to KVM. */
		for (uint32_t j = 0; j < i; j++)
			if (v->cpuid[j].function == e->function && v->cpuid[j].index == e->index)
				return fail(c, "leaf 0x%x.%u appears twice", e->function, e->index);
	}
	return 0;
}

static int check_mp(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		    const struct vs_ctx *c)
{
	/* The states KVM_SET_MP_STATE accepts on x86. */
	switch (v->mp.mp_state) {
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
	case KVM_MP_STATE_HALTED:
	case KVM_MP_STATE_SIPI_RECEIVED:
	case KVM_MP_STATE_AP_RESET_HOLD: return 0;
	default: return fail(c, "%u is not an x86 MP state", v->mp.mp_state);
	}
}

static bool in_64bit_mode(const struct kvm_sregs *s)
{
	return (s->efer & VS_EFER_LMA) && s->cs.l;
}

static int check_regs(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		      const struct vs_ctx *c)
{
	uint64_t fl = v->regs.rflags;
	if (!(fl & VS_RFLAGS_FIXED1))
		return fail(c, "RFLAGS 0x%llx lacks bit 1 (always set)", (ull)fl);
	if (fl & ~VS_RFLAGS_KNOWN)
		return fail(c, "RFLAGS 0x%llx has reserved bits set (0x%llx)", (ull)fl,
			    (ull)(fl & ~VS_RFLAGS_KNOWN));
	/* In 64-bit mode RIP is always canonical: a jump elsewhere faults. */
	unsigned va_bits = (v->sregs.cr4 & VS_CR4_LA57) ? 57 : 48;
	if (in_64bit_mode(&v->sregs) && !canonical(v->regs.rip, va_bits))
		return fail(c, "RIP 0x%llx is not canonical in 64-bit mode", (ull)v->regs.rip);
	return 0;
}

static int check_segment(const struct kvm_segment *s, const char *name, const struct vs_ctx *c)
{
	static const char *const bit_names[7] = {"present", "db", "s", "l", "g", "avl", "unusable"};
	const uint8_t bits[7] = {s->present, s->db, s->s, s->l, s->g, s->avl, s->unusable};
	for (unsigned i = 0; i < 7; i++)
		if (bits[i] > 1)
			return fail(c, "%s.%s is %u, not 0 or 1", name, bit_names[i], bits[i]);
	if (s->type > 15)
		return fail(c, "%s.type is %u, not 0..15", name, s->type);
	if (s->dpl > 3)
		return fail(c, "%s.dpl is %u, not 0..3", name, s->dpl);
	return 0;
}

/* CR0, CR3, CR4, CR8, EFER and the mode they make together, as KVM and VM
 * entry require them. */
static int check_control_regs(const struct kvm_sregs *s, const struct vs_ctx *c)
{
	if (s->cr0 & ~VS_CR0_KNOWN)
		return fail(c, "CR0 0x%llx has reserved bits set", (ull)s->cr0);
	if ((s->cr0 & VS_CR0_NW) && !(s->cr0 & VS_CR0_CD))
		return fail(c, "CR0 0x%llx sets NW without CD", (ull)s->cr0);
	if ((s->cr0 & VS_CR0_PG) && !(s->cr0 & VS_CR0_PE))
		return fail(c, "CR0 0x%llx sets PG without PE", (ull)s->cr0);
	if (s->cr3 & VS_CR3_RESERVED)
		return fail(c, "CR3 0x%llx has reserved bits set", (ull)s->cr3);
	if (s->cr4 & ~VS_CR4_KNOWN)
		return fail(c, "CR4 0x%llx has reserved bits set", (ull)s->cr4);
	if (s->cr8 > 15)
		return fail(c, "CR8 %llu is not 0..15", (ull)s->cr8);
	if (s->efer & ~VS_EFER_KNOWN)
		return fail(c, "EFER 0x%llx has reserved bits set", (ull)s->efer);
	bool long_mode = (s->efer & VS_EFER_LME) && (s->cr0 & VS_CR0_PG);
	if (long_mode && (!(s->cr4 & VS_CR4_PAE) || !(s->efer & VS_EFER_LMA)))
		return fail(c, "long mode (EFER.LME, CR0.PG) without CR4.PAE or EFER.LMA");
	if (!long_mode && ((s->efer & VS_EFER_LMA) || s->cs.l))
		return fail(c, "EFER.LMA or CS.L set outside long mode");
	if (long_mode && s->cs.l && s->cs.db)
		return fail(c, "CS has both L and D/B set");
	return 0;
}

static int check_sregs(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		       const struct vs_ctx *c)
{
	const struct kvm_sregs *s = &v->sregs;
	static const char *const names[8] = {"CS", "DS", "ES", "FS", "GS", "SS", "TR", "LDT"};
	const struct kvm_segment *seg[8] = {&s->cs, &s->ds, &s->es, &s->fs,
					    &s->gs, &s->ss, &s->tr, &s->ldt};
	int r;
	for (unsigned i = 0; i < 8; i++)
		if ((r = check_segment(seg[i], names[i], c)))
			return r;
	if ((r = check_control_regs(s, c)))
		return r;
	if (s->apic_base & VS_APIC_BASE_RESERVED)
		return fail(c, "APIC base 0x%llx has reserved bits set", (ull)s->apic_base);
	if ((s->apic_base & VS_APIC_BASE_EXTD) && !(s->apic_base & VS_APIC_BASE_EN))
		return fail(c, "APIC base 0x%llx enables x2APIC with the APIC off",
			    (ull)s->apic_base);
	/* KVM reports at most the one injected external interrupt here. */
	int pending = 0;
	for (unsigned i = 0; i < 4; i++)
		pending += __builtin_popcountll(s->interrupt_bitmap[i]);
	if (pending > 1)
		return fail(c, "interrupt bitmap has %d vectors set, at most 1", pending);
	return 0;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8); /* little-endian host */
	return v;
}

static int check_xsave(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		       const struct vs_ctx *c)
{
	const uint8_t *x = (const uint8_t *)v->xsave;
	if (v->xsave_len > lim->xsave_max)
		return fail(c, "%u bytes, this host's KVM takes at most %u", v->xsave_len,
			    lim->xsave_max);
	uint32_t mxcsr;
	memcpy(&mxcsr, x + VS_XSAVE_MXCSR, 4);
	if (mxcsr >> 16)
		return fail(c, "MXCSR 0x%x has reserved bits set", mxcsr);
	uint64_t xstate_bv = get_le64(x + VS_XSAVE_HDR), xcomp_bv = get_le64(x + VS_XSAVE_HDR + 8);
	if (xstate_bv & ~lim->xcr0_supported)
		return fail(c, "XSTATE_BV 0x%llx has components this host lacks (supported 0x%llx)",
			    (ull)xstate_bv, (ull)lim->xcr0_supported);
	/* KVM's ABI is the standard (uncompacted) format only. */
	if (xcomp_bv)
		return fail(c, "XCOMP_BV is 0x%llx, not 0 (standard format)", (ull)xcomp_bv);
	for (unsigned i = VS_XSAVE_HDR + 16; i < VS_XSAVE_HDR + 64; i++)
		if (x[i])
			return fail(c, "XSAVE header byte %u is reserved but not zero",
				    i - VS_XSAVE_HDR);
	return 0;
}

/* The rules KVM's __kvm_set_xcr applies to XCR0, against this host. */
static int check_xcr0(uint64_t xcr0, const struct vm_state_limits *lim, const struct vs_ctx *c)
{
	if (!(xcr0 & VS_XCR0_X87))
		return fail(c, "XCR0 0x%llx lacks x87 (bit 0)", (ull)xcr0);
	if (xcr0 & ~lim->xcr0_supported)
		return fail(c, "XCR0 0x%llx enables components this host lacks (supported 0x%llx)",
			    (ull)xcr0, (ull)lim->xcr0_supported);
	if ((xcr0 & VS_XCR0_AVX) && !(xcr0 & VS_XCR0_SSE))
		return fail(c, "XCR0 0x%llx enables AVX without SSE", (ull)xcr0);
	if ((xcr0 & VS_XCR0_MPX) && (xcr0 & VS_XCR0_MPX) != VS_XCR0_MPX)
		return fail(c, "XCR0 0x%llx enables half of MPX", (ull)xcr0);
	if ((xcr0 & VS_XCR0_AVX512) &&
	    ((xcr0 & VS_XCR0_AVX512) != VS_XCR0_AVX512 || !(xcr0 & VS_XCR0_AVX)))
		return fail(c, "XCR0 0x%llx enables part of AVX-512 or it without AVX", (ull)xcr0);
	if ((xcr0 & VS_XCR0_AMX) && (xcr0 & VS_XCR0_AMX) != VS_XCR0_AMX)
		return fail(c, "XCR0 0x%llx enables half of AMX", (ull)xcr0);
	return 0;
}

static int check_xcrs(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		      const struct vs_ctx *c)
{
	if (v->xcrs.flags)
		return fail(c, "flags 0x%x, KVM defines none", v->xcrs.flags);
	for (uint32_t i = 0; i < v->xcrs.nr_xcrs; i++) {
		const struct kvm_xcr *x = &v->xcrs.xcrs[i];
		/* KVM sets XCR0 only; another index would be dropped silently. */
		if (x->xcr != 0)
			return fail(c, "XCR%u is not one KVM restores (only XCR0)", x->xcr);
		if (i > 0)
			return fail(c, "XCR0 appears twice");
		int r = check_xcr0(x->value, lim, c);
		if (r)
			return r;
	}
	return 0;
}

static int check_dregs(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		       const struct vs_ctx *c)
{
	/* KVM_SET_DEBUGREGS refuses these; say which before anything is loaded. */
	if (v->dregs.dr6 >> 32)
		return fail(c, "DR6 0x%llx has bits above 31", (ull)v->dregs.dr6);
	if (v->dregs.dr7 >> 32)
		return fail(c, "DR7 0x%llx has bits above 31", (ull)v->dregs.dr7);
	if (v->dregs.flags)
		return fail(c, "flags 0x%llx, KVM defines none", (ull)v->dregs.flags);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool host_has_msr(const struct vm_state_limits *lim, uint32_t index)
{
	for (unsigned i = 0; i < lim->nr_msrs; i++)
		if (lim->msrs[i] == index)
			return true;
	return false;
}

static int check_msrs(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		      const struct vs_ctx *c)
{
	uint32_t idx[X86_MAX_MSRS];
	for (uint32_t i = 0; i < v->nr_msrs; i++) {
		idx[i] = v->msrs[i].index;
		if (lim->msrs && !host_has_msr(lim, idx[i]))
			return fail(c, "MSR 0x%x is not one this host's KVM saves", idx[i]);
		/* The deadline is relative to the TSC, which must be set first. */
		if (idx[i] == X86_MSR_TSC_DEADLINE && i + 1 != v->nr_msrs)
			return fail(c, "TSC_DEADLINE (0x%x) is not the last MSR", idx[i]);
	}
	qsort(idx, v->nr_msrs, sizeof(idx[0]), cmp_u32);
	for (uint32_t i = 1; i < v->nr_msrs; i++)
		if (idx[i] == idx[i - 1])
			return fail(c, "MSR 0x%x appears twice", idx[i]);
	return 0;
}

/* The rules of KVM_SET_VCPU_EVENTS, and booleans as booleans. */
static int check_events(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
			const struct vs_ctx *c)
{
	const struct kvm_vcpu_events *e = &v->events;
	static const char *const names[13] = {"exception.injected",   "exception.has_error_code",
					      "exception.pending",    "interrupt.injected",
					      "interrupt.soft",	      "nmi.injected",
					      "nmi.masked",	      "smi.smm",
					      "smi.pending",	      "smi.smm_inside_nmi",
					      "smi.latched_init",     "triple_fault.pending",
					      "exception_has_payload"};
	const uint8_t bools[13] = {e->exception.injected,   e->exception.has_error_code,
				   e->exception.pending,    e->interrupt.injected,
				   e->interrupt.soft,	    e->nmi.injected,
				   e->nmi.masked,	    e->smi.smm,
				   e->smi.pending,	    e->smi.smm_inside_nmi,
				   e->smi.latched_init,	    e->triple_fault.pending,
				   e->exception_has_payload};
	int r;
	for (unsigned i = 0; i < 13; i++)
		if ((r = check_bool(c, names[i], bools[i])))
			return r;
	if (e->flags & ~VS_EVENTS_FLAGS_KNOWN)
		return fail(c, "flags 0x%x has unknown bits", e->flags);
	if ((e->exception.injected || e->exception.pending) &&
	    (e->exception.nr > 31 || e->exception.nr == 2))
		return fail(c, "exception vector %u is not an exception", e->exception.nr);
	/* With virtual NMIs KVM counts up to two pending NMIs. */
	if (e->nmi.pending > 2)
		return fail(c, "nmi.pending is %u, at most 2", e->nmi.pending);
	if (e->interrupt.shadow & ~(KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI))
		return fail(c, "interrupt.shadow 0x%x has unknown bits", e->interrupt.shadow);
	if (e->sipi_vector > 0xff)
		return fail(c, "sipi_vector 0x%x is not a vector", e->sipi_vector);
	if ((e->flags & KVM_VCPUEVENT_VALID_SMM) && (e->smi.smm || e->smi.pending) &&
	    v->mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return fail(c, "SMM with an INIT received (INIT is latched in SMM)");
	return 0;
}

struct vcpu_field {
	uint32_t id;
	const char *name;
	void (*enc)(struct vbuf *b, const struct x86_vcpu_state *v);
	int (*dec)(struct vreader *r, struct x86_vcpu_state *v, const struct vs_ctx *c);
	int (*check)(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		     const struct vs_ctx *c); /* NULL: the size is all there is to check */
};

/* In the order they travel and KVM takes them. */
static const struct vcpu_field vcpu_fields[] = {
    {VMS_F_CPUID, "CPUID", enc_cpuid, dec_cpuid, check_cpuid},
    {VMS_F_MP_STATE, "MP_STATE", enc_mp, dec_mp, check_mp},
    {VMS_F_REGS, "REGS", enc_regs, dec_regs, check_regs},
    {VMS_F_SREGS, "SREGS", enc_sregs, dec_sregs, check_sregs},
    {VMS_F_XSAVE, "XSAVE", enc_xsave, dec_xsave, check_xsave},
    {VMS_F_XCRS, "XCRS", enc_xcrs, dec_xcrs, check_xcrs},
    {VMS_F_DEBUGREGS, "DEBUGREGS", enc_dregs, dec_dregs, check_dregs},
    {VMS_F_LAPIC, "LAPIC", enc_lapic, dec_lapic, NULL},
    {VMS_F_MSRS, "MSRS", enc_msrs, dec_msrs, check_msrs},
    {VMS_F_EVENTS, "EVENTS", enc_events, dec_events, check_events},
};
#define NR_VCPU_FIELDS (sizeof(vcpu_fields) / sizeof(vcpu_fields[0]))

/* ---- VM-wide fields ---- */

/* CLOCK: u64 clock, u32 flags, u64 realtime, u64 host_tsc. */
static void enc_clock(struct vbuf *b, const struct x86_vm_state *s)
{
	vbuf_put_u64(b, s->clock.clock);
	vbuf_put_u32(b, s->clock.flags);
	vbuf_put_u64(b, s->clock.realtime);
	vbuf_put_u64(b, s->clock.host_tsc);
}

static int dec_clock(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	s->clock.clock = vr_u64(r);
	s->clock.flags = vr_u32(r);
	s->clock.realtime = vr_u64(r);
	s->clock.host_tsc = vr_u64(r);
	return 0;
}

static int check_clock(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	if (s->clock.flags & ~VS_CLOCK_FLAGS_KNOWN)
		return fail(c, "flags 0x%x has unknown bits", s->clock.flags);
	return 0;
}

/* PIT2: per channel u32 count, u16 latched_count, u8 count_latched
 * status_latched status read_state write_state write_latch rw_mode mode bcd
 * gate, u64 count_load_time; then u32 flags. */
static void enc_pit(struct vbuf *b, const struct x86_vm_state *s)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *ch = &s->pit.channels[i];
		vbuf_put_u32(b, ch->count);
		vbuf_put_u16(b, ch->latched_count);
		const uint8_t f[10] = {ch->count_latched, ch->status_latched, ch->status,
				       ch->read_state,	  ch->write_state,    ch->write_latch,
				       ch->rw_mode,	  ch->mode,	      ch->bcd,
				       ch->gate};
		vbuf_put(b, f, sizeof(f));
		vbuf_put_u64(b, (uint64_t)ch->count_load_time);
	}
	vbuf_put_u32(b, s->pit.flags);
}

static int dec_pit(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *ch = &s->pit.channels[i];
		ch->count = vr_u32(r);
		ch->latched_count = vr_u16(r);
		uint8_t *f[10] = {&ch->count_latched, &ch->status_latched, &ch->status,
				  &ch->read_state,    &ch->write_state,	   &ch->write_latch,
				  &ch->rw_mode,	      &ch->mode,	   &ch->bcd,
				  &ch->gate};
		for (unsigned j = 0; j < 10; j++)
			*f[j] = vr_u8(r);
		ch->count_load_time = (int64_t)vr_u64(r);
	}
	s->pit.flags = vr_u32(r);
	return 0;
}

/* Values KVM's i8254 can reach: count 1..0x10000 (0 before the first load),
 * access states 0..4 (RW_STATE_LSB..WORD1), modes 0..5 or 0xff (reset). */
static int check_pit(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *ch = &s->pit.channels[i];
		if (ch->count > 0x10000)
			return fail(c, "channel %u count 0x%x is above 0x10000", i, ch->count);
		if (ch->count_latched > 3 || ch->rw_mode > 3)
			return fail(c, "channel %u count_latched %u / rw_mode %u not 0..3", i,
				    ch->count_latched, ch->rw_mode);
		if (ch->read_state > 4 || ch->write_state > 4)
			return fail(c, "channel %u read_state %u / write_state %u not 0..4", i,
				    ch->read_state, ch->write_state);
		if (ch->mode > 5 && ch->mode != 0xff)
			return fail(c, "channel %u mode %u is not 0..5 (or 0xff, unset)", i,
				    ch->mode);
		if (ch->status_latched > 1 || ch->bcd > 1 || ch->gate > 1)
			return fail(c, "channel %u status_latched/bcd/gate %u/%u/%u not 0 or 1", i,
				    ch->status_latched, ch->bcd, ch->gate);
	}
	if (s->pit.flags & ~VS_PIT_FLAGS_KNOWN)
		return fail(c, "flags 0x%x has unknown bits", s->pit.flags);
	return 0;
}

/* PIC: the 16 u8 registers of struct kvm_pic_state, in its order. */
static void enc_pic(struct vbuf *b, const struct kvm_pic_state *p)
{
	const uint8_t f[16] = {p->last_irr,
			       p->irr,
			       p->imr,
			       p->isr,
			       p->priority_add,
			       p->irq_base,
			       p->read_reg_select,
			       p->poll,
			       p->special_mask,
			       p->init_state,
			       p->auto_eoi,
			       p->rotate_on_auto_eoi,
			       p->special_fully_nested_mode,
			       p->init4,
			       p->elcr,
			       p->elcr_mask};
	vbuf_put(b, f, sizeof(f));
}

static void dec_pic(struct vreader *r, struct kvm_pic_state *p)
{
	uint8_t *f[16] = {&p->last_irr,
			  &p->irr,
			  &p->imr,
			  &p->isr,
			  &p->priority_add,
			  &p->irq_base,
			  &p->read_reg_select,
			  &p->poll,
			  &p->special_mask,
			  &p->init_state,
			  &p->auto_eoi,
			  &p->rotate_on_auto_eoi,
			  &p->special_fully_nested_mode,
			  &p->init4,
			  &p->elcr,
			  &p->elcr_mask};
	for (unsigned i = 0; i < 16; i++)
		*f[i] = vr_u8(r);
}

/* Values KVM's i8259 can reach (flags are single bits, init_state 0..3). */
static int check_pic(const struct kvm_pic_state *p, const struct vs_ctx *c)
{
	static const char *const names[7] = {
	    "read_reg_select",		 "poll", "special_mask", "auto_eoi", "rotate_on_auto_eoi",
	    "special_fully_nested_mode", "init4"};
	const uint8_t bools[7] = {p->read_reg_select,
				  p->poll,
				  p->special_mask,
				  p->auto_eoi,
				  p->rotate_on_auto_eoi,
				  p->special_fully_nested_mode,
				  p->init4};
	int r;
	for (unsigned i = 0; i < 7; i++)
		if ((r = check_bool(c, names[i], bools[i])))
			return r;
	if (p->priority_add > 7)
		return fail(c, "priority_add %u is not 0..7", p->priority_add);
	if (p->irq_base & 7)
		return fail(c, "irq_base 0x%x is not a multiple of 8", p->irq_base);
	if (p->init_state > 3)
		return fail(c, "init_state %u is not 0..3", p->init_state);
	if (p->elcr & ~p->elcr_mask)
		return fail(c, "ELCR 0x%x sets bits outside its mask 0x%x", p->elcr, p->elcr_mask);
	return 0;
}

static void enc_pic_master(struct vbuf *b, const struct x86_vm_state *s)
{
	enc_pic(b, &s->pic[0]);
}
static void enc_pic_slave(struct vbuf *b, const struct x86_vm_state *s)
{
	enc_pic(b, &s->pic[1]);
}

static int dec_pic_master(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	dec_pic(r, &s->pic[0]);
	return 0;
}

static int dec_pic_slave(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	dec_pic(r, &s->pic[1]);
	return 0;
}

static int check_pic_master(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	return check_pic(&s->pic[0], c);
}

static int check_pic_slave(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	return check_pic(&s->pic[1], c);
}

/* IOAPIC: u64 base_address, u32 ioregsel, u32 id, u32 irr, u32 pin count
 * (KVM_IOAPIC_NUM_PINS), then per pin its u64 redirection entry. */
static void enc_ioapic(struct vbuf *b, const struct x86_vm_state *s)
{
	vbuf_put_u64(b, s->ioapic.base_address);
	vbuf_put_u32(b, s->ioapic.ioregsel);
	vbuf_put_u32(b, s->ioapic.id);
	vbuf_put_u32(b, s->ioapic.irr);
	vbuf_put_u32(b, KVM_IOAPIC_NUM_PINS);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		vbuf_put_u64(b, s->ioapic.redirtbl[i].bits);
}

static int dec_ioapic(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	s->ioapic.base_address = vr_u64(r);
	s->ioapic.ioregsel = vr_u32(r);
	s->ioapic.id = vr_u32(r);
	s->ioapic.irr = vr_u32(r);
	uint32_t pins = vr_u32(r);
	if (!r->bad && pins != KVM_IOAPIC_NUM_PINS)
		return fail(c, "%u redirection entries, KVM's IOAPIC has %d", pins,
			    KVM_IOAPIC_NUM_PINS);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		s->ioapic.redirtbl[i].bits = vr_u64(r);
	return 0;
}

static int check_ioapic(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	const struct kvm_ioapic_state *io = &s->ioapic;
	if (io->base_address != VS_IOAPIC_BASE)
		return fail(c, "base address 0x%llx, KVM's IOAPIC is at 0x%llx",
			    (ull)io->base_address, VS_IOAPIC_BASE);
	if (io->ioregsel > 0xff)
		return fail(c, "IOREGSEL 0x%x is not 8 bits", io->ioregsel);
	if (io->id > 0xf)
		return fail(c, "ID %u is not 4 bits", io->id);
	if (io->irr >> KVM_IOAPIC_NUM_PINS)
		return fail(c, "IRR 0x%x has bits beyond pin %d", io->irr, KVM_IOAPIC_NUM_PINS - 1);
	return 0;
}

struct vm_field {
	uint32_t id;
	const char *name;
	void (*enc)(struct vbuf *b, const struct x86_vm_state *s);
	int (*dec)(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c);
	int (*check)(const struct x86_vm_state *s, const struct vs_ctx *c);
};

static const struct vm_field vm_fields[] = {
    {VMS_F_CLOCK, "CLOCK", enc_clock, dec_clock, check_clock},
    {VMS_F_PIT2, "PIT2", enc_pit, dec_pit, check_pit},
    {VMS_F_PIC_MASTER, "PIC_MASTER", enc_pic_master, dec_pic_master, check_pic_master},
    {VMS_F_PIC_SLAVE, "PIC_SLAVE", enc_pic_slave, dec_pic_slave, check_pic_slave},
    {VMS_F_IOAPIC, "IOAPIC", enc_ioapic, dec_ioapic, check_ioapic},
};
#define NR_VM_FIELDS (sizeof(vm_fields) / sizeof(vm_fields[0]))

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
	for (size_t i = 0; i < NR_VM_FIELDS; i++) {
		size_t at = rec_begin(b, vm_fields[i].id);
		vm_fields[i].enc(b, s);
		rec_end(b, at);
	}
	rec_end(b, sec);
}

static void encode_vcpu_section(struct vbuf *b, uint32_t index, const struct x86_vcpu_state *v)
{
	size_t sec = rec_begin(b, VMS_SEC_VCPU);
	vbuf_put_u32(b, index);
	for (size_t i = 0; i < NR_VCPU_FIELDS; i++) {
		size_t at = rec_begin(b, vcpu_fields[i].id);
		vcpu_fields[i].enc(b, v);
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
	for (size_t i = 0; i < NR_VM_FIELDS; i++) {
		const struct vm_field *f = &vm_fields[i];
		snprintf(c->where, sizeof(c->where), "VM %s", f->name);
		if ((rc = field_begin(&r, f->id, &sub, c)) || (rc = f->dec(&sub, s, c)) ||
		    (rc = field_end(&sub, c)))
			return rc;
	}
	snprintf(c->where, sizeof(c->where), "VM section");
	return r.left ? fail(c, "%zu bytes after its last field", r.left) : 0;
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
		return fail(c, "%u bytes, too short for its vCPU index", n);
	if (idx >= st->nr_vcpus)
		return fail(c, "for vCPU %u, but this VM has %u vCPUs", idx, st->nr_vcpus);
	snprintf(c->where, sizeof(c->where), "vCPU %u", idx);
	if (seen->vcpu[idx])
		return fail(c, "its section appears twice");
	seen->vcpu[idx] = true;
	struct x86_vcpu_state *v = &st->vcpus[idx];
	memset(v, 0, sizeof(*v)); /* padding, unsent members and the XSAVE tail read as zero */
	for (size_t i = 0; i < NR_VCPU_FIELDS; i++) {
		const struct vcpu_field *f = &vcpu_fields[i];
		snprintf(c->where, sizeof(c->where), "vCPU %u %s", idx, f->name);
		if ((rc = field_begin(&r, f->id, &sub, c)) || (rc = f->dec(&sub, v, c)) ||
		    (rc = field_end(&sub, c)))
			return rc;
	}
	snprintf(c->where, sizeof(c->where), "vCPU %u", idx);
	return r.left ? fail(c, "%zu bytes after its last field", r.left) : 0;
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
	return r ? fail(c, "%s", msg) : 0;
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
		return fail(c, "the %s section appears twice", names[id]);
	if (once)
		*once = true;
	switch (id) {
	case VMS_SEC_VM_X86: return decode_vm_section(p, n, &st->vm, c);
	case VMS_SEC_VCPU: return decode_vcpu_section(p, n, st, seen, c);
	case VMS_SEC_SERIAL:
	case VMS_SEC_GUESTDEV: return decode_device(id, p, n, st, c);
	default: return fail(c, "unknown section id %u", id);
	}
}

static int check_complete(const struct vmm_state *st, const struct seen *seen, struct vs_ctx *c)
{
	c->where[0] = 0;
	if (!seen->vm)
		return fail(c, "no VM-wide x86 section");
	for (unsigned i = 0; i < st->nr_vcpus; i++)
		if (!seen->vcpu[i])
			return fail(c, "no section for vCPU %u", i);
	if (!seen->serial)
		return fail(c, "no serial section");
	if (!seen->guestdev)
		return fail(c, "no guest progress section");
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
		return fail(&c, "no room to decode into");
	vreader_init(&r, blob ? blob : (const uint8_t *)"", blob ? len : 0);
	uint32_t version = vr_u32(&r);
	if (r.bad)
		return fail(&c, "%zu bytes, too short for a version", len);
	if (version != VM_STATE_VERSION) {
		snprintf(err, errlen, "VM state version %u is not supported (want %u)", version,
			 VM_STATE_VERSION);
		return -EPROTONOSUPPORT;
	}
	while (r.left) {
		c.where[0] = 0;
		if (r.left < 8)
			return fail(&c, "%zu stray bytes after the last section", r.left);
		uint32_t id = vr_u32(&r), n = vr_u32(&r);
		size_t left = r.left;
		const uint8_t *p = vr_take(&r, n);
		if (!p)
			return fail(&c, "section %u claims %u bytes, only %zu left (truncated)", id,
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
	for (size_t i = 0; i < NR_VM_FIELDS; i++) {
		snprintf(c.where, sizeof(c.where), "VM %s", vm_fields[i].name);
		if ((r = vm_fields[i].check(&st->vm, &c)))
			return r;
	}
	for (unsigned v = 0; v < st->nr_vcpus; v++) {
		for (size_t i = 0; i < NR_VCPU_FIELDS; i++) {
			const struct vcpu_field *f = &vcpu_fields[i];
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

/* SPDX-License-Identifier: MIT */
/*
 * A vCPU's fields of the state blob (vm_state_fields.h): CPUID, MP state,
 * registers, XSAVE, XCRs, debug registers, LAPIC, MSRs and events, each
 * encoded, decoded member by member and checked against the architecture
 * (reserved bits, modes that go together) and what this host supports.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm_state_fields.h"

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
		return vs_fail(c, "%u entries, at most %d", n, X86_MAX_CPUID);
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
		return vs_fail(c, "%zu bytes; an XSAVE image is %d..%d bytes, a multiple of 4", n,
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
		return vs_fail(c, "%u XCRs, at most %d", n, KVM_MAX_XCRS);
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
		return vs_fail(c, "%u MSRs, at most %d", n, X86_MAX_MSRS);
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
			return vs_fail(c, "leaf 0x%x.%u has unknown flags 0x%x", e->function, e->index,
				    e->flags);
		/* Two answers for one leaf: which one the guest sees is up to KVM. */
		for (uint32_t j = 0; j < i; j++)
			if (v->cpuid[j].function == e->function && v->cpuid[j].index == e->index)
				return vs_fail(c, "leaf 0x%x.%u appears twice", e->function, e->index);
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
	default: return vs_fail(c, "%u is not an x86 MP state", v->mp.mp_state);
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
		return vs_fail(c, "RFLAGS 0x%llx lacks bit 1 (always set)", (ull)fl);
	if (fl & ~VS_RFLAGS_KNOWN)
		return vs_fail(c, "RFLAGS 0x%llx has reserved bits set (0x%llx)", (ull)fl,
			    (ull)(fl & ~VS_RFLAGS_KNOWN));
	/* In 64-bit mode RIP is always canonical: a jump elsewhere faults. */
	unsigned va_bits = (v->sregs.cr4 & VS_CR4_LA57) ? 57 : 48;
	if (in_64bit_mode(&v->sregs) && !vs_canonical(v->regs.rip, va_bits))
		return vs_fail(c, "RIP 0x%llx is not canonical in 64-bit mode", (ull)v->regs.rip);
	return 0;
}

static int check_segment(const struct kvm_segment *s, const char *name, const struct vs_ctx *c)
{
	static const char *const bit_names[7] = {"present", "db", "s", "l", "g", "avl", "unusable"};
	const uint8_t bits[7] = {s->present, s->db, s->s, s->l, s->g, s->avl, s->unusable};
	for (unsigned i = 0; i < 7; i++)
		if (bits[i] > 1)
			return vs_fail(c, "%s.%s is %u, not 0 or 1", name, bit_names[i], bits[i]);
	if (s->type > 15)
		return vs_fail(c, "%s.type is %u, not 0..15", name, s->type);
	if (s->dpl > 3)
		return vs_fail(c, "%s.dpl is %u, not 0..3", name, s->dpl);
	return 0;
}

/* CR0, CR3, CR4, CR8, EFER and the mode they make together, as KVM and VM
 * entry require them. */
static int check_control_regs(const struct kvm_sregs *s, const struct vs_ctx *c)
{
	if (s->cr0 & ~VS_CR0_KNOWN)
		return vs_fail(c, "CR0 0x%llx has reserved bits set", (ull)s->cr0);
	if ((s->cr0 & VS_CR0_NW) && !(s->cr0 & VS_CR0_CD))
		return vs_fail(c, "CR0 0x%llx sets NW without CD", (ull)s->cr0);
	if ((s->cr0 & VS_CR0_PG) && !(s->cr0 & VS_CR0_PE))
		return vs_fail(c, "CR0 0x%llx sets PG without PE", (ull)s->cr0);
	if (s->cr3 & VS_CR3_RESERVED)
		return vs_fail(c, "CR3 0x%llx has reserved bits set", (ull)s->cr3);
	if (s->cr4 & ~VS_CR4_KNOWN)
		return vs_fail(c, "CR4 0x%llx has reserved bits set", (ull)s->cr4);
	if (s->cr8 > 15)
		return vs_fail(c, "CR8 %llu is not 0..15", (ull)s->cr8);
	if (s->efer & ~VS_EFER_KNOWN)
		return vs_fail(c, "EFER 0x%llx has reserved bits set", (ull)s->efer);
	bool long_mode = (s->efer & VS_EFER_LME) && (s->cr0 & VS_CR0_PG);
	if (long_mode && (!(s->cr4 & VS_CR4_PAE) || !(s->efer & VS_EFER_LMA)))
		return vs_fail(c, "long mode (EFER.LME, CR0.PG) without CR4.PAE or EFER.LMA");
	if (!long_mode && ((s->efer & VS_EFER_LMA) || s->cs.l))
		return vs_fail(c, "EFER.LMA or CS.L set outside long mode");
	if (long_mode && s->cs.l && s->cs.db)
		return vs_fail(c, "CS has both L and D/B set");
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
		return vs_fail(c, "APIC base 0x%llx has reserved bits set", (ull)s->apic_base);
	if ((s->apic_base & VS_APIC_BASE_EXTD) && !(s->apic_base & VS_APIC_BASE_EN))
		return vs_fail(c, "APIC base 0x%llx enables x2APIC with the APIC off",
			    (ull)s->apic_base);
	/* KVM reports at most the one injected external interrupt here. */
	int pending = 0;
	for (unsigned i = 0; i < 4; i++)
		pending += __builtin_popcountll(s->interrupt_bitmap[i]);
	if (pending > 1)
		return vs_fail(c, "interrupt bitmap has %d vectors set, at most 1", pending);
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
		return vs_fail(c, "%u bytes, this host's KVM takes at most %u", v->xsave_len,
			    lim->xsave_max);
	uint32_t mxcsr;
	memcpy(&mxcsr, x + VS_XSAVE_MXCSR, 4);
	if (mxcsr >> 16)
		return vs_fail(c, "MXCSR 0x%x has reserved bits set", mxcsr);
	uint64_t xstate_bv = get_le64(x + VS_XSAVE_HDR), xcomp_bv = get_le64(x + VS_XSAVE_HDR + 8);
	if (xstate_bv & ~lim->xcr0_supported)
		return vs_fail(c, "XSTATE_BV 0x%llx has components this host lacks (supported 0x%llx)",
			    (ull)xstate_bv, (ull)lim->xcr0_supported);
	/* KVM's ABI is the standard (uncompacted) format only. */
	if (xcomp_bv)
		return vs_fail(c, "XCOMP_BV is 0x%llx, not 0 (standard format)", (ull)xcomp_bv);
	for (unsigned i = VS_XSAVE_HDR + 16; i < VS_XSAVE_HDR + 64; i++)
		if (x[i])
			return vs_fail(c, "XSAVE header byte %u is reserved but not zero",
				    i - VS_XSAVE_HDR);
	return 0;
}

/* The rules KVM's __kvm_set_xcr applies to XCR0, against this host. */
static int check_xcr0(uint64_t xcr0, const struct vm_state_limits *lim, const struct vs_ctx *c)
{
	if (!(xcr0 & VS_XCR0_X87))
		return vs_fail(c, "XCR0 0x%llx lacks x87 (bit 0)", (ull)xcr0);
	if (xcr0 & ~lim->xcr0_supported)
		return vs_fail(c, "XCR0 0x%llx enables components this host lacks (supported 0x%llx)",
			    (ull)xcr0, (ull)lim->xcr0_supported);
	if ((xcr0 & VS_XCR0_AVX) && !(xcr0 & VS_XCR0_SSE))
		return vs_fail(c, "XCR0 0x%llx enables AVX without SSE", (ull)xcr0);
	if ((xcr0 & VS_XCR0_MPX) && (xcr0 & VS_XCR0_MPX) != VS_XCR0_MPX)
		return vs_fail(c, "XCR0 0x%llx enables half of MPX", (ull)xcr0);
	if ((xcr0 & VS_XCR0_AVX512) &&
	    ((xcr0 & VS_XCR0_AVX512) != VS_XCR0_AVX512 || !(xcr0 & VS_XCR0_AVX)))
		return vs_fail(c, "XCR0 0x%llx enables part of AVX-512 or it without AVX", (ull)xcr0);
	if ((xcr0 & VS_XCR0_AMX) && (xcr0 & VS_XCR0_AMX) != VS_XCR0_AMX)
		return vs_fail(c, "XCR0 0x%llx enables half of AMX", (ull)xcr0);
	return 0;
}

static int check_xcrs(const struct x86_vcpu_state *v, const struct vm_state_limits *lim,
		      const struct vs_ctx *c)
{
	if (v->xcrs.flags)
		return vs_fail(c, "flags 0x%x, KVM defines none", v->xcrs.flags);
	for (uint32_t i = 0; i < v->xcrs.nr_xcrs; i++) {
		const struct kvm_xcr *x = &v->xcrs.xcrs[i];
		/* KVM sets XCR0 only; another index would be dropped silently. */
		if (x->xcr != 0)
			return vs_fail(c, "XCR%u is not one KVM restores (only XCR0)", x->xcr);
		if (i > 0)
			return vs_fail(c, "XCR0 appears twice");
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
		return vs_fail(c, "DR6 0x%llx has bits above 31", (ull)v->dregs.dr6);
	if (v->dregs.dr7 >> 32)
		return vs_fail(c, "DR7 0x%llx has bits above 31", (ull)v->dregs.dr7);
	if (v->dregs.flags)
		return vs_fail(c, "flags 0x%llx, KVM defines none", (ull)v->dregs.flags);
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
			return vs_fail(c, "MSR 0x%x is not one this host's KVM saves", idx[i]);
		/* The deadline is relative to the TSC, which must be set first. */
		if (idx[i] == X86_MSR_TSC_DEADLINE && i + 1 != v->nr_msrs)
			return vs_fail(c, "TSC_DEADLINE (0x%x) is not the last MSR", idx[i]);
	}
	qsort(idx, v->nr_msrs, sizeof(idx[0]), cmp_u32);
	for (uint32_t i = 1; i < v->nr_msrs; i++)
		if (idx[i] == idx[i - 1])
			return vs_fail(c, "MSR 0x%x appears twice", idx[i]);
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
		if ((r = vs_check_bool(c, names[i], bools[i])))
			return r;
	if (e->flags & ~VS_EVENTS_FLAGS_KNOWN)
		return vs_fail(c, "flags 0x%x has unknown bits", e->flags);
	if ((e->exception.injected || e->exception.pending) &&
	    (e->exception.nr > 31 || e->exception.nr == 2))
		return vs_fail(c, "exception vector %u is not an exception", e->exception.nr);
	/* With virtual NMIs KVM counts up to two pending NMIs. */
	if (e->nmi.pending > 2)
		return vs_fail(c, "nmi.pending is %u, at most 2", e->nmi.pending);
	if (e->interrupt.shadow & ~(KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI))
		return vs_fail(c, "interrupt.shadow 0x%x has unknown bits", e->interrupt.shadow);
	if (e->sipi_vector > 0xff)
		return vs_fail(c, "sipi_vector 0x%x is not a vector", e->sipi_vector);
	if ((e->flags & KVM_VCPUEVENT_VALID_SMM) && (e->smi.smm || e->smi.pending) &&
	    v->mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return vs_fail(c, "SMM with an INIT received (INIT is latched in SMM)");
	return 0;
}

const struct vcpu_field vm_state_vcpu_fields[] = {
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
const size_t vm_state_nr_vcpu_fields =
	sizeof(vm_state_vcpu_fields) / sizeof(vm_state_vcpu_fields[0]);

/* SPDX-License-Identifier: MIT */
/*
 * The VM state blob (src/vmm/vm_state.c) as a hostile destination sees it:
 * a valid state encodes and decodes back to itself, and each kind of bad
 * blob is refused by decode/validate, with a message naming its section and
 * field, before anything could be loaded. None of this needs /dev/kvm; the
 * last test round-trips a real vCPU's state where KVM is available.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unittest.h"
#include "vmm/kvm.h"
#include "vmm/vm_state.h"
#include "vmm/x86_state.h"

/* This "host": x87+SSE+AVX, a 4096-byte XSAVE area, six MSRs. */
static const uint32_t host_msrs[] = {0x10, 0x174, 0x175, 0x176, 0xc0000081, X86_MSR_TSC_DEADLINE};
static const struct vm_state_limits limits = {
    .xcr0_supported = 0x7,
    .xsave_max = 4096,
    .msrs = host_msrs,
    .nr_msrs = sizeof(host_msrs) / sizeof(host_msrs[0]),
};

/* ---- a valid state: a vCPU in 64-bit ring 3, as guestload runs ---- */

static void set_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t code_l)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = 0xffffffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .dpl = 3,
				  .db = !code_l,
				  .s = 1,
				  .l = code_l,
				  .g = 1};
}

static void fill_sregs(struct kvm_sregs *s)
{
	set_segment(&s->cs, 0x2b, 11, 1);
	set_segment(&s->ds, 0x23, 3, 0);
	s->es = s->fs = s->gs = s->ss = s->ds;
	s->tr = (struct kvm_segment){
	    .base = 0x3000, .limit = 0x2067, .selector = 0x30, .type = 11, .present = 1};
	s->ldt = (struct kvm_segment){.type = 2, .unusable = 1};
	s->gdt = (struct kvm_dtable){.base = 0x1000, .limit = 0x7f};
	s->idt = (struct kvm_dtable){.base = 0x2000, .limit = 0xfff};
	s->cr0 = 0x80050033; /* PE MP ET NE WP PG */
	s->cr3 = 0x10000;
	s->cr4 = 0x40620; /* PAE OSFXSR OSXMMEXCPT OSXSAVE */
	s->efer = 0x501;  /* SCE LME LMA */
	s->apic_base = 0xfee00900;
}

static void fill_vcpu(struct x86_vcpu_state *v, unsigned index)
{
	memset(v, 0, sizeof(*v));
	v->nr_cpuid = 3;
	v->cpuid[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = 0xd, .ebx = 0x756e6547};
	v->cpuid[1] = (struct kvm_cpuid_entry2){.function = 1, .ebx = index << 24, .ecx = 1u << 26};
	v->cpuid[2] = (struct kvm_cpuid_entry2){.function = 0xd, .flags = 1, .eax = 7, .ebx = 832};
	v->mp.mp_state = KVM_MP_STATE_RUNNABLE;
	v->regs = (struct kvm_regs){.rax = 1, .rsp = 0x7ff000, .rip = 0x401000, .rflags = 0x3202};
	fill_sregs(&v->sregs);
	v->xsave_len = 4096;
	uint8_t *x = (uint8_t *)v->xsave;
	uint32_t mxcsr = 0x1f80;
	uint64_t xstate_bv = 0x3;
	memcpy(x + 24, &mxcsr, 4);
	memcpy(x + 512, &xstate_bv, 8);
	v->xcrs.nr_xcrs = 1;
	v->xcrs.xcrs[0] = (struct kvm_xcr){.xcr = 0, .value = 0x7};
	v->dregs.dr6 = 0xffff0ff0;
	v->dregs.dr7 = 0x400;
	v->lapic.regs[0x20 + 3] = (char)index; /* APIC ID */
	v->lapic.regs[0xf0] = (char)0xff;      /* spurious vector, enabled below */
	v->lapic.regs[0xf1] = 0x01;
	v->nr_msrs = 3;
	v->msrs[0] = (struct kvm_msr_entry){.index = 0x10, .data = 123456789};
	v->msrs[1] = (struct kvm_msr_entry){.index = 0xc0000081, .data = 0x0023001000000000ull};
	v->msrs[2] = (struct kvm_msr_entry){.index = X86_MSR_TSC_DEADLINE, .data = 0};
	v->events.flags =
	    KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
}

static void fill_vm(struct x86_vm_state *s)
{
	memset(s, 0, sizeof(*s));
	s->clock = (struct kvm_clock_data){.clock = 5000000000ull, .flags = KVM_CLOCK_TSC_STABLE};
	for (unsigned i = 0; i < 3; i++)
		s->pit.channels[i] =
		    (struct kvm_pit_channel_state){.count = 0x10000, .mode = 0xff, .gate = i != 2};
	s->pit.channels[0].mode = 2;
	s->pit.channels[0].rw_mode = s->pit.channels[0].read_state = 3;
	s->pit.channels[0].write_state = 3;
	s->pit.channels[0].count = 1193;
	s->pic[0] = (struct kvm_pic_state){.imr = 0xfb, .irq_base = 0x08, .elcr_mask = 0xf8};
	s->pic[1] = (struct kvm_pic_state){.imr = 0xff, .irq_base = 0x70, .elcr_mask = 0xde};
	s->ioapic.base_address = 0xfec00000;
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		s->ioapic.redirtbl[i].bits = 1ull << 16; /* masked */
}

static void fill_state(struct vmm_state *st)
{
	fill_vm(&st->vm);
	for (unsigned i = 0; i < st->nr_vcpus; i++)
		fill_vcpu(&st->vcpus[i], i);
	st->serial = (struct serial_state){.lcr = 0x03, .mcr = 0x0b, .dll = 0x0c};
	st->progress = (struct guest_progress){.seen = true,
					       .t_s = 12,
					       .passes = 340,
					       .dirty_mibs = 812.3,
					       .layout_seen = true,
					       .ws_base = 0x400000,
					       .ws_pages = 16384};
	snprintf(st->progress.last_line, sizeof(st->progress.last_line),
		 "guestload: t=12s passes=340 dirty=812.3MiB/s errors=0");
}

/* ---- helpers ---- */

struct blob {
	uint8_t *p;
	size_t len;
};

/* Decode + validate against `limits`, as the destination does. */
static int parse(const uint8_t *p, size_t len, unsigned nr_vcpus, char *err, size_t errlen)
{
	struct vmm_state st;
	int r = vm_state_init(&st, nr_vcpus);
	if (r)
		return r;
	if (!(r = vm_state_decode(p, len, &st, err, errlen)))
		r = vm_state_validate(&st, &limits, err, errlen);
	vm_state_free(&st);
	return r;
}

static int valid_state(struct vmm_state *st, unsigned nr_vcpus)
{
	int r = vm_state_init(st, nr_vcpus);
	if (!r)
		fill_state(st);
	return r;
}

/* Encodes st (then frees it) and parses the blob; returns parse's result. */
static int encode_and_parse(struct vmm_state *st, char *err, size_t errlen)
{
	struct blob b;
	unsigned nr = st->nr_vcpus;
	int r = vm_state_encode(st, &b.p, &b.len);
	vm_state_free(st);
	if (r)
		return r;
	r = parse(b.p, b.len, nr, err, errlen);
	free(b.p);
	return r;
}

static int valid_blob(struct blob *b, unsigned nr_vcpus)
{
	struct vmm_state st;
	int r = valid_state(&st, nr_vcpus);
	if (!r)
		r = vm_state_encode(&st, &b->p, &b->len);
	vm_state_free(&st);
	return r;
}

static int parse_and_free(struct blob *b, unsigned nr_vcpus, char *err, size_t errlen)
{
	int r = parse(b->p, b->len, nr_vcpus, err, errlen);
	free(b->p);
	b->p = NULL;
	return r;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Offset of the header of section `id` (for vCPU sections, vCPU `vcpu`), or 0. */
static size_t find_section(const struct blob *b, uint32_t id, uint32_t vcpu)
{
	size_t off = 4;
	while (off + 8 <= b->len) {
		uint32_t sid = rd32(b->p + off), n = rd32(b->p + off + 4);
		if (sid == id && (id != VMS_SEC_VCPU || rd32(b->p + off + 8) == vcpu))
			return off;
		off += 8 + (size_t)n;
	}
	return 0;
}

/* Offset of the header of field `fid` in the section at `sec`, or 0. */
static size_t find_field(const struct blob *b, size_t sec, uint32_t fid)
{
	size_t end = sec + 8 + rd32(b->p + sec + 4);
	size_t off = sec + 8 + (rd32(b->p + sec) == VMS_SEC_VCPU ? 4 : 0);
	while (off + 8 <= end) {
		if (rd32(b->p + off) == fid)
			return off;
		off += 8 + (size_t)rd32(b->p + off + 4);
	}
	return 0;
}

/* Replaces `del` bytes at `off` with `n` bytes of `ins`. */
static int splice(struct blob *b, size_t off, size_t del, const void *ins, size_t n)
{
	uint8_t *p = malloc(b->len - del + n);
	if (!p)
		return -ENOMEM;
	memcpy(p, b->p, off);
	if (n)
		memcpy(p + off, ins, n);
	memcpy(p + off + n, b->p + off + del, b->len - off - del);
	free(b->p);
	b->p = p;
	b->len = b->len - del + n;
	return 0;
}

/* Adds `delta` to the length of the record whose header is at `off`. */
static void grow_len(struct blob *b, size_t off, int delta)
{
	wr32(b->p + off + 4, (uint32_t)((int)rd32(b->p + off + 4) + delta));
}

/* ---- a valid blob ---- */

TEST(valid_blob_round_trips)
{
	struct vmm_state st, back;
	struct blob b;
	char err[256] = "";
	CHECK_EQ_INT(valid_state(&st, 2), 0);
	CHECK_EQ_INT(vm_state_encode(&st, &b.p, &b.len), 0);
	CHECK_EQ_INT(vm_state_init(&back, 2), 0);
	int r = vm_state_decode(b.p, b.len, &back, err, sizeof(err));
	if (!r)
		r = vm_state_validate(&back, &limits, err, sizeof(err));
	free(b.p);
	bool same = !r;
	for (unsigned i = 0; same && i < 2; i++) {
		const struct x86_vcpu_state *a = &st.vcpus[i], *z = &back.vcpus[i];
		same =
		    a->nr_cpuid == z->nr_cpuid && !memcmp(a->cpuid, z->cpuid, sizeof(a->cpuid)) &&
		    a->mp.mp_state == z->mp.mp_state &&
		    !memcmp(&a->regs, &z->regs, sizeof(a->regs)) &&
		    !memcmp(&a->sregs, &z->sregs, sizeof(a->sregs)) &&
		    a->xsave_len == z->xsave_len && !memcmp(a->xsave, z->xsave, sizeof(a->xsave)) &&
		    !memcmp(&a->xcrs, &z->xcrs, sizeof(a->xcrs)) &&
		    !memcmp(&a->dregs, &z->dregs, sizeof(a->dregs)) &&
		    !memcmp(&a->lapic, &z->lapic, sizeof(a->lapic)) && a->nr_msrs == z->nr_msrs &&
		    !memcmp(a->msrs, z->msrs, sizeof(a->msrs)) &&
		    !memcmp(&a->events, &z->events, sizeof(a->events));
	}
	same = same && !memcmp(&st.vm.clock, &back.vm.clock, sizeof(st.vm.clock)) &&
	       !memcmp(&st.vm.pit, &back.vm.pit, sizeof(st.vm.pit)) &&
	       !memcmp(st.vm.pic, back.vm.pic, sizeof(st.vm.pic)) &&
	       !memcmp(&st.vm.ioapic, &back.vm.ioapic, sizeof(st.vm.ioapic)) &&
	       !memcmp(&st.serial, &back.serial, sizeof(st.serial)) && back.progress.seen &&
	       back.progress.t_s == 12 && back.progress.dirty_mibs == 812.3 &&
	       back.progress.ws_pages == 16384 && !back.progress.done &&
	       !strcmp(back.progress.last_line, st.progress.last_line);
	vm_state_free(&st);
	vm_state_free(&back);
	CHECK_STR(err, "");
	CHECK_EQ_INT(r, 0);
	CHECK(same);
}

/* ---- values out of range: each refused with its section and field ---- */

TEST(guest_progress_bool_2)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_GUESTDEV, 0);
	CHECK(sec);
	b.p[sec + 8] = 2; /* "seen", the first byte */
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: guest progress: seen is 2, not 0 or 1");
}

TEST(guest_progress_line_without_nul)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_GUESTDEV, 0);
	CHECK(sec);
	memset(b.p + sec + 8 + GUEST_PROGRESS_WIRE_SIZE - SERIAL_LINE_MAX, 'x', SERIAL_LINE_MAX);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: guest progress: last_line has no NUL within its 512 bytes");
}

TEST(serial_ier_out_of_range)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.serial.ier = 0x10;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: serial: IER 0x10 has bits outside 0x0f");
}

TEST(rflags_reserved_bit)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].regs.rflags |= 1ull << 3;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 REGS: RFLAGS 0x320a has reserved bits set (0x8)");
}

TEST(rflags_bit1_clear)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].regs.rflags = 0x200;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 REGS: RFLAGS 0x200 lacks bit 1 (always set)");
}

TEST(rip_not_canonical)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].regs.rip = 0x0000800000000000ull;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 REGS: RIP 0x800000000000 is not canonical in 64-bit mode");
}

TEST(mp_state_unknown)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].mp.mp_state = 77;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 MP_STATE: 77 is not an x86 MP state");
}

TEST(xsave_xstate_bv_unsupported)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	uint64_t bv = 0x203; /* + PKRU, which this host lacks */
	memcpy((uint8_t *)st.vcpus[0].xsave + 512, &bv, 8);
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 XSAVE: XSTATE_BV 0x203 has components this host lacks "
		       "(supported 0x7)");
}

TEST(xsave_compacted_format)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	uint64_t comp = (1ull << 63) | 3;
	memcpy((uint8_t *)st.vcpus[0].xsave + 520, &comp, 8);
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 XSAVE: XCOMP_BV is 0x8000000000000003, not 0 (standard "
		       "format)");
}

TEST(xsave_mxcsr_reserved)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	uint32_t mxcsr = 0x11f80;
	memcpy((uint8_t *)st.vcpus[0].xsave + 24, &mxcsr, 4);
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 XSAVE: MXCSR 0x11f80 has reserved bits set");
}

TEST(xcr0_without_x87)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].xcrs.xcrs[0].value = 0x6;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 XCRS: XCR0 0x6 lacks x87 (bit 0)");
}

TEST(xcr0_unsupported)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].xcrs.xcrs[0].value = 0xe7; /* AVX-512 on a host without it */
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 XCRS: XCR0 0xe7 enables components this host lacks "
		       "(supported 0x7)");
}

TEST(cpuid_count_too_large)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t f = find_field(&b, find_section(&b, VMS_SEC_VCPU, 0), VMS_F_CPUID);
	CHECK(f);
	wr32(b.p + f + 8, X86_MAX_CPUID + 1);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 CPUID: 257 entries, at most 256");
}

TEST(cpuid_count_beyond_bytes)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t f = find_field(&b, find_section(&b, VMS_SEC_VCPU, 0), VMS_F_CPUID);
	CHECK(f);
	wr32(b.p + f + 8, 200); /* claims 200 entries, carries 3 */
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 CPUID: truncated (field shorter than its contents)");
}

TEST(msr_duplicated)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].msrs[1].index = 0x10;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 MSRS: MSR 0x10 appears twice");
}

TEST(msr_unknown_to_host)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].msrs[1].index = 0xc0000082;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 MSRS: MSR 0xc0000082 is not one this host's KVM saves");
}

TEST(msr_count_too_large)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t f = find_field(&b, find_section(&b, VMS_SEC_VCPU, 0), VMS_F_MSRS);
	CHECK(f);
	wr32(b.p + f + 8, 0xffffffffu);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 MSRS: 4294967295 MSRs, at most 1024");
}

TEST(cr0_reserved_bit)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].sregs.cr0 |= 1ull << 40;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 SREGS: CR0 0x10080050033 has reserved bits set");
}

TEST(efer_reserved_bit)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].sregs.efer |= 1ull << 1;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 SREGS: EFER 0x503 has reserved bits set");
}

TEST(segment_flag_2)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].sregs.ss.present = 2;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 SREGS: SS.present is 2, not 0 or 1");
}

TEST(events_bool_2)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].events.nmi.masked = 2;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 EVENTS: nmi.masked is 2, not 0 or 1");
}

TEST(debugregs_dr7_high_bits)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vcpus[0].dregs.dr7 |= 1ull << 40;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 DEBUGREGS: DR7 0x10000000400 has bits above 31");
}

TEST(pit_mode_out_of_range)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vm.pit.channels[1].mode = 9;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: VM PIT2: channel 1 mode 9 is not 0..5 (or 0xff, unset)");
}

TEST(pic_init_state_out_of_range)
{
	struct vmm_state st;
	char err[256];
	CHECK_EQ_INT(valid_state(&st, 1), 0);
	st.vm.pic[1].init_state = 4;
	CHECK_EQ_INT(encode_and_parse(&st, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: VM PIC_SLAVE: init_state 4 is not 0..3");
}

TEST(ioapic_pin_count)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t f = find_field(&b, find_section(&b, VMS_SEC_VM_X86, 0), VMS_F_IOAPIC);
	CHECK(f);
	wr32(b.p + f + 8 + 20, 48); /* after base, ioregsel, id, irr */
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: VM IOAPIC: 48 redirection entries, KVM's IOAPIC has 24");
}

/* ---- structure: sizes, order, presence ---- */

TEST(truncated_blob)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	b.len -= 10;
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: section 4 claims 579 bytes, only 569 left (truncated)");
}

TEST(truncated_section)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_SERIAL, 0);
	CHECK(sec);
	CHECK_EQ_INT(splice(&b, sec + 8 + 6, 1, NULL, 0), 0);
	grow_len(&b, sec, -1);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: serial: 6 bytes, expected 7");
}

TEST(truncated_field)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_VCPU, 0), f = find_field(&b, sec, VMS_F_REGS);
	CHECK(sec && f);
	CHECK_EQ_INT(splice(&b, f + 8 + 136, 8, NULL, 0), 0); /* drop RFLAGS */
	grow_len(&b, f, -8);
	grow_len(&b, sec, -8);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 REGS: truncated (field shorter than its contents)");
}

TEST(trailing_bytes_in_field)
{
	struct blob b;
	char err[256];
	const uint8_t extra[3] = {1, 2, 3};
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_VCPU, 0), f = find_field(&b, sec, VMS_F_LAPIC);
	CHECK(sec && f);
	CHECK_EQ_INT(splice(&b, f + 8 + KVM_APIC_REG_SIZE, 0, extra, 3), 0);
	grow_len(&b, f, 3);
	grow_len(&b, sec, 3);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 LAPIC: 3 trailing bytes after its contents");
}

TEST(trailing_bytes_in_section)
{
	struct blob b;
	char err[256];
	const uint8_t extra = 0;
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_SERIAL, 0);
	CHECK(sec);
	CHECK_EQ_INT(splice(&b, sec + 8 + 7, 0, &extra, 1), 0);
	grow_len(&b, sec, 1);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: serial: 8 bytes, expected 7");
}

TEST(trailing_bytes_after_blob)
{
	struct blob b;
	char err[256];
	const uint8_t extra[3] = {0};
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	CHECK_EQ_INT(splice(&b, b.len, 0, extra, 3), 0);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: 3 stray bytes after the last section");
}

TEST(field_out_of_order)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t f = find_field(&b, find_section(&b, VMS_SEC_VCPU, 0), VMS_F_REGS);
	CHECK(f);
	wr32(b.p + f, VMS_F_SREGS);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0 REGS: found field id 4 where this field (id 3) belongs");
}

TEST(duplicated_vcpu_section)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 2), 0);
	size_t sec = find_section(&b, VMS_SEC_VCPU, 0);
	CHECK(sec);
	size_t n = 8 + rd32(b.p + sec + 4);
	uint8_t *copy = malloc(n);
	CHECK(copy);
	memcpy(copy, b.p + sec, n);
	int r = splice(&b, b.len, 0, copy, n);
	free(copy);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(parse_and_free(&b, 2, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU 0: its section appears twice");
}

TEST(missing_vcpu_section)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 2), 0);
	size_t sec = find_section(&b, VMS_SEC_VCPU, 1);
	CHECK(sec);
	CHECK_EQ_INT(splice(&b, sec, 8 + rd32(b.p + sec + 4), NULL, 0), 0);
	CHECK_EQ_INT(parse_and_free(&b, 2, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: no section for vCPU 1");
}

TEST(vcpu_index_out_of_range)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 2), 0);
	/* The destination VM has one vCPU; the blob has two. */
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: vCPU section: for vCPU 1, but this VM has 1 vCPUs");
}

TEST(duplicated_serial_section)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t sec = find_section(&b, VMS_SEC_SERIAL, 0);
	CHECK(sec);
	uint8_t copy[15];
	memcpy(copy, b.p + sec, sizeof(copy));
	CHECK_EQ_INT(splice(&b, b.len, 0, copy, sizeof(copy)), 0);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: the serial section appears twice");
}

TEST(unknown_section_id)
{
	struct blob b;
	char err[256];
	uint8_t sec[8];
	wr32(sec, 99);
	wr32(sec + 4, 0);
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	CHECK_EQ_INT(splice(&b, b.len, 0, sec, sizeof(sec)), 0);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "VM state: unknown section id 99");
}

TEST(wrong_version)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	wr32(b.p, 1);
	CHECK_EQ_INT(parse_and_free(&b, 1, err, sizeof(err)), -EPROTONOSUPPORT);
	CHECK_STR(err, "VM state version 1 is not supported (want 2)");
}

/* ---- a hostile stream never crashes the decoder (run under ASan/UBSan) ---- */

TEST(every_prefix_refused)
{
	struct blob b;
	char err[256];
	CHECK_EQ_INT(valid_blob(&b, 1), 0);
	size_t bad = 0;
	for (size_t n = 0; n < b.len; n++)
		if (parse(b.p, n, 1, err, sizeof(err)) == 0 || strncmp(err, "VM state", 8))
			bad++;
	free(b.p);
	CHECK_EQ_INT(bad, 0);
}

TEST(random_corruption_never_crashes)
{
	struct blob b;
	char err[256];
	uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift64: the same bytes every run */
	CHECK_EQ_INT(valid_blob(&b, 2), 0);
	uint8_t *m = malloc(b.len);
	CHECK(m);
	size_t odd = 0, refused = 0;
	for (unsigned iter = 0; iter < 3000; iter++) {
		memcpy(m, b.p, b.len);
		unsigned flips = 1 + iter % 8;
		for (unsigned k = 0; k < flips; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			m[x % b.len] ^= (uint8_t)(x >> 32 | 1);
		}
		size_t len = iter % 5 == 0 ? (size_t)(x >> 20) % b.len : b.len;
		int r = parse(m, len, 2, err, sizeof(err));
		refused += r != 0;
		if (r && r != -EINVAL && r != -EPROTONOSUPPORT)
			odd++;
	}
	free(m);
	free(b.p);
	CHECK_EQ_INT(odd, 0);
	CHECK(refused > 1000);
}

/* ---- a real vCPU, where KVM is here ---- */

TEST(kvm_round_trip)
{
	struct kvm_handles k;
	struct vmm_state st, back;
	struct blob b;
	char err[256] = "";
	int fd = -1;

	if (access("/dev/kvm", R_OK | W_OK)) {
		printf(
		    "NOTE vm_state.kvm_round_trip: /dev/kvm is not available here: SKIPPED, a real "
		    "vCPU's state was not round-tripped\n");
		return;
	}
	CHECK_EQ_INT(kvm_init(&k, err, sizeof(err)), 0);
	CHECK_EQ_INT(kvm_create_vcpu(&k, 0, &fd, err, sizeof(err)), 0);
	CHECK_EQ_INT(x86_msr_list_init(&k, err, sizeof(err)), 0);
	CHECK_EQ_INT(vm_state_init(&st, 1), 0);
	CHECK_EQ_INT(vm_state_init(&back, 1), 0);
	CHECK_EQ_INT(x86_vm_state_get(&k, &st.vm, err, sizeof(err)), 0);
	CHECK_EQ_INT(x86_vcpu_state_get(&k, fd, &st.vcpus[0], err, sizeof(err)), 0);
	st.serial.dll = 0x0c;
	CHECK_EQ_INT(vm_state_encode(&st, &b.p, &b.len), 0);
	struct vm_state_limits lim = {x86_supported_xcr0(&k), (uint32_t)k.xsave_size, k.msrs,
				      k.nr_msrs};
	int r = vm_state_decode(b.p, b.len, &back, err, sizeof(err));
	if (!r)
		r = vm_state_validate(&back, &lim, err, sizeof(err));
	if (!r)
		r = x86_vm_state_set(&k, &back.vm, err, sizeof(err));
	if (!r)
		r = x86_vcpu_state_set(&k, fd, &back.vcpus[0], err, sizeof(err));
	free(b.p);
	vm_state_free(&st);
	vm_state_free(&back);
	close(fd);
	kvm_close(&k);
	CHECK_STR(err, "");
	CHECK_EQ_INT(r, 0);
}

RUN_TESTS("vm_state", UT(valid_blob_round_trips), UT(guest_progress_bool_2),
	  UT(guest_progress_line_without_nul), UT(serial_ier_out_of_range), UT(rflags_reserved_bit),
	  UT(rflags_bit1_clear), UT(rip_not_canonical), UT(mp_state_unknown),
	  UT(xsave_xstate_bv_unsupported), UT(xsave_compacted_format), UT(xsave_mxcsr_reserved),
	  UT(xcr0_without_x87), UT(xcr0_unsupported), UT(cpuid_count_too_large),
	  UT(cpuid_count_beyond_bytes), UT(msr_duplicated), UT(msr_unknown_to_host),
	  UT(msr_count_too_large), UT(cr0_reserved_bit), UT(efer_reserved_bit), UT(segment_flag_2),
	  UT(events_bool_2), UT(debugregs_dr7_high_bits), UT(pit_mode_out_of_range),
	  UT(pic_init_state_out_of_range), UT(ioapic_pin_count), UT(truncated_blob),
	  UT(truncated_section), UT(truncated_field), UT(trailing_bytes_in_field),
	  UT(trailing_bytes_in_section), UT(trailing_bytes_after_blob), UT(field_out_of_order),
	  UT(duplicated_vcpu_section), UT(missing_vcpu_section), UT(vcpu_index_out_of_range),
	  UT(duplicated_serial_section), UT(unknown_section_id), UT(wrong_version),
	  UT(every_prefix_refused), UT(random_corruption_never_crashes), UT(kvm_round_trip))

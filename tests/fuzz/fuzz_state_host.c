/* SPDX-License-Identifier: MIT */
/* See fuzz_state_host.h. */
#include <stdio.h>
#include <string.h>

#include "fuzz_state_host.h"
#include "vmm/kvm.h"

/* x87, SSE and AVX; a 4 KiB XSAVE area; a handful of MSRs. */
static const uint32_t host_msrs[] = {0x10, 0x174, 0x175, 0x176, 0xc0000081, X86_MSR_TSC_DEADLINE};

const struct vm_state_limits fuzz_state_host = {
    .xcr0_supported = 0x7,
    .xsave_max = 4096,
    .msrs = host_msrs,
    .nr_msrs = sizeof(host_msrs) / sizeof(host_msrs[0]),
};

static struct kvm_segment seg(uint16_t selector, uint8_t type, uint8_t dpl, uint8_t l)
{
	return (struct kvm_segment){.limit = 0xffffffff,
				    .selector = selector,
				    .type = type,
				    .present = 1,
				    .dpl = dpl,
				    .s = 1,
				    .l = l,
				    .db = !l,
				    .g = 1};
}

static void fill_vcpu(struct x86_vcpu_state *v, unsigned index)
{
	memset(v, 0, sizeof(*v));
	v->nr_cpuid = 2;
	v->cpuid[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = 0xd};
	v->cpuid[1] = (struct kvm_cpuid_entry2){.function = 1, .ebx = index << 24};
	v->mp.mp_state = KVM_MP_STATE_RUNNABLE;
	v->regs = (struct kvm_regs){.rsp = 0x8000, .rip = 0x100000, .rflags = 0x2};
	struct kvm_sregs *s = &v->sregs;
	s->cs = seg(0x08, 0xb, 0, 1);
	s->ds = s->es = s->fs = s->gs = s->ss = seg(0x10, 0x3, 0, 0);
	s->tr = (struct kvm_segment){.limit = 0x67, .selector = 0x18, .type = 0xb, .present = 1};
	s->ldt = (struct kvm_segment){.type = 0x2, .unusable = 1};
	s->gdt = (struct kvm_dtable){.base = 0x1000, .limit = 0x1f};
	s->cr0 = 0x80050033; /* PG AM WP NE ET MP PE */
	s->cr3 = 0x2000;
	s->cr4 = 0x40620; /* OSXSAVE OSXMMEXCPT OSFXSR PAE */
	s->efer = 0x500;  /* LMA LME */
	s->apic_base = 0xfee00900;
	v->xsave_len = 4096;
	uint32_t mxcsr = 0x1f80;
	memcpy((uint8_t *)v->xsave + 24, &mxcsr, 4);
	v->xcrs.nr_xcrs = 1;
	v->xcrs.xcrs[0] = (struct kvm_xcr){.xcr = 0, .value = 0x3};
	v->dregs.dr6 = 0xffff0ff0;
	v->dregs.dr7 = 0x400;
	v->lapic.regs[0x23] = (char)index; /* APIC ID */
	v->lapic.regs[0xf0] = (char)0xff;
	v->nr_msrs = 1;
	v->msrs[0] = (struct kvm_msr_entry){.index = 0x10, .data = 1000};
}

static void fill_vm(struct x86_vm_state *s)
{
	memset(s, 0, sizeof(*s));
	s->clock.clock = 1000000000ull;
	for (unsigned i = 0; i < 3; i++)
		s->pit.channels[i] = (struct kvm_pit_channel_state){
		    .count = 0x10000, .mode = 3, .rw_mode = 3, .read_state = 3, .write_state = 3};
	s->pic[0] = (struct kvm_pic_state){.imr = 0xff, .irq_base = 0x20};
	s->pic[1] = (struct kvm_pic_state){.imr = 0xff, .irq_base = 0x28};
	s->ioapic.base_address = 0xfec00000;
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		s->ioapic.redirtbl[i].bits = 1ull << 16; /* masked */
}

void fuzz_state_fill(struct vmm_state *st)
{
	fill_vm(&st->vm);
	for (unsigned i = 0; i < st->nr_vcpus; i++)
		fill_vcpu(&st->vcpus[i], i);
	st->serial = (struct serial_state){.lcr = 0x03};
	st->progress = (struct guest_progress){.seen = true, .t_s = 1, .passes = 2};
	snprintf(st->progress.last_line, sizeof(st->progress.last_line),
		 "guestload: t=1s passes=2");
}

/* SPDX-License-Identifier: MIT */
/* Initial vCPU register state for each boot path. */
#include <errno.h>
#include <stdbool.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/boot.h"
#include "vmm/x86_defs.h"

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, uint8_t dpl, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = dpl,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

static int set_fpu_defaults(int fd, char *err, size_t errlen)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;     /* x87 default control word */
	fpu.mxcsr = 0x1f80;  /* SSE: all exceptions masked */
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0) {
		snprintf(err, errlen, "KVM_SET_FPU: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int setup_direct(int fd, const struct boot_plan *plan, unsigned index,
			struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	sregs->cs = flat_seg(GDT_SEL_UCODE64, 0xb, 3, true);
	struct kvm_segment data = flat_seg(GDT_SEL_UDATA, 0x3, 3, false);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = (struct kvm_segment){
		.base = VMIG_DIRECT_TSS + (uint64_t)index * TSS_STRIDE,
		.limit = tss_limit(index),
		.selector = (uint16_t)(GDT_TSS_INDEX(index) * 8),
		.type = 0xb, /* busy 64-bit TSS */
		.present = 1,
	};
	sregs->ldt = (struct kvm_segment){.unusable = 1, .type = 0x2, .present = 0};
	sregs->gdt.base = VMIG_DIRECT_GDT;
	sregs->gdt.limit = (uint16_t)(GDT_TSS_INDEX(plan->nr_vcpus) * 8 - 1);
	sregs->idt.base = VMIG_DIRECT_IDT;
	sregs->idt.limit = 256 * 16 - 1;
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs->cr3 = VMIG_DIRECT_PGTABLE;
	sregs->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs->efer = EFER_LME | EFER_LMA;

	regs->rip = plan->entry;
	regs->rsp = plan->hdr.ustack_base + (uint64_t)(index + 1) * plan->hdr.ustack_size;
	regs->rdi = VMIG_DIRECT_BOOT_INFO;
	regs->rsi = index;
	regs->rflags = RFLAGS_RESERVED | RFLAGS_IOPL3; /* IF=0: no interrupts wanted */

	/* With an in-kernel LAPIC, APs start waiting for SIPI; run them now. */
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	if (ioctl(fd, KVM_SET_MP_STATE, &mp) < 0)
		return -errno;
	return 0;
}

static void setup_multiboot(const struct boot_plan *plan, struct kvm_sregs *sregs,
			    struct kvm_regs *regs)
{
	sregs->cs = flat_seg(0x08, 0xb, 0, false);
	struct kvm_segment data = flat_seg(0x10, 0x3, 0, false);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = (struct kvm_segment){.limit = 0xffff, .type = 0xb, .present = 1};
	sregs->ldt = (struct kvm_segment){.unusable = 1, .type = 0x2};
	/* The multiboot spec leaves GDTR undefined: the guest loads its own. */
	sregs->gdt.base = 0;
	sregs->gdt.limit = 0;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = CR0_PE | CR0_ET;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;

	regs->rip = plan->entry;
	regs->rax = 0x2BADB002;
	regs->rbx = plan->mbinfo_gpa;
	regs->rflags = RFLAGS_RESERVED;
}

int x86_setup_vcpu(int fd, const struct boot_plan *plan, unsigned index, char *err,
		   size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int r;

	if (plan->mode == BOOT_MULTIBOOT && index > 0)
		return 0; /* APs stay in wait-for-SIPI */
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	memset(&regs, 0, sizeof(regs));
	if (plan->mode == BOOT_DIRECT) {
		if ((r = setup_direct(fd, plan, index, &sregs, &regs))) {
			snprintf(err, errlen, "KVM_SET_MP_STATE: %s", strerror(-r));
			return r;
		}
	} else {
		setup_multiboot(plan, &sregs, &regs);
	}
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -errno;
	}
	return set_fpu_defaults(fd, err, errlen);
}

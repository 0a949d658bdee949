/* SPDX-License-Identifier: MIT */
/*
 * Ring 0: what an exception does (isr.S calls this). It reports and stops
 * the VM, with exit code 0x80 + vector, so that a guest bug is a message
 * rather than a silent triple fault.
 */
#include "guest.h"
#include "io.h"
#include "serial.h"

struct isr_frame {
	uint64_t vector, err;           /* pushed by isr.S */
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

void isr_fatal(const struct isr_frame *f);
extern const char guest_exit_gate[]; /* entry.S */

static void __attribute__((noreturn)) halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void isr_fatal(const struct isr_frame *f)
{
	struct line l;

	/* The halt gate raised as #UD (kvm_pvm): the exit code is already out. */
	if (f->vector == 6 && f->rip == (uint64_t)(uintptr_t)guest_exit_gate)
		halt();
	line_init(&l, "FATAL exception ");
	line_u64(&l, f->vector);
	line_str(&l, " rip=");
	line_hex(&l, f->rip);
	line_str(&l, " err=");
	line_hex(&l, f->err);
	if (f->vector == 14) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		line_str(&l, " cr2=");
		line_hex(&l, cr2);
	}
	line_emit_raw(&l);
	outl(VMIG_PORT_EXIT, (uint32_t)(0x80 + f->vector));
	halt();
}

/* SPDX-License-Identifier: MIT */
/*
 * Ring-0 handlers, the only code that runs at CPL0 on direct entry:
 * exceptions 0..31 (report and stop) and the halt gate (exit code in EDI).
 * isr_table lists them for the boot header (and for boot64.c's IDT).
 */
#include "abi_asm.h"

	.text

/* Vectors that push an error code themselves. */
#define HAS_ERR(n) ((n) == 8 || ((n) >= 10 && (n) <= 14) || (n) == 17 || (n) == 21 || (n) == 29 || (n) == 30)

	.macro stub n
	.type isr_stub_\n, @function
isr_stub_\n:
	.ifeq HAS_ERR(\n)
	push $0			/* keep the frame the same for all vectors */
	.endif
	push $\n
	jmp isr_common
	.endm

	.altmacro
	.set i, 0
	.rept 32
	stub %i
	.set i, i + 1
	.endr

/* Stack: vector, error code, then the CPU's RIP, CS, RFLAGS, RSP, SS. */
isr_common:
	mov %rsp, %rdi
	and $-16, %rsp
	call isr_fatal
1:	cli
	hlt
	jmp 1b

	.type isr_halt, @function
isr_halt:
	mov %edi, %eax
	mov $ASM_PORT_EXIT, %dx
	outl %eax, %dx
1:	cli
	hlt
	jmp 1b

	.section .rodata
	.balign 8
	.globl isr_table
	.macro table_entry n
	.quad isr_stub_\n
	.endm
isr_table:
	.set i, 0
	.rept 32
	table_entry %i
	.set i, i + 1
	.endr
	.quad isr_halt

	.section .note.GNU-stack, "", @progbits

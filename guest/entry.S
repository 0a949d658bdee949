/* SPDX-License-Identifier: MIT */
/* Ring-3 code in assembly: the common entry and the way out. */
#include "abi_asm.h"

	.text

/*
 * entry64 of the boot header, and where the multiboot path's iretq lands.
 * In: RDI = struct vmig_boot_info *, RSI = vCPU index, RSP = top of this
 * vCPU's ring-3 stack, CPL 3, IOPL 3, IF 0.
 */
	.globl guest_entry64
	.type guest_entry64, @function
guest_entry64:
	xor %ebp, %ebp
	and $-16, %rsp
	call guest_main
	mov $4, %edi		/* guest_main does not return */
	/* fall through */

/*
 * void guest_exit(uint32_t code). The code goes out on the exit port from
 * ring 3 first (a VMM ends the VM right there); then the halt gate stops
 * the vCPU where nothing listens on the port (QEMU). kvm_pvm answers
 * "int $n" in ring 3 with #UD: fault.c treats #UD at guest_exit_gate as
 * the gate.
 */
	.globl guest_exit, guest_exit_gate
	.type guest_exit, @function
guest_exit:
	mov %edi, %eax
	mov $ASM_PORT_EXIT, %dx
	outl %eax, %dx
guest_exit_gate:
	int $ASM_HALT_VECTOR	/* code still in EDI */
	jmp guest_exit_gate

	.section .note.GNU-stack, "", @progbits

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

/* void guest_exit(uint32_t code): the halt gate takes the code in EDI. */
	.globl guest_exit
	.type guest_exit, @function
guest_exit:
	int $ASM_HALT_VECTOR
	jmp guest_exit

	.section .note.GNU-stack, "", @progbits

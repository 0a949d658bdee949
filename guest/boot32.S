/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 entry. The loader (QEMU -kernel, or vmig's multiboot mode)
 * enters _start32 in flat 32-bit protected mode, paging off, with
 * EAX = 0x2BADB002 and EBX = the multiboot info. This stub identity-maps
 * the first 4 GiB with 2 MiB user-accessible pages, turns on long mode and
 * SSE, and calls boot64_main in 64-bit ring 0. All of it is emulated on
 * this platform (~1.5 M instructions/s), so it stays short.
 */
#include "abi_asm.h"

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x3 /* page-align modules, give memory info; ELF, no a.out kludge */

#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_EM 0x4
#define CR0_TS 0x8
#define CR0_NE 0x20
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define CR4_OSFXSR 0x200
#define CR4_OSXMMEXCPT 0x400
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define PTE_PRU 0x7     /* present, writable, user */
#define PDE_2M_PRU 0x87 /* ... and a 2 MiB page */

/* First in the image (link.ld), so within the file's first 8 KiB. */
	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start32
	.type _start32, @function
_start32:
	cli
	cld
	movl %eax, mb_magic
	movl %ebx, mb_info
	movl $boot_stack_top, %esp

	/* PML4, PDPT and four PDs are contiguous: clear them. */
	movl $boot_pml4, %edi
	xorl %eax, %eax
	movl $(6 * 4096 / 4), %ecx
	rep stosl

	movl $(boot_pdpt + PTE_PRU), boot_pml4
	movl $boot_pdpt, %edi
	movl $(boot_pd + PTE_PRU), %eax
	movl $4, %ecx
1:	movl %eax, (%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 1b

	movl $boot_pd, %edi
	movl $PDE_2M_PRU, %eax
	movl $2048, %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 2b

	movl %cr4, %eax
	orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~(CR0_EM | CR0_TS), %eax
	orl $(CR0_PG | CR0_NE | CR0_MP | CR0_PE), %eax
	movl %eax, %cr0

	lgdt gdt_ptr
	ljmp $SEL_KCODE, $start64

	.code64
start64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $boot_stack_top, %rsp
	movl mb_magic, %edi
	movl mb_info, %esi
	call boot64_main
3:	cli
	hlt
	jmp 3b

/*
 * void enter_ring3(uint64_t rip, uint64_t rsp, uint64_t arg0, uint64_t arg1)
 * iretq to 64-bit ring 3 with IOPL=3 and IF=0, arguments in RDI/RSI.
 * (kvm_pvm does not honour IOPL for ring-3 port I/O; the TSS I/O bitmap
 * set up in boot64.c is what lets ring 3 use ports there.)
 */
	.globl enter_ring3
	.type enter_ring3, @function
enter_ring3:
	pushq $(SEL_UDATA | 3)
	pushq %rsi
	pushq $0x3002		/* IOPL=3, IF=0, bit 1 (always set) */
	pushq $(SEL_UCODE | 3)
	pushq %rdi
	movq %rdx, %rdi
	movq %rcx, %rsi
	iretq

	.data
	.balign 16
	.globl boot_gdt
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* SEL_KCODE: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff	/* SEL_KDATA */
	.quad 0x00cff2000000ffff	/* SEL_UDATA: DPL 3 */
	.quad 0x00affa000000ffff	/* SEL_UCODE: 64-bit code, DPL 3 */
	.quad 0, 0			/* SEL_TSS: 16 bytes, filled by boot64.c */
boot_gdt_end:
gdt_ptr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt
mb_magic:
	.long 0
mb_info:
	.long 0

	.bss
	.balign 4096
	.globl boot_pml4, boot_pdpt
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
boot_stack:
	.skip 8192
boot_stack_top:

	.section .note.GNU-stack, "", @progbits

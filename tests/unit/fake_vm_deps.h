/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLES of everything src/vmm/vm.c calls in the rest of the VMM
 * (KVM, guest RAM, devices, loaders, control socket, migration), so that
 * vm_create and vm_destroy run without /dev/kvm. vCPU fds are real memfds
 * (vm.c maps kvm_run from them); nothing else is opened.
 */
#ifndef VMIG_TEST_FAKE_VM_DEPS_H
#define VMIG_TEST_FAKE_VM_DEPS_H

/* kvm_create_vcpu fails (-EMFILE) for this vCPU index; -1: never. */
extern int fake_vm_deps_fail_vcpu;

#endif

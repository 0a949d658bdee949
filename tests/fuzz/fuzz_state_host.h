/* SPDX-License-Identifier: MIT */
/* The host fuzz_vm_state validates against (no KVM to ask): what its seed
 * generator builds a valid state for. */
#ifndef VMIG_TESTS_FUZZ_STATE_HOST_H
#define VMIG_TESTS_FUZZ_STATE_HOST_H

#include "vmm/vm_state.h"

#define FUZZ_STATE_MAX_VCPUS 2 /* the destination's vCPU count: 1 + first byte % this */

extern const struct vm_state_limits fuzz_state_host;

/* Fills st (vm_state_init'ed) with a state that passes validation on
 * fuzz_state_host: every vCPU in 64-bit mode, devices as guestload leaves them. */
void fuzz_state_fill(struct vmm_state *st);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The guest double's "device state", sent at the handover as a VMM sends
 * its vCPU and device state: what the destination needs to run the same
 * workload on (vCPUs, guestload's arguments) and to carry its progress
 * lines on (the guest's clock and passes). One text blob:
 *
 *   enginesim-state 2\nvcpus=N\nt_ms=T\npasses=P\nmod_first=F\nmod_pages=M\n
 *   mod_hash=H\nargs=ARGS
 *
 * mod_*: where the boot modules lie (modules_ram.h) and their hash as
 * laid, for the destination's check; all 0 without modules.
 */
#ifndef VMIG_ENGINESIM_GUEST_STATE_H
#define VMIG_ENGINESIM_GUEST_STATE_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_STATE_MAX_ARGS 1024 /* bytes of guestload's arguments */

struct guest_state {
	unsigned vcpus;
	uint64_t t_ms;     /* the guest's clock: ms since it started */
	uint64_t passes;
	uint64_t mod_first, mod_pages, mod_hash;
	char args[GUEST_STATE_MAX_ARGS];
};

/* A new blob (malloc) in *blob: 0, or -ENOMEM / -E2BIG with err. */
int guest_state_encode(const struct guest_state *s, uint8_t **blob, size_t *len, char *err,
		       size_t errlen);
/* Checked as a whole (vCPUs 1..WORKLOAD_MAX_VCPUS): 0, or -EINVAL with err. */
int guest_state_decode(const uint8_t *blob, size_t len, struct guest_state *s, char *err,
		       size_t errlen);

#endif

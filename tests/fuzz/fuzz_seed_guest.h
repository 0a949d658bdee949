/* SPDX-License-Identifier: MIT */
/*
 * The TEST DOUBLE guest the recorded seed migrations come from
 * (fuzz_seeds.c), known to the targets that must recognise its RAM: a
 * guest of FUZZ_GUEST_PAGES, mostly zero pages, a few with text.
 */
#ifndef VMIG_TESTS_FUZZ_SEED_GUEST_H
#define VMIG_TESTS_FUZZ_SEED_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../unit/fake_guest.h"
#include "vmig/vmig.h"
#include "migration/wire.h"

/* data false: all zero, as a destination starts. */
void fuzz_seed_guest(struct fake_guest *g, bool data);

/*
 * The destination's guest for one input: one per process, made on the
 * first call (with this log handler for the process), wiped on every call.
 * A fresh 16 MiB guest per input would cost more than the input.
 */
struct fake_guest *fuzz_destination_guest(vmig_log_fn log, enum vmig_log_level level);

/*
 * A DIGEST of the seed guest's RAM as a plaintext migration sends it,
 * rewritten as a TLS session keyed by k sends it: the keyed digest of the
 * same page hashes. Returns whether d was such a digest.
 */
bool fuzz_seed_digest_keyed(struct wire_digest *d, const struct wire_key *k);

#endif

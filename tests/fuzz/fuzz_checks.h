/* SPDX-License-Identifier: MIT */
/*
 * Record checks recomputed as a source computes them, so that a mutated
 * payload reaches the decoders behind its check instead of ending at
 * "checksum mismatch": stream_rechecked, resume and tls_destination.
 */
#ifndef VMIG_TESTS_FUZZ_CHECKS_H
#define VMIG_TESTS_FUZZ_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "migration/wire.h"

/* Rewrites the check of every complete record in d[0, n), keyed by k
 * (a TLS session's secret; NULL: plain); a PAGES record's over what its
 * check covers (fixed part, entries, hashes: docs/protocol.md). */
void fuzz_fix_checks(uint8_t *d, size_t n, const struct wire_key *k);

#endif

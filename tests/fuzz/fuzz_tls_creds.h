/* SPDX-License-Identifier: MIT */
/*
 * TEST credentials for the TLS fuzz targets (tls_destination,
 * source_tls) and their seeds: made by scripts/make-certs.sh into
 * fuzz-tls-creds beside the binary, once per build directory. Both sides
 * of a run use the same set, as in QEMU's layout.
 */
#ifndef VMIG_TESTS_FUZZ_TLS_CREDS_H
#define VMIG_TESTS_FUZZ_TLS_CREDS_H

#include <stdbool.h>

#include "migration/tls.h"

/* The name the destination's certificate carries (make-certs.sh). */
#define FUZZ_TLS_HOSTNAME "localhost"

/* X.509 (psk false: --tls-creds DIR) or PSK (--tls-psk FILE) options for
 * role; the files are made on the first call (aborts if they cannot be). */
struct tls_opts fuzz_tls_opts(bool psk, enum tls_role role);

#endif

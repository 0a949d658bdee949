/* SPDX-License-Identifier: MIT */
/*
 * How fuzz_tls_destination's inputs are laid out, shared by the target and
 * the seed generator (fuzz_seeds.c):
 *
 *   options byte (FUZZ_TLS_OPT_*) | connection [FUZZ_CONN_SEP connection]...
 *
 * at most FUZZ_MAX_CONNS connections (fuzz_stream_input.h), each a
 * stranger's: the main one first, then what would be data channels. The
 * options say which credentials the destination requires and how every
 * stranger speaks (FUZZ_TLS_MODE_*).
 */
#ifndef VMIG_TESTS_FUZZ_TLS_INPUT_H
#define VMIG_TESTS_FUZZ_TLS_INPUT_H

#include "fuzz_stream_input.h"

#define FUZZ_TLS_OPT_PSK 0x01 /* --tls-psk; else X.509 (--tls-creds) */
#define FUZZ_TLS_OPT_MODE(opt) (((opt) >> 1) & 3u)
#define FUZZ_TLS_OPTIONS(psk, mode) ((uint8_t)(((mode) << 1) | ((psk) ? FUZZ_TLS_OPT_PSK : 0)))

enum fuzz_tls_mode {
	/* the bytes from the start, no handshake: garbage, a ClientHello cut
	 * short or mutated, a plaintext vmig stream */
	FUZZ_TLS_MODE_RAW = 0,
	/* a real handshake with good credentials, then the bytes through the
	 * session, every complete record's check recomputed with its key */
	FUZZ_TLS_MODE_SESSION = 1,
	/* the same, checks as given (a stream replayed into another session) */
	FUZZ_TLS_MODE_SESSION_RAW_CHECKS = 2,
	/* a real handshake, then the bytes on the socket beside the session:
	 * TLS records the session did not make */
	FUZZ_TLS_MODE_AFTER_HANDSHAKE = 3,
};

#endif

/* SPDX-License-Identifier: MIT */
/*
 * How fuzz_source's inputs are laid out, shared by the target and the seed
 * generator (fuzz_seeds.c) so that both agree when the format changes.
 *
 * The input is what a destination sends back to a migrating source:
 *
 *   options byte (FUZZ_SRC_OPT_*) | main connection [FUZZ_CONN_SEP data
 *   channel]...
 *
 * at most FUZZ_MAX_CONNS connections (fuzz_stream_input.h); the source
 * opens one data channel per section after the main one (resume mode:
 * below). Each section is
 * cut by FUZZ_TURN_SEP into chunks: chunk 0 goes at once, chunk k when the
 * source has sent its k-th record that a destination answers (a "turn":
 * HELLO, SYNC, COMPLETE, GO), with the chunks after it while the bytes
 * let go end inside a record. After its last chunk the fake destination
 * hangs up that connection; and when, for FUZZ_SRC_QUIET_MS, the source
 * has sent nothing on any connection and none of its threads was seen
 * running, and it has read everything, each connection gets its next
 * chunk early (or the hang-up), so that no run waits on a deadline of the
 * source's.
 */
#ifndef VMIG_TESTS_FUZZ_SOURCE_INPUT_H
#define VMIG_TESTS_FUZZ_SOURCE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_stream_input.h"
#include "migration/wire.h"

#define FUZZ_TURN_SEP "\n#VMIG-TURN#\n"
#define FUZZ_TURN_SEP_LEN (sizeof(FUZZ_TURN_SEP) - 1)

#define FUZZ_SRC_OPT_POLICY_AUTO 0x01 /* --policy auto: host figures drive re-plans */
#define FUZZ_SRC_OPT_RAW_CHECKS 0x02  /* records' checks as given, not recomputed */
/* Resume mode: the source dials a loopback port (a URI, not the caller's
 * connections) with FUZZ_SRC_RESUME_MS to resume in, and a data channels
 * given by bits 4-5; the sections are the connections in the order it
 * opens them, the first session's, then each reconnect's (at most
 * FUZZ_SRC_MAX_SECTIONS; a connection past them is closed at once). */
#define FUZZ_SRC_OPT_RESUME 0x04
#define FUZZ_SRC_OPT_CHANNELS(opt) (((opt) >> 4) & 3u)
#define FUZZ_SRC_MAX_SECTIONS 8
/* source_tls only (fuzz_source.c built with FUZZ_SOURCE_TLS): the source
 * migrates under TLS, X.509 or (this bit) a PSK; the fake destination
 * does a real handshake on each connection, then answers through the
 * session, checks keyed with its secret. */
#define FUZZ_SRC_OPT_TLS_PSK 0x08
/* source_tls only: no handshake: the fake destination answers the
 * source's ClientHello with the input's bytes as they are. */
#define FUZZ_SRC_OPT_TLS_RAW 0x40
#define FUZZ_SRC_RESUME_MS 300 /* a few tries at the reconnect backoff's start */

#define FUZZ_SRC_GUEST_PAGES 128 /* 512 KiB in the test double's two regions */
#define FUZZ_SRC_QUIET_MS 100

/* Follows one connection's bytes from the source, record by record. */
struct turn_walker {
	uint8_t hdr[WIRE_HDR_SIZE];
	size_t have; /* header bytes so far */
	uint64_t skip; /* payload bytes still to come */
	uint32_t last_turn; /* type of the last turn record */
};

/* Takes the next n bytes the source sent; returns how many records ended
 * in them that a destination answers (turns). */
unsigned turn_walker_feed(struct turn_walker *w, const uint8_t *p, size_t n);

#endif

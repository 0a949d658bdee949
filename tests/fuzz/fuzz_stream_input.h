/* SPDX-License-Identifier: MIT */
/*
 * How fuzz_stream's inputs are laid out, shared by the target and the seed
 * generator (fuzz_seeds.c) so that both agree when the format changes.
 *
 * An input is the bytes a source sends on each of its connections, the
 * main one first, the data channels after it, separated by
 * FUZZ_CONN_SEP; at most FUZZ_MAX_CONNS connections (more separators are
 * left in the last one's bytes). The destination is a guest of
 * FUZZ_GUEST_PAGES pages in the test double's two regions (fake_guest.h).
 */
#ifndef VMIG_TESTS_FUZZ_STREAM_INPUT_H
#define VMIG_TESTS_FUZZ_STREAM_INPUT_H

#define FUZZ_CONN_SEP "\n#VMIG-CONN#\n"
#define FUZZ_CONN_SEP_LEN (sizeof(FUZZ_CONN_SEP) - 1)
#define FUZZ_MAX_CONNS 4     /* main channel and up to three data channels */
#define FUZZ_GUEST_PAGES 512 /* 2 MiB in two regions (hostile_streams.c wants at least 512 pages)  \
			      */

#endif

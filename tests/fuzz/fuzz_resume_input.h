/* SPDX-License-Identifier: MIT */
/*
 * How fuzz_resume's inputs are laid out, shared by the target and the seed
 * generator (fuzz_seeds.c): what a source sends in each session, the
 * first one and each reconnect after it, separated by FUZZ_SESSION_SEP
 * (at most FUZZ_RESUME_MAX_SESSIONS); within a session, each connection's
 * bytes, the main one first, separated by FUZZ_CONN_SEP (at most
 * FUZZ_MAX_CONNS: fuzz_stream_input.h). The guest is FUZZ_GUEST_PAGES.
 */
#ifndef VMIG_TESTS_FUZZ_RESUME_INPUT_H
#define VMIG_TESTS_FUZZ_RESUME_INPUT_H

#include "fuzz_stream_input.h"

#define FUZZ_SESSION_SEP "\n#VMIG-SESSION#\n"
#define FUZZ_SESSION_SEP_LEN (sizeof(FUZZ_SESSION_SEP) - 1)
#define FUZZ_RESUME_MAX_SESSIONS 6

#endif

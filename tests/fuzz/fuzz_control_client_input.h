/* SPDX-License-Identifier: MIT */
/*
 * How fuzz_control_client's inputs are laid out, shared by the target and
 * the seed generator (fuzz_seeds.c).
 *
 * The input is what a VMM's control socket sends back to `vmig migrate`,
 * cut by FUZZ_TURN_SEP (fuzz_source_input.h) into chunks: chunk k goes
 * after the client's k-th request line, with the chunks after it while
 * the text let go ends inside a line; FUZZ_CTL_ID in a chunk becomes the
 * id of the request it answers. After the last chunk the fake VMM hangs
 * up; a client that has read everything and stays quiet for
 * FUZZ_CTL_QUIET_MS gets the next chunk early.
 */
#ifndef VMIG_TESTS_FUZZ_CONTROL_CLIENT_INPUT_H
#define VMIG_TESTS_FUZZ_CONTROL_CLIENT_INPUT_H

#include "fuzz_source_input.h"

#define FUZZ_CTL_ID "@ID@"
#define FUZZ_CTL_ID_LEN (sizeof(FUZZ_CTL_ID) - 1)
#define FUZZ_CTL_MAX_CALLS 6 /* migrate, then query-migrate until final */
#define FUZZ_CTL_QUIET_MS 50

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The libFuzzer entry points every target in tests/fuzz defines. With
 * -Dfuzz=true (clang, `make fuzz`) libFuzzer's own main() drives them; in
 * the normal builds replay_main.c runs them over the committed corpus.
 */
#ifndef VMIG_TESTS_FUZZ_TARGET_H
#define VMIG_TESTS_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test broke: a finding, even without a
 * sanitizer report. abort() so that libFuzzer and the replay both see it. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

#endif

/* SPDX-License-Identifier: MIT */
/* FUZZ_ASSERT's report (fuzz_target.h). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_target.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "FUZZ INVARIANT BROKEN: %s:%d: %s\n", file, line, what);
	abort();
}

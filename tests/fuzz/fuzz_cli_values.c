/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the operator's values on the command line
 * (src/common/parse.c: sizes, rates, counts, as --max-bandwidth, --mem,
 * --xbzrle-cache, --channels take them).
 *
 * Input: one byte choosing the parser and its unit or range (the
 * switch below), then the text. Invariants besides the
 * sanitizers: 0, -EINVAL or -ERANGE and nothing else; a size parsed is
 * the text's number times its unit, to within what the parser's 1e-9
 * fraction resolution allows (a long double reference); a count is
 * within its range; format_size of any result fits its buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "fuzz_target.h"

#define CLI_VALUE_MAX_TEXT 256 /* longer than any value an operator types */

/* The number at the start of a text parse_size accepted, times its unit. */
static long double expected_size(const char *text, uint64_t default_unit)
{
	char *end;
	long double v = strtold(text, &end);
	uint64_t unit = default_unit;
	switch (toupper((unsigned char)*end)) {
	case 'B': unit = 1; break;
	case 'K': unit = 1ull << 10; break;
	case 'M': unit = 1ull << 20; break;
	case 'G': unit = 1ull << 30; break;
	case 'T': unit = 1ull << 40; break;
	}
	return v * (long double)unit;
}

static void check_size(const char *text, uint64_t default_unit)
{
	uint64_t v = 0;
	char shown[32];
	int r = parse_size(text, default_unit, &v);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r)
		return;
	long double want = expected_size(text, default_unit);
	/* fraction digits past 1e-9 are dropped: at most 1e-9 of the unit, plus rounding */
	long double slack = want * 1e-9L + (long double)(1ull << 40) * 1e-9L + 1;
	FUZZ_ASSERT(fabsl((long double)v - want) <= slack);
	format_size(v, shown, sizeof(shown));
	FUZZ_ASSERT(memchr(shown, 0, sizeof(shown)));
}

static void check_count(const char *text, uint64_t min, uint64_t max)
{
	uint64_t v = 0;
	int r = parse_u64(text, min, max, &v);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	FUZZ_ASSERT(r || (v >= min && v <= max));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[CLI_VALUE_MAX_TEXT + 1];
	if (!size || size - 1 > CLI_VALUE_MAX_TEXT)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0; /* argv strings end at their first NUL */
	switch (data[0] % 4) {
	case 0: check_size(text, 1); break;	      /* --max-bandwidth, --dirty-limit */
	case 1: check_size(text, 1ull << 20); break;  /* --mem, --xbzrle-cache: MiB */
	case 2: check_count(text, 0, 16); break;      /* --channels */
	case 3: check_count(text, 1, 86400); break;   /* --timeout and the like */
	}
	return 0;
}

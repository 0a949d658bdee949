/* SPDX-License-Identifier: MIT */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int suffix_shift(char c, unsigned *shift)
{
	switch (toupper((unsigned char)c)) {
	case 'B': *shift = 0; return 0;
	case 'K': *shift = 10; return 0;
	case 'M': *shift = 20; return 0;
	case 'G': *shift = 30; return 0;
	case 'T': *shift = 40; return 0;
	default: return -EINVAL;
	}
}

int parse_size(const char *text, uint64_t default_unit, uint64_t *out)
{
	uint64_t whole = 0, frac_num = 0, frac_den = 1, unit = default_unit;
	const char *p = text;

	if (!text || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (frac_den >= 1000000000ull)
				continue; /* ignore digits past 1e-9 */
			frac_num = frac_num * 10 + (uint64_t)(*p - '0');
			frac_den *= 10;
		}
	}
	if (*p) {
		unsigned shift;
		if (suffix_shift(*p, &shift))
			return -EINVAL;
		unit = 1ull << shift;
		p++;
		/* accept "MiB", "MB", "M" */
		if ((*p == 'i' || *p == 'I') && (p[1] == 'B' || p[1] == 'b'))
			p += 2;
		else if ((*p == 'B' || *p == 'b') && shift)
			p++;
		if (*p)
			return -EINVAL;
	}
	if (unit && whole > UINT64_MAX / unit)
		return -ERANGE;
	uint64_t v = whole * unit;
	/* frac_num * unit / frac_den without its 64-bit overflow (frac_num
	 * < frac_den <= 1e9 times a TiB does not fit): unit = q * den + rem */
	uint64_t q = unit / frac_den, rem = unit % frac_den;
	uint64_t f = frac_num * q + frac_num * rem / frac_den;
	if (v > UINT64_MAX - f)
		return -ERANGE;
	*out = v + f;
	return 0;
}

int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = text;

	if (!text || !*p)
		return -EINVAL;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

const char *format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned i = 0;
	uint64_t div = 1;

	while (i < 4 && bytes >= div * 1024)
		div *= 1024, i++;
	if (bytes % div == 0)
		snprintf(buf, len, "%llu %s", (unsigned long long)(bytes / div), units[i]);
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)div, units[i]);
	return buf;
}

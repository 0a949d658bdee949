/* SPDX-License-Identifier: MIT */
/*
 * JSON is Jansson's (https://jansson.readthedocs.io); these are the few
 * helpers the control socket's two ends add on top of it.
 *
 * Jansson's integers are json_int_t (long long): a JSON integer above
 * INT64_MAX or below INT64_MIN fails to parse (json_error_numeric_overflow).
 * The control server turns that into an error naming the argument
 * (src/vmm/control.c); values we write are saturated by json_u64().
 */
#ifndef VMIG_JSON_H
#define VMIG_JSON_H

#include <jansson.h>
#include <stdint.h>

/*
 * How every JSON line is written: compact, on one line, UTF-8 as is, and
 * reals with 15 significant digits (812.3 rather than Jansson's default
 * 812.29999999999995; plenty for figures and timings).
 */
#define VMIG_JSON_DUMP (JSON_COMPACT | JSON_REAL_PRECISION(15))

/*
 * A JSON string from text that may not be valid UTF-8 (a guest's output, a
 * peer's message): invalid bytes become U+FFFD. NULL text gives JSON null.
 * Returns NULL only when out of memory.
 */
json_t *json_string_lossy(const char *s);

/* A JSON number; JSON null when v is not finite (JSON has no NaN or infinity). */
json_t *json_finite(double v);

/* v as a json_int_t for json_pack's "I", saturated at INT64_MAX. */
static inline json_int_t json_u64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A small, strict JSON (RFC 8259) parser and writer.
 *
 * The parser treats its input as hostile: the text is length-bounded (it need
 * not be NUL-terminated), nesting is limited to JSON_MAX_DEPTH, trailing
 * garbage, invalid escapes, raw control characters and invalid UTF-8 inside
 * strings, lone surrogates, duplicate object keys and numbers that overflow
 * a double are all rejected. \uXXXX escapes (surrogate pairs included) are
 * decoded to UTF-8.
 *
 * Numbers are kept three ways: the double, an int64 and/or a uint64 when the
 * value is integral and in range, and the literal text as written (so that a
 * value can be echoed back byte for byte, see jw_value()).
 *
 * Both parser and writer assume the C locale for LC_NUMERIC (vmig never
 * calls setlocale()).
 */
#ifndef VMIG_JSON_H
#define VMIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32 /* nesting of arrays and objects the parser accepts */
#define JSON_MAX_NUMBER_LEN 256 /* longest number literal the parser accepts */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value;

struct json_member {
	char *key; /* NUL-terminated; may contain NUL bytes (see key_len) */
	size_t key_len;
	struct json_value *value;
};

struct json_value {
	enum json_type type;
	union {
		bool boolean;
		struct {
			double d;     /* always set (finite) */
			int64_t i;    /* valid if is_int */
			uint64_t u;   /* valid if is_uint */
			bool is_int;  /* integral and within int64 */
			bool is_uint; /* integral, >= 0 and within uint64 */
			const char *text; /* the literal as written, NUL-terminated */
			size_t text_len;
		} number;
		struct {
			char *s; /* NUL-terminated UTF-8; may contain NUL bytes (see len) */
			size_t len;
		} string;
		struct {
			struct json_value **items;
			size_t len;
		} array;
		struct {
			struct json_member *members; /* in document order */
			size_t len;
		} object;
	} u;
};

/*
 * Parse exactly one JSON value (surrounded by optional whitespace) from
 * text[0..len). On success *out owns the tree (free with json_free) and 0 is
 * returned. On failure *out is NULL, err holds "offset N: reason" and the
 * result is -EINVAL (syntax, depth, encoding), -ERANGE (number overflows a
 * double) or -ENOMEM.
 */
int json_parse(const char *text, size_t len, struct json_value **out, char *err, size_t errlen);

/* Free a tree from json_parse (NULL is fine). */
void json_free(struct json_value *v);

/* "null", "bool", "number", "string", "array", "object". */
const char *json_type_name(enum json_type type);

/* --- Value accessors: 0, or -EINVAL for a NULL value / wrong type. --- */

/* A string without embedded NUL bytes (those give -EINVAL). */
int json_as_string(const struct json_value *v, const char **out);
/* An integral number in range; -EINVAL if not an integral number, -ERANGE
 * if integral but out of range (e.g. a negative number for json_as_uint). */
int json_as_int(const struct json_value *v, int64_t *out);
int json_as_uint(const struct json_value *v, uint64_t *out);
int json_as_bool(const struct json_value *v, bool *out);
/* Any number. */
int json_as_double(const struct json_value *v, double *out);

/* --- Arrays and objects. Wrong types behave as empty containers. --- */

size_t json_array_len(const struct json_value *arr);
/* NULL when out of range or arr is not an array. */
const struct json_value *json_array_at(const struct json_value *arr, size_t i);

size_t json_object_len(const struct json_value *obj);
/* The i-th member's value (and key via *key if non-NULL); NULL out of range. */
const struct json_value *json_object_at(const struct json_value *obj, size_t i, const char **key);

/* The member named key (exact, NUL-free key), or NULL if absent or obj is not an object. */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/*
 * Remove the member named key from obj and hand its value to the caller (who
 * then owns it and frees it with json_free). NULL if absent.
 */
struct json_value *json_take(struct json_value *obj, const char *key);

/*
 * Typed member lookups: 0; -ENOENT if the key is absent (or obj is NULL);
 * -EINVAL if obj is not an object or the member has the wrong type (JSON
 * null counts as a wrong type); -ERANGE as for json_as_int/json_as_uint.
 */
int json_get_string(const struct json_value *obj, const char *key, const char **out);
int json_get_int(const struct json_value *obj, const char *key, int64_t *out);
int json_get_uint(const struct json_value *obj, const char *key, uint64_t *out);
int json_get_bool(const struct json_value *obj, const char *key, bool *out);
int json_get_double(const struct json_value *obj, const char *key, double *out);

/* ------------------------------------------------------------------------ */
/*
 * The writer appends compact JSON to a growable buffer, inserting commas by
 * itself. Usage:
 *
 *	struct json_writer w;
 *	jw_init(&w);
 *	jw_object_begin(&w);
 *	jw_key(&w, "bytes"); jw_uint(&w, n);
 *	jw_object_end(&w);
 *	const char *text = jw_result(&w, &len);   // NULL on any error
 *	...
 *	jw_free(&w);
 *
 * Errors are sticky: after an allocation failure or a misuse (a value where
 * a key is due, unbalanced end, a second top-level value, nesting beyond
 * JW_MAX_DEPTH) every later call does nothing, and jw_result() returns NULL
 * with jw_error() telling why (-ENOMEM or -EINVAL).
 */

#define JW_MAX_DEPTH 64

struct json_writer {
	char *buf;
	size_t len, cap;
	int error;         /* sticky: 0 or negative errno */
	unsigned depth;    /* open containers */
	bool have_key;     /* inside an object, a key awaits its value */
	bool top_done;     /* a complete top-level value has been written */
	bool first[JW_MAX_DEPTH + 1];     /* no element yet at this level */
	bool is_object[JW_MAX_DEPTH + 1]; /* the container at this level */
};

void jw_init(struct json_writer *w);
void jw_free(struct json_writer *w); /* releases the buffer; w may be reused after jw_init */

void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);

void jw_key(struct json_writer *w, const char *key);
void jw_key_len(struct json_writer *w, const char *key, size_t len);

/* Strings are escaped; invalid UTF-8 bytes are replaced by U+FFFD. s == NULL writes null. */
void jw_string(struct json_writer *w, const char *s);
void jw_string_len(struct json_writer *w, const char *s, size_t len);
void jw_int(struct json_writer *w, int64_t v);
void jw_uint(struct json_writer *w, uint64_t v);
/* Shortest text that reads back as the same double; non-finite writes null. */
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);
/* Splice one already-encoded JSON value (trusted, not checked). */
void jw_raw(struct json_writer *w, const char *json, size_t len);
/* Write a parsed value back (numbers as their original literal). NULL writes null. */
void jw_value(struct json_writer *w, const struct json_value *v);

/* 0 or the sticky negative errno. */
int jw_error(const struct json_writer *w);
/*
 * The finished, NUL-terminated text (owned by w) and its length, or NULL if
 * an error occurred, a container is still open or nothing was written.
 */
const char *jw_result(struct json_writer *w, size_t *len);
/* Like jw_result, but hands the malloc'd buffer to the caller and resets w. */
char *jw_take(struct json_writer *w, size_t *len);

#endif

/* SPDX-License-Identifier: MIT */
/* A control request line parsed, its id kept as written: see control_request.h. */
#include "vmm/control_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Duplicate keys are refused, and so is anything but whitespace after the
 * value (no JSON_DISABLE_EOF_CHECK). Any JSON value parses, so that "5" is
 * told it is not a request object. Strings are valid UTF-8 without NUL
 * (no JSON_ALLOW_NUL): a key or string argument is a C string.
 */
#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/*
 * The raw text of a request line, which Jansson has parsed (so it is valid
 * JSON), is read for the id, echoed verbatim, and for where an integer
 * beyond int64 lies.
 */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool control_line_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && is_space(s[i]))
		i++;
	return i;
}

/* Where the JSON value at s[i] ends. */
static size_t value_end(const char *s, size_t len, size_t i)
{
	size_t depth = 0;
	bool in_str = false;

	for (; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\') {
				i++;
			} else if (c == '"') {
				in_str = false;
				if (depth == 0)
					return i + 1;
			}
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0) /* a number or literal, last in its container */
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || is_space(c))) {
			return i;
		}
	}
	return len;
}

/* A member of an object in the text: where its key (quotes included) and value lie. */
struct member {
	size_t key, key_len, val, val_len;
};

/* Past the opening brace of the object at s[i]; len if there is no object there. */
static size_t object_body(const char *s, size_t len, size_t i)
{
	i = skip_space(s, len, i);
	return i < len && s[i] == '{' ? i + 1 : len;
}

/* The next member of the object whose body is being read at *i. */
static bool next_member(const char *s, size_t len, size_t *i, struct member *m)
{
	size_t p = skip_space(s, len, *i);

	if (p < len && s[p] == ',')
		p = skip_space(s, len, p + 1);
	if (p >= len || s[p] != '"')
		return false; /* the closing brace */
	m->key = p;
	p = value_end(s, len, p);
	m->key_len = p - m->key;
	m->val = skip_space(s, len, skip_space(s, len, p) + 1); /* past the colon */
	*i = value_end(s, len, m->val);
	m->val_len = *i - m->val;
	return true;
}

/* The member's key as a JSON string, its escapes decoded; NULL: no memory. */
static json_t *member_key(const char *s, const struct member *m)
{
	return json_loadb(s + m->key, m->key_len, JSON_DECODE_ANY, NULL);
}

static bool member_is(const char *s, const struct member *m, const char *key)
{
	size_t n = strlen(key);

	if (!memchr(s + m->key, '\\', m->key_len))
		return m->key_len == n + 2 && memcmp(s + m->key + 1, key, n) == 0;
	json_t *k = member_key(s, m);
	bool is = json_is_string(k) && strcmp(json_string_value(k), key) == 0;
	json_decref(k);
	return is;
}

/* The top-level member key of the request line s, if there is one. */
static bool find_member(const char *s, size_t len, const char *key, struct member *m)
{
	size_t i = object_body(s, len, 0);

	while (next_member(s, len, &i, m))
		if (member_is(s, m, key))
			return true;
	return false;
}

/* The JSON text s[0, n) without whitespace outside strings (malloc'd), or NULL. */
static char *minify(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	bool in_str = false;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str && c == '\\' && i + 1 < n) {
			*o++ = c;
			c = s[++i];
		} else if (c == '"') {
			in_str = !in_str;
		} else if (!in_str && is_space(c)) {
			continue;
		}
		*o++ = c;
	}
	*o = 0;
	return out;
}

/*
 * The integer beyond int64 whose last digit is s[at]: its sign, and the
 * argument it is the value of (rq->big_key), if it is one. 0 or -ENOMEM.
 */
static int locate_big(const char *s, size_t len, size_t at, struct control_request *rq)
{
	struct member args, m;
	size_t i = at;

	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	rq->big_negative = i > 0 && s[i - 1] == '-';
	if (!find_member(s, len, "arguments", &args))
		return 0;
	i = object_body(s, len, args.val);
	while (next_member(s, len, &i, &m)) {
		if (m.val <= at && at < m.val + m.val_len) {
			rq->big_key = member_key(s, &m);
			return rq->big_key ? 0 : -ENOMEM;
		}
	}
	return 0;
}

int control_request_parse(const char *line, size_t len, struct control_request *rq, char *msg,
			 size_t msglen)
{
	json_error_t e;
	struct member id;
	const char *nul = memchr(line, 0, len);

	/* Jansson skips a raw NUL between tokens; the raw-text readers below
	 * (the id echo) would stop at it. JSON text has none: refuse it. */
	if (nul) {
		snprintf(msg, msglen, "invalid JSON at byte %zu: a NUL byte", (size_t)(nul - line));
		return -EINVAL;
	}
	rq->root = json_loadb(line, len, PARSE_FLAGS, &e);
	if (!rq->root && json_error_code(&e) == json_error_numeric_overflow) {
		rq->root = json_loadb(line, len, PARSE_FLAGS | JSON_DECODE_INT_AS_REAL, NULL);
		rq->loose = rq->root != NULL;
	}
	if (!rq->root) {
		snprintf(msg, msglen, "invalid JSON at byte %d: %s", e.position, e.text);
		return -EINVAL;
	}
	if (find_member(line, len, "id", &id) && !(rq->id = minify(line + id.val, id.val_len)))
		return -ENOMEM;
	if (rq->loose && rq->id) {
		char *copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, line, len);
		memset(copy + id.val, ' ', id.val_len);
		copy[id.val] = '0';
		json_t *strict = json_loadb(copy, len, PARSE_FLAGS, &e); /* same offsets */
		free(copy);
		if (strict) {
			json_decref(rq->root);
			rq->root = strict;
			rq->loose = false;
		}
	}
	/* e.position: just past the (first) integer beyond int64 outside the id. */
	return rq->loose ? locate_big(line, len, (size_t)e.position - 1, rq) : 0;
}

void control_request_free(struct control_request *rq)
{
	json_decref(rq->root);
	json_decref(rq->big_key);
	free(rq->id);
	*rq = (struct control_request){0};
}

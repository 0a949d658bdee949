/* SPDX-License-Identifier: MIT */
#include "common/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------ */
/* UTF-8 */

/*
 * Length of the valid UTF-8 sequence at s (avail bytes available), or 0 if
 * the bytes there are not valid UTF-8 (overlong forms, surrogates, values
 * above U+10FFFF and truncated sequences are invalid).
 */
static size_t utf8_valid_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		if (avail < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = 0x80, hi = 0xbf;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = 0x80, hi = 0xbf;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Integral double, without libm: every double of 2^52 and above is integral. */
static bool dbl_integral(double d)
{
	if (!isfinite(d))
		return false;
	if (fabs(d) >= 4503599627370496.0)
		return true;
	return (double)(int64_t)d == d;
}

/* ------------------------------------------------------------------------ */
/* Parser */

struct parser {
	const char *start;
	const char *p;
	const char *end;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int perr(struct parser *ps, const char *at, int rc,
						      const char *fmt, ...)
{
	if (ps->err && ps->errlen) {
		va_list ap;
		int n = snprintf(ps->err, ps->errlen, "offset %zu: ", (size_t)(at - ps->start));
		if (n >= 0 && (size_t)n < ps->errlen) {
			va_start(ap, fmt);
			vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

static int nomem(struct parser *ps)
{
	return perr(ps, ps->p, -ENOMEM, "out of memory");
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_hex4(struct parser *ps, const char *q, uint32_t *out)
{
	uint32_t v = 0;

	if (ps->end - q < 4)
		return perr(ps, q, -EINVAL, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(q[i]);
		if (h < 0)
			return perr(ps, q + i, -EINVAL, "invalid hex digit in \\u escape");
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

/*
 * ps->p is at the opening quote. Validate the string, find its end and
 * decode it into a fresh buffer placed `prefix` bytes into a malloc'd block
 * (so a node header can share the allocation). The decoded text never is
 * longer than the raw text, which sizes the block.
 */
static int parse_string(struct parser *ps, size_t prefix, void **block, char **str, size_t *slen)
{
	const char *q = ps->p + 1;
	const char *raw;
	char *dst, *d;

	/* First pass: find the closing quote (escapes are checked in the second). */
	raw = q;
	for (;;) {
		if (q >= ps->end)
			return perr(ps, ps->p, -EINVAL, "unterminated string");
		if (*q == '"')
			break;
		if (*q == '\\') {
			if (ps->end - q < 2)
				return perr(ps, ps->p, -EINVAL, "unterminated string");
			q += 2;
			continue;
		}
		q++;
	}
	size_t rawlen = (size_t)(q - raw);
	char *mem = malloc(prefix + rawlen + 1);
	if (!mem)
		return nomem(ps);
	dst = mem + prefix;
	d = dst;

	const char *s = raw;
	while (s < q) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\') {
			char e = s[1];
			switch (e) {
			case '"': *d++ = '"'; s += 2; continue;
			case '\\': *d++ = '\\'; s += 2; continue;
			case '/': *d++ = '/'; s += 2; continue;
			case 'b': *d++ = '\b'; s += 2; continue;
			case 'f': *d++ = '\f'; s += 2; continue;
			case 'n': *d++ = '\n'; s += 2; continue;
			case 'r': *d++ = '\r'; s += 2; continue;
			case 't': *d++ = '\t'; s += 2; continue;
			case 'u': {
				uint32_t cp, lo;
				int rc = read_hex4(ps, s + 2, &cp);
				if (rc < 0)
					goto fail;
				if (cp >= 0xdc00 && cp <= 0xdfff) {
					perr(ps, s, -EINVAL, "lone low surrogate \\u%04" PRIX32, cp);
					goto fail;
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					const char *t = s + 6;
					if (q - t < 6 || t[0] != '\\' || t[1] != 'u') {
						perr(ps, s, -EINVAL,
						     "high surrogate \\u%04" PRIX32 " not followed by a low one", cp);
						goto fail;
					}
					rc = read_hex4(ps, t + 2, &lo);
					if (rc < 0)
						goto fail;
					if (lo < 0xdc00 || lo > 0xdfff) {
						perr(ps, s, -EINVAL,
						     "high surrogate \\u%04" PRIX32 " not followed by a low one", cp);
						goto fail;
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					s += 12;
				} else {
					s += 6;
				}
				d += utf8_encode(cp, d);
				continue;
			}
			default:
				perr(ps, s, -EINVAL, "invalid escape in string");
				goto fail;
			}
		}
		if (c < 0x20) {
			perr(ps, s, -EINVAL, "control character 0x%02x in string", c);
			goto fail;
		}
		size_t n = utf8_valid_len((const unsigned char *)s, (size_t)(q - s));
		if (!n) {
			perr(ps, s, -EINVAL, "invalid UTF-8 in string");
			goto fail;
		}
		memcpy(d, s, n);
		d += n;
		s += n;
	}
	*d = 0;
	*block = mem;
	*str = dst;
	*slen = (size_t)(d - dst);
	ps->p = q + 1;
	return 0;

fail:
	free(mem);
	return -EINVAL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *ps, struct json_value **out)
{
	const char *b = ps->p, *q = ps->p;
	bool integral = true;
	char buf[JSON_MAX_NUMBER_LEN + 1];

	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end || !is_digit(*q))
		return perr(ps, q, -EINVAL, "invalid number");
	if (*q == '0') {
		q++;
		if (q < ps->end && is_digit(*q))
			return perr(ps, q, -EINVAL, "leading zero in number");
	} else {
		while (q < ps->end && is_digit(*q))
			q++;
	}
	if (q < ps->end && *q == '.') {
		integral = false;
		q++;
		if (q >= ps->end || !is_digit(*q))
			return perr(ps, q, -EINVAL, "digit expected after decimal point");
		while (q < ps->end && is_digit(*q))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integral = false;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || !is_digit(*q))
			return perr(ps, q, -EINVAL, "digit expected in exponent");
		while (q < ps->end && is_digit(*q))
			q++;
	}
	size_t n = (size_t)(q - b);
	if (n > JSON_MAX_NUMBER_LEN)
		return perr(ps, b, -EINVAL, "number literal longer than %d characters",
			    JSON_MAX_NUMBER_LEN);
	memcpy(buf, b, n);
	buf[n] = 0;

	/* Underflow to zero or a denormal is fine; overflow is not. */
	double d = strtod(buf, NULL);
	if (!isfinite(d))
		return perr(ps, b, -ERANGE, "number out of range");

	struct json_value *v = calloc(1, sizeof(*v) + n + 1);
	if (!v)
		return nomem(ps);
	v->type = JSON_NUMBER;
	v->u.number.d = d;
	char *text = (char *)(v + 1);
	memcpy(text, buf, n + 1);
	v->u.number.text = text;
	v->u.number.text_len = n;

	if (integral) {
		errno = 0;
		long long ll = strtoll(buf, NULL, 10);
		if (errno == 0) {
			v->u.number.is_int = true;
			v->u.number.i = ll;
			if (ll >= 0) {
				v->u.number.is_uint = true;
				v->u.number.u = (uint64_t)ll;
			}
		} else if (buf[0] != '-') {
			errno = 0;
			unsigned long long ull = strtoull(buf, NULL, 10);
			if (errno == 0) {
				v->u.number.is_uint = true;
				v->u.number.u = ull;
			}
		}
	} else if (dbl_integral(d) && fabs(d) <= 9007199254740992.0) {
		/* 2.0, 1e3: integral and exactly representable. */
		v->u.number.is_int = true;
		v->u.number.i = (int64_t)d;
		if (d >= 0) {
			v->u.number.is_uint = true;
			v->u.number.u = (uint64_t)d;
		}
	}
	ps->p = q;
	*out = v;
	return 0;
}

static int parse_value(struct parser *ps, int depth, struct json_value **out);

static int push_item(struct parser *ps, struct json_value *v, struct json_value *item, size_t *cap)
{
	if (v->u.array.len == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct json_value **n = realloc(v->u.array.items, ncap * sizeof(*n));
		if (!n)
			return nomem(ps);
		v->u.array.items = n;
		*cap = ncap;
	}
	v->u.array.items[v->u.array.len++] = item;
	return 0;
}

static int parse_array(struct parser *ps, int depth, struct json_value **out)
{
	struct json_value *v = calloc(1, sizeof(*v));
	size_t cap = 0;
	int rc;

	if (!v)
		return nomem(ps);
	v->type = JSON_ARRAY;
	ps->p++; /* '[' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		*out = v;
		return 0;
	}
	for (;;) {
		struct json_value *item = NULL;
		skip_ws(ps);
		rc = parse_value(ps, depth, &item);
		if (rc < 0)
			goto fail;
		rc = push_item(ps, v, item, &cap);
		if (rc < 0) {
			json_free(item);
			goto fail;
		}
		skip_ws(ps);
		if (ps->p >= ps->end) {
			rc = perr(ps, ps->p, -EINVAL, "unterminated array");
			goto fail;
		}
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == ']') {
			ps->p++;
			break;
		}
		rc = perr(ps, ps->p, -EINVAL, "',' or ']' expected in array");
		goto fail;
	}
	*out = v;
	return 0;
fail:
	json_free(v);
	return rc;
}

static int cmp_member_ptr(const void *a, const void *b)
{
	const struct json_member *ma = *(const struct json_member *const *)a;
	const struct json_member *mb = *(const struct json_member *const *)b;
	size_t n = ma->key_len < mb->key_len ? ma->key_len : mb->key_len;
	int c = memcmp(ma->key, mb->key, n);

	if (c)
		return c;
	return ma->key_len < mb->key_len ? -1 : ma->key_len > mb->key_len;
}

/* Duplicate keys: sort pointers (O(n log n) even for hostile objects). */
static int check_duplicates(struct parser *ps, const struct json_value *v, const char *at)
{
	size_t n = v->u.object.len;
	const struct json_member **idx;

	if (n < 2)
		return 0;
	idx = malloc(n * sizeof(*idx));
	if (!idx)
		return nomem(ps);
	for (size_t i = 0; i < n; i++)
		idx[i] = &v->u.object.members[i];
	qsort(idx, n, sizeof(*idx), cmp_member_ptr);
	for (size_t i = 1; i < n; i++) {
		if (cmp_member_ptr(&idx[i - 1], &idx[i]) == 0) {
			int rc = perr(ps, at, -EINVAL, "duplicate key \"%.*s\" in object",
				      (int)(idx[i]->key_len > 64 ? 64 : idx[i]->key_len),
				      idx[i]->key);
			free(idx);
			return rc;
		}
	}
	free(idx);
	return 0;
}

static int parse_object(struct parser *ps, int depth, struct json_value **out)
{
	struct json_value *v = calloc(1, sizeof(*v));
	const char *at = ps->p;
	size_t cap = 0;
	int rc;

	if (!v)
		return nomem(ps);
	v->type = JSON_OBJECT;
	ps->p++; /* '{' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		*out = v;
		return 0;
	}
	for (;;) {
		void *block;
		char *key;
		size_t klen;
		struct json_value *item = NULL;

		skip_ws(ps);
		if (ps->p >= ps->end) {
			rc = perr(ps, ps->p, -EINVAL, "unterminated object");
			goto fail;
		}
		if (*ps->p != '"') {
			rc = perr(ps, ps->p, -EINVAL, "string key expected in object");
			goto fail;
		}
		rc = parse_string(ps, 0, &block, &key, &klen);
		if (rc < 0)
			goto fail;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			free(block);
			rc = perr(ps, ps->p, -EINVAL, "':' expected after key");
			goto fail;
		}
		ps->p++;
		skip_ws(ps);
		rc = parse_value(ps, depth, &item);
		if (rc < 0) {
			free(block);
			goto fail;
		}
		if (v->u.object.len == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct json_member *m = realloc(v->u.object.members, ncap * sizeof(*m));
			if (!m) {
				free(block);
				json_free(item);
				rc = nomem(ps);
				goto fail;
			}
			v->u.object.members = m;
			cap = ncap;
		}
		v->u.object.members[v->u.object.len++] =
			(struct json_member){.key = key, .key_len = klen, .value = item};
		skip_ws(ps);
		if (ps->p >= ps->end) {
			rc = perr(ps, ps->p, -EINVAL, "unterminated object");
			goto fail;
		}
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == '}') {
			ps->p++;
			break;
		}
		rc = perr(ps, ps->p, -EINVAL, "',' or '}' expected in object");
		goto fail;
	}
	rc = check_duplicates(ps, v, at);
	if (rc < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	json_free(v);
	return rc;
}

static int match_word(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, ps->p, -EINVAL, "invalid literal");
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, int depth, struct json_value **out)
{
	struct json_value *v;
	int rc;

	if (ps->p >= ps->end)
		return perr(ps, ps->p, -EINVAL, "value expected, end of input found");
	switch (*ps->p) {
	case '{':
	case '[':
		if (depth >= JSON_MAX_DEPTH)
			return perr(ps, ps->p, -EINVAL, "nesting deeper than %d", JSON_MAX_DEPTH);
		return *ps->p == '{' ? parse_object(ps, depth + 1, out)
				     : parse_array(ps, depth + 1, out);
	case '"': {
		void *block;
		char *s;
		size_t len;
		rc = parse_string(ps, sizeof(struct json_value), &block, &s, &len);
		if (rc < 0)
			return rc;
		v = block;
		memset(v, 0, sizeof(*v));
		v->type = JSON_STRING;
		v->u.string.s = s;
		v->u.string.len = len;
		*out = v;
		return 0;
	}
	case 't':
	case 'f':
	case 'n':
		rc = match_word(ps, *ps->p == 't' ? "true" : *ps->p == 'f' ? "false" : "null");
		if (rc < 0)
			return rc;
		v = calloc(1, sizeof(*v));
		if (!v)
			return nomem(ps);
		if (ps->p[-1] == 'l') {
			v->type = JSON_NULL;
		} else {
			v->type = JSON_BOOL;
			v->u.boolean = ps->p[-2] == 'u'; /* tr"u"e */
		}
		*out = v;
		return 0;
	default:
		if (*ps->p == '-' || is_digit(*ps->p))
			return parse_number(ps, out);
		if ((unsigned char)*ps->p < 0x20 || (unsigned char)*ps->p >= 0x7f)
			return perr(ps, ps->p, -EINVAL, "unexpected byte 0x%02x",
				    (unsigned char)*ps->p);
		return perr(ps, ps->p, -EINVAL, "unexpected character '%c'", *ps->p);
	}
}

int json_parse(const char *text, size_t len, struct json_value **out, char *err, size_t errlen)
{
	struct parser ps = {.start = text, .p = text, .end = text + len, .err = err, .errlen = errlen};
	struct json_value *v = NULL;
	int rc;

	if (err && errlen)
		err[0] = 0;
	*out = NULL;
	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "no input");
		return -EINVAL;
	}
	skip_ws(&ps);
	rc = parse_value(&ps, 0, &v);
	if (rc < 0)
		return rc;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(v);
		return perr(&ps, ps.p, -EINVAL, "trailing characters after JSON value");
	}
	*out = v;
	return 0;
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	switch (v->type) {
	case JSON_ARRAY:
		for (size_t i = 0; i < v->u.array.len; i++)
			json_free(v->u.array.items[i]);
		free(v->u.array.items);
		break;
	case JSON_OBJECT:
		for (size_t i = 0; i < v->u.object.len; i++) {
			free(v->u.object.members[i].key);
			json_free(v->u.object.members[i].value);
		}
		free(v->u.object.members);
		break;
	default:
		break; /* strings and number texts share the node's allocation */
	}
	free(v);
}

const char *json_type_name(enum json_type type)
{
	switch (type) {
	case JSON_NULL: return "null";
	case JSON_BOOL: return "bool";
	case JSON_NUMBER: return "number";
	case JSON_STRING: return "string";
	case JSON_ARRAY: return "array";
	case JSON_OBJECT: return "object";
	}
	return "?";
}

/* ------------------------------------------------------------------------ */
/* Accessors */

int json_as_string(const struct json_value *v, const char **out)
{
	if (!v || v->type != JSON_STRING || memchr(v->u.string.s, 0, v->u.string.len))
		return -EINVAL;
	*out = v->u.string.s;
	return 0;
}

int json_as_int(const struct json_value *v, int64_t *out)
{
	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	if (v->u.number.is_int) {
		*out = v->u.number.i;
		return 0;
	}
	if (v->u.number.is_uint || dbl_integral(v->u.number.d))
		return -ERANGE;
	return -EINVAL;
}

int json_as_uint(const struct json_value *v, uint64_t *out)
{
	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	if (v->u.number.is_uint) {
		*out = v->u.number.u;
		return 0;
	}
	if (v->u.number.is_int || dbl_integral(v->u.number.d))
		return -ERANGE;
	return -EINVAL;
}

int json_as_bool(const struct json_value *v, bool *out)
{
	if (!v || v->type != JSON_BOOL)
		return -EINVAL;
	*out = v->u.boolean;
	return 0;
}

int json_as_double(const struct json_value *v, double *out)
{
	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	*out = v->u.number.d;
	return 0;
}

size_t json_array_len(const struct json_value *arr)
{
	return arr && arr->type == JSON_ARRAY ? arr->u.array.len : 0;
}

const struct json_value *json_array_at(const struct json_value *arr, size_t i)
{
	if (!arr || arr->type != JSON_ARRAY || i >= arr->u.array.len)
		return NULL;
	return arr->u.array.items[i];
}

size_t json_object_len(const struct json_value *obj)
{
	return obj && obj->type == JSON_OBJECT ? obj->u.object.len : 0;
}

const struct json_value *json_object_at(const struct json_value *obj, size_t i, const char **key)
{
	if (!obj || obj->type != JSON_OBJECT || i >= obj->u.object.len)
		return NULL;
	if (key)
		*key = obj->u.object.members[i].key;
	return obj->u.object.members[i].value;
}

static ssize_t find_member(const struct json_value *obj, const char *key)
{
	size_t klen;

	if (!obj || obj->type != JSON_OBJECT || !key)
		return -1;
	klen = strlen(key);
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const struct json_member *m = &obj->u.object.members[i];
		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
			return (ssize_t)i;
	}
	return -1;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	ssize_t i = find_member(obj, key);
	return i < 0 ? NULL : obj->u.object.members[i].value;
}

struct json_value *json_take(struct json_value *obj, const char *key)
{
	ssize_t i = find_member(obj, key);
	struct json_value *v;

	if (i < 0)
		return NULL;
	v = obj->u.object.members[i].value;
	free(obj->u.object.members[i].key);
	memmove(&obj->u.object.members[i], &obj->u.object.members[i + 1],
		(obj->u.object.len - (size_t)i - 1) * sizeof(struct json_member));
	obj->u.object.len--;
	return v;
}

static int lookup(const struct json_value *obj, const char *key, const struct json_value **v)
{
	if (!obj)
		return -ENOENT;
	if (obj->type != JSON_OBJECT)
		return -EINVAL;
	*v = json_get(obj, key);
	return *v ? 0 : -ENOENT;
}

int json_get_string(const struct json_value *obj, const char *key, const char **out)
{
	const struct json_value *v;
	int rc = lookup(obj, key, &v);
	return rc < 0 ? rc : json_as_string(v, out);
}

int json_get_int(const struct json_value *obj, const char *key, int64_t *out)
{
	const struct json_value *v;
	int rc = lookup(obj, key, &v);
	return rc < 0 ? rc : json_as_int(v, out);
}

int json_get_uint(const struct json_value *obj, const char *key, uint64_t *out)
{
	const struct json_value *v;
	int rc = lookup(obj, key, &v);
	return rc < 0 ? rc : json_as_uint(v, out);
}

int json_get_bool(const struct json_value *obj, const char *key, bool *out)
{
	const struct json_value *v;
	int rc = lookup(obj, key, &v);
	return rc < 0 ? rc : json_as_bool(v, out);
}

int json_get_double(const struct json_value *obj, const char *key, double *out)
{
	const struct json_value *v;
	int rc = lookup(obj, key, &v);
	return rc < 0 ? rc : json_as_double(v, out);
}

/* ------------------------------------------------------------------------ */
/* Writer */

void jw_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void jw_free(struct json_writer *w)
{
	free(w->buf);
	jw_init(w);
}

static void jw_fail(struct json_writer *w, int rc)
{
	if (!w->error)
		w->error = rc;
}

static bool jw_reserve(struct json_writer *w, size_t n)
{
	if (w->error)
		return false;
	if (n > SIZE_MAX / 2 - w->len) {
		jw_fail(w, -ENOMEM);
		return false;
	}
	if (w->len + n + 1 > w->cap) {
		size_t ncap = w->cap ? w->cap : 256;
		while (ncap < w->len + n + 1)
			ncap *= 2;
		char *b = realloc(w->buf, ncap);
		if (!b) {
			jw_fail(w, -ENOMEM);
			return false;
		}
		w->buf = b;
		w->cap = ncap;
	}
	return true;
}

static void jw_put(struct json_writer *w, const char *s, size_t n)
{
	if (!jw_reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void jw_putc(struct json_writer *w, char c)
{
	jw_put(w, &c, 1);
}

/* Called before any value: checks the position is legal and emits a comma. */
static bool jw_before_value(struct json_writer *w)
{
	if (w->error)
		return false;
	if (w->depth == 0) {
		if (w->top_done) {
			jw_fail(w, -EINVAL);
			return false;
		}
		return true;
	}
	if (w->is_object[w->depth]) {
		if (!w->have_key) {
			jw_fail(w, -EINVAL);
			return false;
		}
		w->have_key = false;
		return true;
	}
	if (!w->first[w->depth])
		jw_putc(w, ',');
	w->first[w->depth] = false;
	return !w->error;
}

static void jw_after_value(struct json_writer *w)
{
	if (w->depth == 0 && !w->error)
		w->top_done = true;
}

static void jw_open(struct json_writer *w, bool object)
{
	if (!jw_before_value(w))
		return;
	if (w->depth >= JW_MAX_DEPTH) {
		jw_fail(w, -EINVAL);
		return;
	}
	jw_putc(w, object ? '{' : '[');
	w->depth++;
	w->first[w->depth] = true;
	w->is_object[w->depth] = object;
}

static void jw_close(struct json_writer *w, bool object)
{
	if (w->error)
		return;
	if (w->depth == 0 || w->is_object[w->depth] != object || w->have_key) {
		jw_fail(w, -EINVAL);
		return;
	}
	jw_putc(w, object ? '}' : ']');
	w->depth--;
	jw_after_value(w);
}

void jw_object_begin(struct json_writer *w)
{
	jw_open(w, true);
}

void jw_object_end(struct json_writer *w)
{
	jw_close(w, true);
}

void jw_array_begin(struct json_writer *w)
{
	jw_open(w, false);
}

void jw_array_end(struct json_writer *w)
{
	jw_close(w, false);
}

static void jw_escaped(struct json_writer *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	jw_putc(w, '"');
	while (i < len) {
		unsigned char c = p[i];
		const char *esc = NULL;
		char ubuf[6];
		size_t n;

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default: break;
		}
		if (!esc && c >= 0x20) {
			n = utf8_valid_len(p + i, len - i);
			if (n) {
				i += n;
				run += n;
				continue;
			}
			esc = "\\ufffd"; /* invalid UTF-8 byte */
		}
		jw_put(w, (const char *)p + i - run, run);
		run = 0;
		if (esc) {
			jw_put(w, esc, strlen(esc));
		} else {
			memcpy(ubuf, "\\u00", 4);
			ubuf[4] = hex[c >> 4];
			ubuf[5] = hex[c & 15];
			jw_put(w, ubuf, 6);
		}
		i++;
	}
	jw_put(w, (const char *)p + i - run, run);
	jw_putc(w, '"');
}

void jw_key_len(struct json_writer *w, const char *key, size_t len)
{
	if (w->error)
		return;
	if (w->depth == 0 || !w->is_object[w->depth] || w->have_key || !key) {
		jw_fail(w, -EINVAL);
		return;
	}
	if (!w->first[w->depth])
		jw_putc(w, ',');
	w->first[w->depth] = false;
	jw_escaped(w, key, len);
	jw_putc(w, ':');
	w->have_key = true;
}

void jw_key(struct json_writer *w, const char *key)
{
	jw_key_len(w, key, key ? strlen(key) : 0);
}

void jw_string_len(struct json_writer *w, const char *s, size_t len)
{
	if (!s) {
		jw_null(w);
		return;
	}
	if (!jw_before_value(w))
		return;
	jw_escaped(w, s, len);
	jw_after_value(w);
}

void jw_string(struct json_writer *w, const char *s)
{
	jw_string_len(w, s, s ? strlen(s) : 0);
}

static void jw_literal(struct json_writer *w, const char *text, size_t len)
{
	if (!jw_before_value(w))
		return;
	jw_put(w, text, len);
	jw_after_value(w);
}

void jw_int(struct json_writer *w, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);
	jw_literal(w, b, (size_t)n);
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);
	jw_literal(w, b, (size_t)n);
}

void jw_double(struct json_writer *w, double v)
{
	char b[40];
	int n = 0;

	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	if (dbl_integral(v) && fabs(v) < 1e17) {
		/* Integral: plain digits ("100", not "1e+02"). */
		n = snprintf(b, sizeof(b), "%.0f", v);
		jw_literal(w, b, (size_t)n);
		return;
	}
	/* The shortest %.Ng that reads back exactly. */
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(b, sizeof(b), "%.*g", prec, v);
		if (strtod(b, NULL) == v)
			break;
	}
	jw_literal(w, b, (size_t)n);
}

void jw_bool(struct json_writer *w, bool v)
{
	if (v)
		jw_literal(w, "true", 4);
	else
		jw_literal(w, "false", 5);
}

void jw_null(struct json_writer *w)
{
	jw_literal(w, "null", 4);
}

void jw_raw(struct json_writer *w, const char *json, size_t len)
{
	if (!json || !len) {
		jw_fail(w, -EINVAL);
		return;
	}
	jw_literal(w, json, len);
}

void jw_value(struct json_writer *w, const struct json_value *v)
{
	if (!v) {
		jw_null(w);
		return;
	}
	switch (v->type) {
	case JSON_NULL:
		jw_null(w);
		break;
	case JSON_BOOL:
		jw_bool(w, v->u.boolean);
		break;
	case JSON_NUMBER:
		if (v->u.number.text)
			jw_literal(w, v->u.number.text, v->u.number.text_len);
		else
			jw_double(w, v->u.number.d);
		break;
	case JSON_STRING:
		jw_string_len(w, v->u.string.s, v->u.string.len);
		break;
	case JSON_ARRAY:
		jw_array_begin(w);
		for (size_t i = 0; i < v->u.array.len; i++)
			jw_value(w, v->u.array.items[i]);
		jw_array_end(w);
		break;
	case JSON_OBJECT:
		jw_object_begin(w);
		for (size_t i = 0; i < v->u.object.len; i++) {
			jw_key_len(w, v->u.object.members[i].key, v->u.object.members[i].key_len);
			jw_value(w, v->u.object.members[i].value);
		}
		jw_object_end(w);
		break;
	}
}

int jw_error(const struct json_writer *w)
{
	return w->error;
}

const char *jw_result(struct json_writer *w, size_t *len)
{
	if (!w->error && (w->depth != 0 || !w->top_done))
		jw_fail(w, -EINVAL);
	if (w->error) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = w->len;
	return w->buf;
}

char *jw_take(struct json_writer *w, size_t *len)
{
	char *b;

	if (!jw_result(w, len)) {
		jw_free(w);
		return NULL;
	}
	b = w->buf;
	w->buf = NULL;
	jw_free(w);
	return b;
}

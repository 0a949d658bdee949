/* SPDX-License-Identifier: MIT */
/* The JSON parser and writer (src/common/json.c). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "unittest.h"

static int parse_str(const char *s, struct json_value **v)
{
	char err[256];
	return json_parse(s, strlen(s), v, err, sizeof(err));
}

/* Parse must fail with rc; err must be non-empty; *out stays NULL. */
static int fails_with(const char *s, size_t len, int rc)
{
	struct json_value *v = (struct json_value *)1;
	char err[256] = "";
	int r = json_parse(s, len, &v, err, sizeof(err));
	if (r != rc || v != NULL || !err[0]) {
		fprintf(stderr, "  input '%.*s': rc %d (want %d), err '%s'\n", (int)len, s, r, rc, err);
		return 0;
	}
	return 1;
}
#define BAD(s) fails_with((s), strlen(s), -EINVAL)

TEST(valid_documents)
{
	struct json_value *v;
	const char *s;
	int64_t i;
	uint64_t u;
	bool b;
	double d;

	CHECK_EQ_INT(parse_str(" {\"a\": 1, \"b\": [true, false, null], \"c\": \"x\", \"d\": {}, \"e\": []}\n", &v), 0);
	CHECK_EQ_INT(v->type, JSON_OBJECT);
	CHECK_EQ_INT(json_object_len(v), 5);
	CHECK_EQ_INT(json_get_int(v, "a", &i), 0);
	CHECK_EQ_INT(i, 1);
	CHECK_EQ_INT(json_get_uint(v, "a", &u), 0);
	CHECK_EQ_INT(u, 1);
	CHECK_EQ_INT(json_get_double(v, "a", &d), 0);
	CHECK(d == 1.0);
	const struct json_value *arr = json_get(v, "b");
	CHECK(arr && arr->type == JSON_ARRAY);
	CHECK_EQ_INT(json_array_len(arr), 3);
	CHECK_EQ_INT(json_as_bool(json_array_at(arr, 0), &b), 0);
	CHECK(b);
	CHECK_EQ_INT(json_as_bool(json_array_at(arr, 1), &b), 0);
	CHECK(!b);
	CHECK_EQ_INT(json_array_at(arr, 2)->type, JSON_NULL);
	CHECK(json_array_at(arr, 3) == NULL);
	CHECK_EQ_INT(json_get_string(v, "c", &s), 0);
	CHECK_STR(s, "x");
	CHECK_EQ_INT(json_object_len(json_get(v, "d")), 0);
	CHECK_EQ_INT(json_array_len(json_get(v, "e")), 0);
	const char *key = NULL;
	CHECK(json_object_at(v, 2, &key) != NULL);
	CHECK_STR(key, "c");

	/* Lookup errors. */
	CHECK_EQ_INT(json_get_string(v, "nope", &s), -ENOENT);
	CHECK_EQ_INT(json_get_string(v, "a", &s), -EINVAL);
	CHECK_EQ_INT(json_get_int(v, "c", &i), -EINVAL);
	CHECK_EQ_INT(json_get_bool(v, "a", &b), -EINVAL);
	CHECK_EQ_INT(json_get_double(v, "b", &d), -EINVAL);
	CHECK_EQ_INT(json_get_int(arr, "a", &i), -EINVAL); /* not an object */
	CHECK_EQ_INT(json_get_int(NULL, "a", &i), -ENOENT);
	CHECK(json_get(arr, "a") == NULL);
	CHECK_EQ_INT(json_array_len(v), 0);

	/* json_take detaches a member. */
	struct json_value *t = json_take(v, "b");
	CHECK(t && t->type == JSON_ARRAY);
	CHECK(json_get(v, "b") == NULL);
	CHECK_EQ_INT(json_object_len(v), 4);
	CHECK_EQ_INT(json_get_string(v, "c", &s), 0);
	CHECK(json_take(v, "b") == NULL);
	json_free(t);
	json_free(v);

	/* Scalars at top level, whitespace around. */
	CHECK_EQ_INT(parse_str("\t\r\n 42 \n", &v), 0);
	CHECK_EQ_INT(json_as_int(v, &i), 0);
	CHECK_EQ_INT(i, 42);
	json_free(v);
	CHECK_EQ_INT(parse_str("\"\"", &v), 0);
	CHECK_EQ_INT(json_as_string(v, &s), 0);
	CHECK_STR(s, "");
	json_free(v);
	CHECK_EQ_INT(parse_str("null", &v), 0);
	CHECK_EQ_INT(v->type, JSON_NULL);
	json_free(v);

	/* Not NUL-terminated: only len bytes count. */
	CHECK_EQ_INT(json_parse("[1,2]garbage", 5, &v, NULL, 0), 0);
	CHECK_EQ_INT(json_array_len(v), 2);
	json_free(v);
	json_free(NULL);
}

TEST(syntax_errors)
{
	static const char *const bad[] = {
		"", "   ", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\":1,}", "{,}", "{\"a\"}",
		"{\"a\" 1}", "{a:1}", "{'a':1}", "{1:2}", "[1 2]", "{\"a\":1 \"b\":2}", "tru",
		"true false", "nul", "nulll", "True", "NaN", "Infinity", "-Infinity", "+1", "01",
		"-01", "1.", ".5", "1e", "1e+", "-", "--1", "0x10", "1.5.2", "[1]]", "{}{}",
		"\"abc", "\"abc\\\"", "[\"a\" , ]", "\x01", "[\x7f]", "/* c */ 1", "1 // c",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(BAD(bad[i]));
	/* Trailing garbage after a valid value, and a NUL inside the length. */
	CHECK(fails_with("{} x", 4, -EINVAL));
	CHECK(fails_with("1\0", 2, -EINVAL));
	CHECK(fails_with(NULL, 0, -EINVAL));
	/* Duplicate keys, also among many. */
	CHECK(BAD("{\"a\":1,\"a\":2}"));
	CHECK(BAD("{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k2\":8}"));
	struct json_value *v;
	CHECK_EQ_INT(parse_str("{\"a\":1,\"ab\":2,\"b\":3,\"a\\u0000\":4}", &v), 0);
	json_free(v);
}

TEST(strings_and_escapes)
{
	struct json_value *v;
	const char *s;

	CHECK_EQ_INT(parse_str("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", &v), 0);
	CHECK_EQ_INT(json_as_string(v, &s), 0);
	CHECK_STR(s, "a\"b\\c/d\be\ff\ng\rh\ti");
	json_free(v);

	/* \u escapes: 1, 2, 3 bytes, and a surrogate pair (U+1F600). */
	CHECK_EQ_INT(parse_str("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"", &v), 0);
	CHECK_EQ_INT(json_as_string(v, &s), 0);
	CHECK_STR(s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	CHECK_EQ_INT(v->u.string.len, 1 + 2 + 3 + 4);
	json_free(v);

	/* Raw UTF-8 passes through. */
	CHECK_EQ_INT(parse_str("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", &v), 0);
	CHECK_EQ_INT(json_as_string(v, &s), 0);
	CHECK_STR(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_free(v);

	/* An escaped NUL is kept, but json_as_string refuses such a string. */
	CHECK_EQ_INT(parse_str("\"a\\u0000b\"", &v), 0);
	CHECK_EQ_INT(v->u.string.len, 3);
	CHECK_EQ_INT(json_as_string(v, &s), -EINVAL);
	json_free(v);

	CHECK(BAD("\"\\x\""));           /* invalid escape */
	CHECK(BAD("\"\\U0041\""));       /* \U is not \u */
	CHECK(BAD("\"\\u00g1\""));       /* bad hex */
	CHECK(BAD("\"\\u00\""));         /* short */
	CHECK(BAD("\"\\u"));             /* truncated */
	CHECK(BAD("\"\\"));              /* truncated */
	CHECK(BAD("\"\\ud83d\""));       /* lone high surrogate */
	CHECK(BAD("\"\\ud83dx\""));      /* high then not an escape */
	CHECK(BAD("\"\\ud83d\\u0041\"")); /* high then not low */
	CHECK(BAD("\"\\ude00\""));       /* lone low surrogate */
	CHECK(BAD("\"a\nb\""));          /* raw control characters */
	CHECK(BAD("\"a\tb\""));
	CHECK(fails_with("\"a\0b\"", 5, -EINVAL));
	CHECK(BAD("\"\xff\""));                 /* invalid UTF-8 */
	CHECK(BAD("\"\xc0\xaf\""));             /* overlong */
	CHECK(BAD("\"\xe0\x80\xaf\""));         /* overlong */
	CHECK(BAD("\"\xed\xa0\x80\""));         /* encoded surrogate */
	CHECK(BAD("\"\xf4\x90\x80\x80\""));     /* above U+10FFFF */
	CHECK(BAD("\"\xe2\x82\""));             /* truncated sequence */
	CHECK(BAD("\"\x80\""));                 /* stray continuation */
}

TEST(numbers)
{
	struct json_value *v;
	int64_t i;
	uint64_t u;
	double d;

	CHECK_EQ_INT(parse_str("[0, -0, -1, 9223372036854775807, -9223372036854775808, "
			       "9223372036854775808, 18446744073709551615, 18446744073709551616, "
			       "1.5, -2.25e3, 1E2, 2.0, 1e-400, 123456789012345678901234567890]",
			       &v),
		     0);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 0), &i), 0);
	CHECK_EQ_INT(i, 0);
	CHECK_EQ_INT(json_as_uint(json_array_at(v, 1), &u), 0);
	CHECK_EQ_INT(u, 0);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 2), &i), 0);
	CHECK_EQ_INT(i, -1);
	CHECK_EQ_INT(json_as_uint(json_array_at(v, 2), &u), -ERANGE);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 3), &i), 0);
	CHECK(i == INT64_MAX);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 4), &i), 0);
	CHECK(i == INT64_MIN);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 5), &i), -ERANGE);
	CHECK_EQ_INT(json_as_uint(json_array_at(v, 5), &u), 0);
	CHECK(u == 9223372036854775808ull);
	CHECK_EQ_INT(json_as_uint(json_array_at(v, 6), &u), 0);
	CHECK(u == UINT64_MAX);
	CHECK_EQ_INT(json_as_uint(json_array_at(v, 7), &u), -ERANGE);
	CHECK_EQ_INT(json_as_double(json_array_at(v, 7), &d), 0);
	CHECK(d == 18446744073709551616.0);
	CHECK_EQ_INT(json_as_double(json_array_at(v, 8), &d), 0);
	CHECK(d == 1.5);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 8), &i), -EINVAL);
	CHECK_EQ_INT(json_as_double(json_array_at(v, 9), &d), 0);
	CHECK(d == -2250.0);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 9), &i), 0); /* integral: fine */
	CHECK_EQ_INT(i, -2250);
	CHECK_EQ_INT(json_as_uint(json_array_at(v, 10), &u), 0);
	CHECK_EQ_INT(u, 100);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 11), &i), 0);
	CHECK_EQ_INT(i, 2);
	CHECK_EQ_INT(json_as_double(json_array_at(v, 12), &d), 0); /* underflow is fine */
	CHECK(d == 0.0);
	CHECK_EQ_INT(json_as_double(json_array_at(v, 13), &d), 0);
	CHECK(d > 1.2e29 && d < 1.3e29);
	CHECK_EQ_INT(json_as_int(json_array_at(v, 13), &i), -ERANGE);
	/* The literal text is kept. */
	CHECK_STR(json_array_at(v, 9)->u.number.text, "-2.25e3");
	json_free(v);

	/* Out of range for a double. */
	CHECK(fails_with("1e400", 5, -ERANGE));
	CHECK(fails_with("[-1e309]", 8, -ERANGE));
	/* Absurdly long literals. */
	char big[400];
	memset(big, '1', sizeof(big));
	CHECK(fails_with(big, sizeof(big), -EINVAL));
	memset(big, '1', JSON_MAX_NUMBER_LEN);
	CHECK_EQ_INT(json_parse(big, JSON_MAX_NUMBER_LEN, &v, NULL, 0), 0);
	json_free(v);
}

TEST(depth_limit)
{
	char doc[2 * (JSON_MAX_DEPTH + 1) + 1];
	struct json_value *v;

	/* Exactly JSON_MAX_DEPTH levels parse. */
	for (int i = 0; i < JSON_MAX_DEPTH; i++) {
		doc[i] = '[';
		doc[JSON_MAX_DEPTH + i] = ']';
	}
	CHECK_EQ_INT(json_parse(doc, 2 * JSON_MAX_DEPTH, &v, NULL, 0), 0);
	json_free(v);
	/* One more does not. */
	for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
		doc[i] = '[';
		doc[JSON_MAX_DEPTH + 1 + i] = ']';
	}
	CHECK(fails_with(doc, 2 * (JSON_MAX_DEPTH + 1), -EINVAL));
	/* Mixed objects and arrays, and a very deep unterminated prefix. */
	char *deep = malloc(100000);
	CHECK(deep);
	for (int i = 0; i < 100000; i++)
		deep[i] = i % 2 ? '[' : '{';
	int ok = fails_with(deep, 100000, -EINVAL);
	for (int i = 0; i < 100000; i++)
		deep[i] = '[';
	ok = ok && fails_with(deep, 100000, -EINVAL);
	free(deep);
	CHECK(ok);
	CHECK_EQ_INT(parse_str("{\"a\":[{\"b\":[{\"c\":[]}]}]}", &v), 0);
	json_free(v);
}

TEST(writer_basics)
{
	struct json_writer w;
	const char *t;
	size_t len;

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "s");
	jw_string(&w, "q\"b\\n\n\t\x01\x1f\x7f\xc3\xa9");
	jw_key(&w, "i");
	jw_int(&w, INT64_MIN);
	jw_key(&w, "u");
	jw_uint(&w, UINT64_MAX);
	jw_key(&w, "a");
	jw_array_begin(&w);
	jw_bool(&w, true);
	jw_bool(&w, false);
	jw_null(&w);
	jw_raw(&w, "{\"x\":1}", 7);
	jw_array_begin(&w);
	jw_array_end(&w);
	jw_object_begin(&w);
	jw_object_end(&w);
	jw_array_end(&w);
	jw_key(&w, "n");
	jw_string(&w, NULL);
	jw_object_end(&w);
	t = jw_result(&w, &len);
	CHECK(t);
	CHECK_STR(t, "{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\x7f\xc3\xa9\",\"i\":-9223372036854775808,"
		     "\"u\":18446744073709551615,\"a\":[true,false,null,{\"x\":1},[],{}],\"n\":null}");
	CHECK_EQ_INT(len, strlen(t));
	jw_free(&w);

	/* Invalid UTF-8 is replaced, so the output is always valid JSON. */
	jw_init(&w);
	jw_string_len(&w, "a\xff" "b\xe2\x82" "\0", 6);
	t = jw_result(&w, &len);
	CHECK_STR(t, "\"a\\ufffdb\\ufffd\\ufffd\\u0000\"");
	jw_free(&w);

	/* Doubles: short, exact, integral ones without exponent, non-finite as null. */
	static const struct {
		double d;
		const char *want;
	} dbl[] = {
		{0.1, "0.1"}, {1.5, "1.5"}, {-2.25, "-2.25"}, {100.0, "100"}, {1e21, "1e+21"},
		{812.3, "812.3"}, {1.0 / 3.0, "0.3333333333333333"}, {0.1 + 0.2, "0.30000000000000004"}, {1.5e-7, "1.5e-07"},
		{4294967296.0, "4294967296"}, {INFINITY, "null"}, {NAN, "null"},
	};
	for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
		jw_init(&w);
		jw_double(&w, dbl[i].d);
		t = jw_result(&w, &len);
		CHECK_STR(t, dbl[i].want);
		jw_free(&w);
	}
}

TEST(writer_misuse_is_sticky)
{
	struct json_writer w;

	/* A value where a key is due. */
	jw_init(&w);
	jw_object_begin(&w);
	jw_int(&w, 1);
	jw_key(&w, "a");
	jw_int(&w, 1);
	jw_object_end(&w);
	CHECK(jw_result(&w, NULL) == NULL);
	CHECK_EQ_INT(jw_error(&w), -EINVAL);
	jw_free(&w);

	/* Key outside an object, mismatched end, two top-level values, open container, nothing. */
	jw_init(&w);
	jw_key(&w, "a");
	CHECK_EQ_INT(jw_error(&w), -EINVAL);
	jw_free(&w);
	jw_init(&w);
	jw_array_begin(&w);
	jw_object_end(&w);
	CHECK_EQ_INT(jw_error(&w), -EINVAL);
	jw_free(&w);
	jw_init(&w);
	jw_int(&w, 1);
	jw_int(&w, 2);
	CHECK(jw_result(&w, NULL) == NULL);
	jw_free(&w);
	jw_init(&w);
	jw_array_begin(&w);
	CHECK(jw_result(&w, NULL) == NULL);
	jw_free(&w);
	jw_init(&w);
	CHECK(jw_result(&w, NULL) == NULL);
	jw_free(&w);
	/* Key with no value before end. */
	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "a");
	jw_object_end(&w);
	CHECK(jw_result(&w, NULL) == NULL);
	jw_free(&w);
	/* Too deep. */
	jw_init(&w);
	for (int i = 0; i < JW_MAX_DEPTH + 1; i++)
		jw_array_begin(&w);
	CHECK_EQ_INT(jw_error(&w), -EINVAL);
	jw_free(&w);

	/* jw_take hands over the buffer. */
	size_t len;
	jw_init(&w);
	jw_array_begin(&w);
	jw_uint(&w, 7);
	jw_array_end(&w);
	char *t = jw_take(&w, &len);
	CHECK_STR(t, "[7]");
	CHECK_EQ_INT(len, 3);
	CHECK(w.buf == NULL);
	free(t);
	jw_free(&w);
}

/* Parse -> write -> parse -> write gives the same text; the writer's output parses. */
TEST(round_trip)
{
	static const char *const docs[] = {
		"{\"a\":[1,-2,3.5,-0,1e400000000],\"b\":{}}",
		"{\"name\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\n\",\"n\":null,\"t\":true,"
		"\"f\":false,\"big\":18446744073709551615,\"neg\":-9223372036854775808,"
		"\"exp\":-1.25E-3,\"arr\":[[],[{}],[[1]]],\"ctl\":\"\\u0001\\u001F\"}",
		"[\"\\u0000\",{\"\\u0000\":1}]",
		"\"just a string\"",
		"12345678901234567890123",
	};
	for (size_t k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
		struct json_value *v, *v2;
		struct json_writer w, w2;
		const char *t1, *t2;
		size_t l1, l2;
		char err[256];
		int rc = json_parse(docs[k], strlen(docs[k]), &v, err, sizeof(err));
		if (k == 0) {
			CHECK_EQ_INT(rc, -ERANGE);
			continue;
		}
		CHECK_EQ_INT(rc, 0);
		jw_init(&w);
		jw_value(&w, v);
		t1 = jw_result(&w, &l1);
		CHECK(t1);
		CHECK_EQ_INT(json_parse(t1, l1, &v2, err, sizeof(err)), 0);
		jw_init(&w2);
		jw_value(&w2, v2);
		t2 = jw_result(&w2, &l2);
		CHECK(t2);
		CHECK_EQ_INT(l1, l2);
		CHECK(memcmp(t1, t2, l1) == 0);
		json_free(v);
		json_free(v2);
		jw_free(&w);
		jw_free(&w2);
	}

	/* Values built with the writer read back equal. */
	struct json_writer w;
	struct json_value *v;
	size_t len;
	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "bytes");
	jw_uint(&w, 17179869184ull + 12345);
	jw_key(&w, "rate");
	jw_double(&w, 812.3456789);
	jw_key(&w, "s\xc3\xa9\n");
	jw_string(&w, "\xf0\x9f\x98\x80\"");
	jw_object_end(&w);
	const char *t = jw_result(&w, &len);
	CHECK(t);
	CHECK_EQ_INT(json_parse(t, len, &v, NULL, 0), 0);
	uint64_t u;
	double d;
	const char *s;
	CHECK_EQ_INT(json_get_uint(v, "bytes", &u), 0);
	CHECK(u == 17179869184ull + 12345);
	CHECK_EQ_INT(json_get_double(v, "rate", &d), 0);
	CHECK(d == 812.3456789);
	CHECK_EQ_INT(json_get_string(v, "s\xc3\xa9\n", &s), 0);
	CHECK_STR(s, "\xf0\x9f\x98\x80\"");
	json_free(v);
	jw_free(&w);
}

/* xorshift64*: deterministic "random" bytes without global state. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

TEST(fuzz_no_crash)
{
	static const char doc[] =
		"{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:10.0.0.1:4444\",\"caps\":"
		"[{\"name\":\"xbzrle\",\"on\":true},{\"name\":\"x\\u00e9\\ud83d\\ude00\",\"on\":null}],"
		"\"speed\":-1.5e3,\"n\":18446744073709551615},\"id\":[1,2,{\"k\":\"v\\n\"}]}";
	size_t dlen = sizeof(doc) - 1;
	struct json_value *v;
	char err[128];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	CHECK_EQ_INT(json_parse(doc, dlen, &v, err, sizeof(err)), 0);
	json_free(v);

	/* Every proper prefix of a valid document is an error (the document is an object). */
	for (size_t n = 0; n < dlen; n++) {
		/* A heap copy of exactly n bytes so ASan catches any over-read. */
		char *p = malloc(n ? n : 1);
		CHECK(p);
		memcpy(p, doc, n);
		int rc = json_parse(p, n, &v, err, sizeof(err));
		free(p);
		CHECK(rc < 0);
		CHECK(v == NULL);
	}

	/* Random byte strings from a JSON-ish alphabet and from all bytes. */
	static const char alpha[] = "{}[]\":,0123456789-+.eE \\u\"tfnrulsa\xc3\xa9\xff\n";
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = rnd(&seed) % 64;
		char *p = malloc(n ? n : 1);
		CHECK(p);
		for (size_t i = 0; i < n; i++)
			p[i] = iter % 2 ? alpha[rnd(&seed) % (sizeof(alpha) - 1)]
					: (char)(rnd(&seed) & 0xff);
		int rc = json_parse(p, n, &v, err, sizeof(err));
		if (rc == 0) {
			/* Whatever parses must write back and parse again. */
			struct json_writer w;
			size_t l;
			jw_init(&w);
			jw_value(&w, v);
			const char *t = jw_result(&w, &l);
			struct json_value *v2;
			int rc2 = t ? json_parse(t, l, &v2, err, sizeof(err)) : -1;
			jw_free(&w);
			json_free(v);
			free(p);
			CHECK_EQ_INT(rc2, 0);
			json_free(v2);
		} else {
			free(p);
			CHECK(v == NULL);
		}
	}

	/* Mutations of the valid document: flip, insert, delete one byte. */
	for (int iter = 0; iter < 20000; iter++) {
		char *p = malloc(dlen + 1);
		size_t n = dlen, at = rnd(&seed) % dlen;
		CHECK(p);
		memcpy(p, doc, dlen);
		switch (rnd(&seed) % 3) {
		case 0:
			p[at] = (char)(rnd(&seed) & 0xff);
			break;
		case 1:
			memmove(p + at + 1, p + at, dlen - at);
			p[at] = alpha[rnd(&seed) % (sizeof(alpha) - 1)];
			n++;
			break;
		default:
			memmove(p + at, p + at + 1, dlen - at - 1);
			n--;
			break;
		}
		int rc = json_parse(p, n, &v, err, sizeof(err));
		free(p);
		CHECK(rc <= 0);
		json_free(v);
	}
}

RUN_TESTS("test_json", UT(valid_documents), UT(syntax_errors), UT(strings_and_escapes),
	  UT(numbers), UT(depth_limit), UT(writer_basics), UT(writer_misuse_is_sticky),
	  UT(round_trip), UT(fuzz_no_crash))

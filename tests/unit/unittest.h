/* SPDX-License-Identifier: MIT */
/*
 * A tiny unit-test harness. Each test binary defines test functions with
 * TEST(name), lists them in RUN_TESTS(...), and prints one line per test:
 *   PASS <binary>.<test>    or    FAIL <binary>.<test>: <file>:<line>: <expr>
 *   or SKIP <binary>.<test>: <why> (SKIP_TEST: what it needs is not here)
 * Exit status is non-zero if any failed. Arguments:
 *   (none)         run every case, in order
 *   --list         print the case names, one a line, and run nothing
 *   NAME...        run only these cases (exit 2 if one does not exist)
 * tests/test_unit.py lists each binary's cases and runs each case in a
 * process of its own, so one crash or sanitizer report fails that case
 * alone; `meson test` runs each binary whole.
 */
#ifndef VMIG_UNITTEST_H
#define VMIG_UNITTEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct ut_state {
	int failed_here;
	int skipped;
	char msg[512];
};

/* Ends the case as skipped, saying why (pytest reports it as skipped). */
#define SKIP_TEST(...)                                                                     \
	do {                                                                               \
		snprintf(ut_->msg, sizeof(ut_->msg), __VA_ARGS__);                         \
		ut_->skipped = 1;                                                          \
		return;                                                                    \
	} while (0)

#define TEST(name) static void name(struct ut_state *ut_)

#define CHECK(expr)                                                                        \
	do {                                                                               \
		if (!(expr)) {                                                             \
			if (!ut_->failed_here)                                             \
				snprintf(ut_->msg, sizeof(ut_->msg), "%s:%d: CHECK(%s)",   \
					 __FILE__, __LINE__, #expr);                       \
			ut_->failed_here = 1;                                              \
			return;                                                            \
		}                                                                          \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
	do {                                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);                        \
		if (a_ != b_) {                                                            \
			snprintf(ut_->msg, sizeof(ut_->msg), "%s:%d: %s == %lld, want %lld", \
				 __FILE__, __LINE__, #a, a_, b_);                          \
			ut_->failed_here = 1;                                              \
			return;                                                            \
		}                                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                                    \
	do {                                                                               \
		const char *a_ = (a), *b_ = (b);                                           \
		if (!a_ || strcmp(a_, b_) != 0) {                                          \
			snprintf(ut_->msg, sizeof(ut_->msg), "%s:%d: %s == \"%.160s\", want \"%.160s\"", \
				 __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_);          \
			ut_->failed_here = 1;                                              \
			return;                                                            \
		}                                                                          \
	} while (0)

/* Like CHECK, with a printf-style message: inside a loop over codecs,
 * sizes or table rows it says which one failed and what happened. */
#define CHECK_MSG(cond, ...)                                                               \
	do {                                                                               \
		if (!(cond)) {                                                             \
			int n_ = snprintf(ut_->msg, sizeof(ut_->msg), "%s:%d: ", __FILE__, \
					  __LINE__);                                       \
			snprintf(ut_->msg + n_, sizeof(ut_->msg) - (size_t)n_, __VA_ARGS__); \
			ut_->failed_here = 1;                                              \
			return;                                                            \
		}                                                                          \
	} while (0)

typedef void (*ut_fn)(struct ut_state *);
struct ut_case {
	const char *name;
	ut_fn fn;
};

#define UT(fn) {#fn, fn}

static inline int ut_run(const char *suite, const struct ut_case *cases, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct ut_state st = {0};
		cases[i].fn(&st);
		if (st.failed_here) {
			printf("FAIL %s.%s: %s\n", suite, cases[i].name, st.msg);
			failed++;
		} else if (st.skipped) {
			printf("SKIP %s.%s: %s\n", suite, cases[i].name, st.msg);
		} else {
			printf("PASS %s.%s\n", suite, cases[i].name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

static inline int ut_main(const char *suite, const struct ut_case *cases, size_t n, int argc,
			  char **argv)
{
	if (argc < 2)
		return ut_run(suite, cases, n);
	if (strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (argv[1][0] == '-') {
		bool help = strcmp(argv[1], "--help") == 0;
		fprintf(help ? stdout : stderr, "usage: %s [--list | CASE...]\n", argv[0]);
		return help ? 0 : 2;
	}
	int failed = 0;
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < n && strcmp(cases[i].name, argv[a]) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "%s: no case named '%s' (--list shows them)\n", suite, argv[a]);
			return 2;
		}
		failed |= ut_run(suite, &cases[i], 1);
	}
	return failed;
}

#define RUN_TESTS(suite, ...)                                                              \
	int main(int argc, char **argv)                                                    \
	{                                                                                  \
		static const struct ut_case cases_[] = {__VA_ARGS__};                      \
		return ut_main(suite, cases_, sizeof(cases_) / sizeof(cases_[0]), argc,    \
			       argv);                                                      \
	}

#endif

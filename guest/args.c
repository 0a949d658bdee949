/* SPDX-License-Identifier: MIT */
/*
 * Command-line parsing. Built without SSE because the multiboot ring-0
 * setup also uses args_find_u64 (to fill boot_info.tsc_khz).
 */
#include "args.h"

#include <stddef.h>

static const char *const fill_names[] = {"zero", "text", "binary", "random", "mixed", "modules"};

const char *fill_name(enum fill_kind k)
{
	return fill_names[k];
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Does the token [s, e) equal the NUL-terminated word w? */
static int tok_eq(const char *s, const char *e, const char *w)
{
	while (s < e && *w && *s == *w)
		s++, w++;
	return s == e && !*w;
}

/* Decimal with an optional K/M/G binary suffix when suffixes != 0. */
static int parse_num(const char *s, const char *e, int suffixes, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	for (; p < e && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	if (p < e && suffixes) {
		unsigned shift;
		switch (*p | 0x20) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		default: return -1;
		}
		if (v > (UINT64_MAX >> shift))
			return -1;
		v <<= shift;
		p++;
	}
	if (p != e)
		return -1;
	*out = v;
	return 0;
}

static int pick(const char *s, const char *e, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++) {
		if (tok_eq(s, e, names[i])) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

static int set_one(struct config *cfg, const char *k, const char *ke, const char *v, const char *e)
{
	static const char *const patterns[] = {"seq", "random"};
	static const char *const writes[] = {"word", "page"};
	int i;

	if (tok_eq(k, ke, "ws"))
		return parse_num(v, e, 1, &cfg->ws_bytes);
	if (tok_eq(k, ke, "rate"))
		return parse_num(v, e, 0, &cfg->rate_mib);
	if (tok_eq(k, ke, "time"))
		return parse_num(v, e, 0, &cfg->time_s);
	if (tok_eq(k, ke, "seed"))
		return parse_num(v, e, 0, &cfg->seed);
	if (tok_eq(k, ke, "tsckhz"))
		return parse_num(v, e, 0, &cfg->tsc_khz);
	if (tok_eq(k, ke, "writers"))
		return parse_num(v, e, 0, &cfg->writers);
	if (tok_eq(k, ke, "modcorrupt")) {
		/* stored +1 so that page 0 can be asked for */
		if (parse_num(v, e, 0, &cfg->modcorrupt) || cfg->modcorrupt == UINT64_MAX)
			return -1;
		cfg->modcorrupt++;
		return 0;
	}
	if (tok_eq(k, ke, "pattern")) {
		if (pick(v, e, patterns, 2, &i))
			return -1;
		cfg->pattern = (enum pattern)i;
		return 0;
	}
	if (tok_eq(k, ke, "write")) {
		if (pick(v, e, writes, 2, &i))
			return -1;
		cfg->write = (enum write_mode)i;
		return 0;
	}
	if (tok_eq(k, ke, "fill")) {
		if (pick(v, e, fill_names, (int)(sizeof(fill_names) / sizeof(fill_names[0])), &i))
			return -1;
		cfg->fill = (enum fill_kind)i;
		return 0;
	}
	return -2;
}

int args_parse(const char *cmdline, struct config *cfg, struct line *err)
{
	*cfg = (struct config){
		.ws_bytes = 64ull << 20,
		.seed = 1,
		.pattern = PATTERN_SEQ,
		.write = WRITE_WORD,
		.fill = FILL_MIXED,
	};
	if (!cmdline)
		return 0;
	for (const char *s = cmdline; *s;) {
		while (is_space(*s))
			s++;
		if (!*s)
			break;
		const char *e = s, *eq = NULL;
		while (*e && !is_space(*e)) {
			if (*e == '=' && !eq)
				eq = e;
			e++;
		}
		int r = eq ? set_one(cfg, s, eq, eq + 1, e) : -2;
		if (r) {
			line_init(err, "bad argument '");
			for (const char *p = s; p < e && p - s < 64; p++) {
				char c[2] = {*p, 0};
				line_str(err, c);
			}
			line_str(err, r == -2 ? "' (unknown)" : "' (bad value)");
			return -1;
		}
		s = e;
	}
	return 0;
}

int args_find_u64(const char *cmdline, const char *key, uint64_t *v)
{
	for (const char *s = cmdline; s && *s;) {
		while (is_space(*s))
			s++;
		const char *e = s, *eq = NULL;
		while (*e && !is_space(*e)) {
			if (*e == '=' && !eq)
				eq = e;
			e++;
		}
		if (eq && tok_eq(s, eq, key) && !parse_num(eq + 1, e, 0, v))
			return 0;
		s = e;
	}
	return -1;
}

/* SPDX-License-Identifier: MIT */
/* Line formatting without libc: strings, decimal, hex, one-decimal fixed point. */
#include "serial.h"

static void put(struct line *l, char c)
{
	/* Keep one byte for the '\n' line_emit adds. */
	if (l->len < LINE_MAX - 1)
		l->buf[l->len++] = c;
}

void line_init(struct line *l, const char *prefix)
{
	l->len = 0;
	line_str(l, "guestload: ");
	line_str(l, prefix);
}

void line_str(struct line *l, const char *s)
{
	while (*s)
		put(l, *s++);
}

void line_u64(struct line *l, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put(l, tmp[--n]);
}

void line_hex(struct line *l, uint64_t v)
{
	char tmp[16];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	put(l, '0');
	put(l, 'x');
	while (n)
		put(l, tmp[--n]);
}

void line_tenths(struct line *l, uint64_t tenths)
{
	line_u64(l, tenths / 10);
	put(l, '.');
	put(l, (char)('0' + tenths % 10));
}

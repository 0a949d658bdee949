/* SPDX-License-Identifier: MIT */
/* Serial output (COM1) and a tiny line formatter. Ring 0 and ring 3. */
#ifndef GUESTLOAD_SERIAL_H
#define GUESTLOAD_SERIAL_H

#include <stdint.h>

#define LINE_MAX 200

struct line {
	unsigned len;
	char buf[LINE_MAX];
};

/* Raw bytes to the UART, no locking (the fault handler uses this). */
void serial_write(const char *s, unsigned n);

/* Formatting: each call appends; overflow is silently truncated. */
void line_init(struct line *l, const char *prefix);
void line_str(struct line *l, const char *s);
void line_u64(struct line *l, uint64_t v);
void line_hex(struct line *l, uint64_t v); /* "0x" and lowercase hex digits */
void line_tenths(struct line *l, uint64_t tenths); /* 8123 -> "812.3" */

/* Appends '\n' and writes the line whole; vCPUs take turns (ring 3 only). */
void line_emit(struct line *l);
/* Same without the lock (ring 0: the faulting vCPU might hold it). */
void line_emit_raw(struct line *l);

/* Convenience: "guestload: <msg>\n". */
void say(const char *msg);

#endif

/* SPDX-License-Identifier: MIT */
/* The record walker of fuzz_source_input.h. */
#include "fuzz_source_input.h"

#include <string.h>

static bool answered(uint32_t type)
{
	return type == REC_HELLO || type == REC_SYNC || type == REC_COMPLETE || type == REC_GO;
}

unsigned turn_walker_feed(struct turn_walker *w, const uint8_t *p, size_t n)
{
	unsigned turns = 0;
	while (n) {
		if (w->have < WIRE_HDR_SIZE) {
			size_t take = WIRE_HDR_SIZE - w->have < n ? WIRE_HDR_SIZE - w->have : n;
			memcpy(w->hdr + w->have, p, take);
			w->have += take;
			p += take;
			n -= take;
			if (w->have < WIRE_HDR_SIZE)
				break;
			struct wire_hdr h;
			wire_decode_hdr(w->hdr, &h);
			w->skip = h.len;
		}
		size_t take = w->skip < n ? (size_t)w->skip : n;
		w->skip -= take;
		p += take;
		n -= take;
		if (!w->skip) { /* the record is whole: a destination would answer now */
			struct wire_hdr h;
			wire_decode_hdr(w->hdr, &h);
			if (answered(h.type)) {
				turns++;
				w->last_turn = h.type;
			}
			w->have = 0;
		}
	}
	return turns;
}

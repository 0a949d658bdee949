/* SPDX-License-Identifier: MIT */
/* The record checks of fuzz_checks.h. */
#include "fuzz_checks.h"

/* What a PAGES record's check covers: fixed part, entries, and a hash per
 * non-zero page (docs/protocol.md); the whole payload if that does not fit. */
static size_t pages_checked_len(const uint8_t *p, size_t n)
{
	struct wire_pages_fixed f;
	char err[128];
	if (n < WIRE_PAGES_FIXED_SIZE ||
	    wire_decode_pages_fixed(p, WIRE_PAGES_FIXED_SIZE, &f, err, sizeof(err)))
		return n;
	const uint8_t *ent = p + WIRE_PAGES_FIXED_SIZE;
	size_t count = f.count, hashed = 0;
	if (count > WIRE_MAX_PAGES_PER_BATCH ||
	    n - WIRE_PAGES_FIXED_SIZE < count * WIRE_PAGES_ITEM_SIZE)
		return n;
	for (size_t i = 0; i < count; i++) {
		uint64_t e;
		if (wire_decode_pages_entries(ent + i * WIRE_PAGES_ITEM_SIZE, WIRE_PAGES_ITEM_SIZE,
					      &e, 1, err, sizeof(err)))
			return n;
		hashed += wire_entry_kind(e) != WIRE_KIND_ZERO;
	}
	size_t meta = WIRE_PAGES_FIXED_SIZE + (count + hashed) * WIRE_PAGES_ITEM_SIZE;
	return meta <= n ? meta : n;
}

void fuzz_fix_checks(uint8_t *d, size_t n, const struct wire_key *k)
{
	for (size_t off = 0; n - off >= WIRE_HDR_SIZE;) {
		struct wire_hdr h;
		wire_decode_hdr(d + off, &h);
		if (h.len > n - off - WIRE_HDR_SIZE)
			return;
		uint8_t *p = d + off + WIRE_HDR_SIZE;
		size_t covered = h.type == REC_PAGES ? pages_checked_len(p, h.len) : h.len;
		wire_encode_hdr(d + off, h.type, h.len, wire_checksum_keyed(k, p, covered));
		off += WIRE_HDR_SIZE + h.len;
	}
}

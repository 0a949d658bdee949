/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the payload decoders of src/migration/wire.c called
 * directly, and the page decoders a PAGES record feeds (codec_decompress,
 * xbzrle_decode): no sockets, no threads, many runs a second.
 *
 * Input: one byte choosing the decoder (enum wire_fuzz_op, modulo their
 * count), then its bytes. Invariants checked besides the sanitizers:
 *  - whatever a decoder accepts, its encoder writes back in a form the
 *    decoder accepts again and that encodes to the same bytes;
 *  - an ERROR's text comes out printable and NUL-terminated;
 *  - a malformed XBZRLE delta leaves the page untouched;
 *  - a codec that says it succeeded wrote what it was asked for, no more.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/xbzrle.h"
#include "common/buf.h"
#include "fuzz_target.h"
#include "fuzz_wire_ops.h"
#include "migration/wire.h"

/* Decoded payload -> bytes, for the round trip. */
static void hello_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	struct wire_hello h;
	char err[256];
	*ok = wire_decode_hello(p, n, &h, err, sizeof(err)) == 0;
	if (*ok)
		wire_encode_hello(b, &h);
}

static void hello_ack_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	struct wire_hello_ack a;
	char err[256];
	*ok = wire_decode_hello_ack(p, n, &a, err, sizeof(err)) == 0;
	if (*ok)
		wire_encode_hello_ack(b, &a);
}

static void error_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	char msg[WIRE_MAX_STRING];
	int code;
	memset(msg, 0x7f, sizeof(msg)); /* not printable: must all be overwritten or past the NUL */
	*ok = wire_decode_error(p, n, &code, msg, sizeof(msg)) == 0;
	size_t len = strnlen(msg, sizeof(msg));
	FUZZ_ASSERT(len < sizeof(msg));
	for (size_t i = 0; i < len; i++)
		FUZZ_ASSERT(msg[i] >= 32 && msg[i] < 127);
	if (*ok)
		wire_encode_error(b, code, msg);
}

/* The fixed-size records: one decoder and encoder pair each. */
#define FIXED_BYTES(name, type, size)                                                              \
	static void name##_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)             \
	{                                                                                          \
		type v;                                                                            \
		uint8_t out[size];                                                                 \
		char err[256];                                                                     \
		*ok = wire_decode_##name(p, n, &v, err, sizeof(err)) == 0;                         \
		if (!*ok)                                                                          \
			return;                                                                    \
		wire_encode_##name(out, &v);                                                       \
		vbuf_put(b, out, sizeof(out));                                                     \
	}
FIXED_BYTES(channel_hello, struct wire_channel_hello, WIRE_CHANNEL_HELLO_SIZE)
FIXED_BYTES(sync, struct wire_sync, WIRE_SYNC_SIZE)
FIXED_BYTES(sync_ack, struct wire_sync_ack, WIRE_SYNC_ACK_SIZE)
FIXED_BYTES(digest, struct wire_digest, WIRE_DIGEST_SIZE)
FIXED_BYTES(alive, struct wire_alive, WIRE_ALIVE_SIZE)
FIXED_BYTES(host_info, struct wire_host_info, WIRE_HOST_INFO_SIZE)
FIXED_BYTES(pages_fixed, struct wire_pages_fixed, WIRE_PAGES_FIXED_SIZE)

static void pages_len_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	uint32_t v;
	uint8_t out[WIRE_PAGES_LEN_SIZE];
	char err[256];
	*ok = wire_decode_pages_len(p, n, &v, err, sizeof(err)) == 0;
	if (*ok) {
		wire_encode_pages_len(out, v);
		vbuf_put(b, out, sizeof(out));
	}
}

static void xbz_delta_len_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	uint16_t v;
	uint8_t out[WIRE_XBZ_DELTA_HDR_SIZE];
	char err[256];
	*ok = wire_decode_xbz_delta_len(p, n, &v, err, sizeof(err)) == 0;
	if (*ok) {
		wire_encode_xbz_delta_len(out, v);
		vbuf_put(b, out, sizeof(out));
	}
}

/* Entries or hashes: the first two bytes say how many the caller expects. */
static void page_u64s_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok, bool hashes)
{
	static uint64_t v[WIRE_MAX_PAGES_PER_BATCH];
	char err[256];
	*ok = false;
	if (n < 2)
		return;
	size_t count = ((size_t)p[0] | (size_t)p[1] << 8) % (WIRE_MAX_PAGES_PER_BATCH + 2);
	p += 2;
	n -= 2;
	uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
	FUZZ_ASSERT(copy);
	memcpy(copy, p, n);
	*ok = (hashes ? wire_decode_pages_hashes(copy, n, v, count, err, sizeof(err))
		      : wire_decode_pages_entries(copy, n, v, count, err, sizeof(err))) == 0;
	free(copy);
	if (!*ok)
		return;
	uint8_t two[2] = {p[-2], p[-1]};
	vbuf_put(b, two, 2);
	static uint8_t out[WIRE_MAX_PAGES_PER_BATCH * WIRE_PAGES_ITEM_SIZE];
	if (hashes)
		wire_encode_pages_hashes(out, v, count);
	else
		wire_encode_pages_entries(out, v, count);
	vbuf_put(b, out, count * WIRE_PAGES_ITEM_SIZE);
}

static void entries_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	page_u64s_bytes(b, p, n, ok, false);
}

static void hashes_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	page_u64s_bytes(b, p, n, ok, true);
}

/* A header, then its payload checked against it. */
static void record_bytes(struct vbuf *b, const uint8_t *p, size_t n, bool *ok)
{
	struct wire_hdr h;
	char err[256];
	*ok = n >= WIRE_HDR_SIZE && wire_parse_hdr(p, &h, err, sizeof(err)) == 0 &&
	      h.len == n - WIRE_HDR_SIZE &&
	      wire_check_payload(&h, p + WIRE_HDR_SIZE, err, sizeof(err)) == 0;
	if (*ok)
		wire_put_record(b, h.type, p + WIRE_HDR_SIZE, h.len);
}

typedef void (*bytes_fn)(struct vbuf *b, const uint8_t *p, size_t n, bool *ok);

static const bytes_fn round_trips[] = {
    [WF_HELLO] = hello_bytes,
    [WF_HELLO_ACK] = hello_ack_bytes,
    [WF_ERROR] = error_bytes,
    [WF_CHANNEL_HELLO] = channel_hello_bytes,
    [WF_SYNC] = sync_bytes,
    [WF_SYNC_ACK] = sync_ack_bytes,
    [WF_DIGEST] = digest_bytes,
    [WF_ALIVE] = alive_bytes,
    [WF_HOST_INFO] = host_info_bytes,
    [WF_PAGES_FIXED] = pages_fixed_bytes,
    [WF_PAGES_ENTRIES] = entries_bytes,
    [WF_PAGES_HASHES] = hashes_bytes,
    [WF_PAGES_LEN] = pages_len_bytes,
    [WF_XBZ_DELTA_LEN] = xbz_delta_len_bytes,
    [WF_RECORD] = record_bytes,
};

/* decode -> encode -> decode -> encode: both decodes succeed, both
 * encodings are the same bytes. */
static void round_trip(bytes_fn fn, const uint8_t *p, size_t n)
{
	struct vbuf once, twice;
	bool ok;
	uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
	FUZZ_ASSERT(copy);
	memcpy(copy, p, n);
	vbuf_init(&once);
	vbuf_init(&twice);
	fn(&once, copy, n, &ok);
	free(copy);
	if (ok) {
		fn(&twice, once.data, once.len, &ok);
		FUZZ_ASSERT(ok);
		FUZZ_ASSERT(once.len == twice.len && !memcmp(once.data, twice.data, once.len));
	}
	vbuf_free(&once);
	vbuf_free(&twice);
}

/* A batch of 1..8 pages: byte 0 the codec, byte 1 the page count. */
static void decompress(const uint8_t *p, size_t n)
{
	static struct codec_ctx *ctx;
	if (n < 2)
		return;
	if (!ctx)
		ctx = codec_ctx_new();
	FUZZ_ASSERT(ctx);
	enum codec_id id = (enum codec_id)(p[0] % CODEC_COUNT);
	size_t want = ((size_t)p[1] % 8 + 1) * WIRE_PAGE_SIZE;
	uint8_t *dst = malloc(want + 1); /* exact size, and a canary past it */
	FUZZ_ASSERT(dst);
	dst[want] = 0xa5;
	int r = codec_decompress(ctx, id, p + 2, n - 2, dst, want, want);
	FUZZ_ASSERT(dst[want] == 0xa5);
	(void)r;
	free(dst);
}

/* One delta against a page holding bytes 0, 1, 2, ... */
static void xbzrle(const uint8_t *p, size_t n)
{
	static uint8_t page[WIRE_PAGE_SIZE], before[WIRE_PAGE_SIZE];
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)i;
	memcpy(before, page, sizeof(page));
	uint8_t *copy = malloc(n ? n : 1);
	FUZZ_ASSERT(copy);
	memcpy(copy, p, n);
	if (xbzrle_decode(copy, n, page, sizeof(page)))
		FUZZ_ASSERT(memcmp(page, before, sizeof(page)) == 0);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	unsigned op = data[0] % WF_COUNT;
	if (op == WF_DECOMPRESS)
		decompress(data + 1, size - 1);
	else if (op == WF_XBZRLE)
		xbzrle(data + 1, size - 1);
	else
		round_trip(round_trips[op], data + 1, size - 1);
	return 0;
}

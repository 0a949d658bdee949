/* SPDX-License-Identifier: MIT */
/*
 * The wire format (src/migration/wire.[ch], docs/protocol.md) on its own:
 * every payload's encode/decode pair round-trips; every decoder refuses
 * every truncation of a valid payload and the payload with one trailing
 * byte (each fed from a buffer of exactly that size, so ASan sees any
 * read past it); and known encodings come out as the exact little-endian
 * bytes the protocol names, whatever the host's byte order.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "migration/wire.h"
#include "unittest.h"

/* A decoder under test: 0 if it accepts p[0..n), else non-zero with err set. */
typedef int (*decode_fn)(const uint8_t *p, size_t n, char *err, size_t errlen);

/* Feeds decode a copy of p[0..n) in a buffer of exactly n bytes (plus one
 * trailing byte when extra). */
static int feed(decode_fn decode, const uint8_t *p, size_t n, bool extra, char *err, size_t errlen)
{
	size_t len = n + (extra ? 1 : 0);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	if (n)
		memcpy(buf, p, n);
	if (extra)
		buf[n] = 0;
	err[0] = 0;
	int r = decode(buf, len, err, errlen);
	free(buf);
	return r;
}

/* Every prefix shorter than the whole, and the whole plus a byte, are
 * refused with a message; the whole is accepted. Returns the first
 * length that was handled wrongly, or -1. */
static long refuses_all_but_whole(decode_fn decode, const uint8_t *p, size_t n)
{
	char err[512];
	for (size_t k = 0; k < n; k++)
		if (feed(decode, p, k, false, err, sizeof(err)) == 0 || !err[0])
			return (long)k;
	if (feed(decode, p, n, true, err, sizeof(err)) == 0 || !err[0])
		return (long)n + 1;
	if (feed(decode, p, n, false, err, sizeof(err)) != 0)
		return (long)n;
	return -1;
}

/* ---- byte order ---- */

TEST(buf_is_little_endian)
{
	struct vbuf b;
	vbuf_init(&b);
	vbuf_put_u16(&b, 0x0102);
	vbuf_put_u32(&b, 0x03040506u);
	vbuf_put_u64(&b, 0x0708090a0b0c0d0eull);
	static const uint8_t want[] = {0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0e,
				       0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07};
	CHECK(!b.oom);
	CHECK_EQ_INT(b.len, sizeof(want));
	CHECK(memcmp(b.data, want, sizeof(want)) == 0);

	struct vreader r;
	vreader_init(&r, want, sizeof(want));
	CHECK_EQ_INT(vr_u16(&r), 0x0102);
	CHECK_EQ_INT(vr_u32(&r), 0x03040506u);
	CHECK(vr_u64(&r) == 0x0708090a0b0c0d0eull);
	CHECK(!r.bad && r.left == 0);
	CHECK_EQ_INT(vr_u8(&r), 0); /* past the end: 0, and bad from now on */
	CHECK(r.bad);
	vbuf_free(&b);

	uint8_t x[8];
	vle64_put(x, 0x1122334455667788ull);
	CHECK(x[0] == 0x88 && x[7] == 0x11);
	CHECK(vle64_get(x) == 0x1122334455667788ull);
	vle32_put(x, 0xa1b2c3d4u);
	CHECK(x[0] == 0xd4 && x[3] == 0xa1 && vle32_get(x) == 0xa1b2c3d4u);
	vle16_put(x, 0xbeef);
	CHECK(x[0] == 0xef && x[1] == 0xbe && vle16_get(x) == 0xbeef);
}

TEST(vreader_short_reads)
{
	static const uint8_t seven[7] = {1, 2, 3, 4, 5, 6, 7};
	struct vreader r;
	vreader_init(&r, seven, sizeof(seven));
	CHECK(vr_u64(&r) == 0);
	CHECK(r.bad);
	CHECK_EQ_INT(vr_u32(&r), 0); /* stays bad */
	vreader_init(&r, seven, sizeof(seven));
	CHECK_EQ_INT(vr_u32(&r), 0x04030201);
	CHECK_EQ_INT(vr_u16(&r), 0x0605);
	CHECK_EQ_INT(vr_u16(&r), 0);
	CHECK(r.bad);
}

/* ---- record header ---- */

TEST(hdr_golden_bytes)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	wire_encode_hdr(hdr, REC_SYNC, WIRE_SYNC_SIZE, 0x0102030405060708ull);
	static const uint8_t want[WIRE_HDR_SIZE] = {0x11, 0,	0,    0,    0x10, 0,	0,    0,
						    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
	CHECK(memcmp(hdr, want, sizeof(want)) == 0);

	struct wire_hdr h;
	char err[256];
	CHECK_EQ_INT(wire_parse_hdr(want, &h, err, sizeof(err)), 0);
	CHECK_EQ_INT(h.type, REC_SYNC);
	CHECK_EQ_INT(h.len, WIRE_SYNC_SIZE);
	CHECK(h.check == 0x0102030405060708ull);

	/* a whole record: header then payload, check over the payload */
	struct vbuf b;
	vbuf_init(&b);
	static const uint8_t pl[3] = {0xaa, 0xbb, 0xcc};
	wire_put_record(&b, REC_ERROR, pl, sizeof(pl));
	CHECK_EQ_INT(b.len, WIRE_HDR_SIZE + sizeof(pl));
	wire_decode_hdr(b.data, &h);
	CHECK_EQ_INT(h.type, REC_ERROR);
	CHECK_EQ_INT(h.len, sizeof(pl));
	CHECK(h.check == wire_checksum(pl, sizeof(pl)));
	CHECK(b.data[0] == 0x3f && b.data[4] == 3);
	CHECK_EQ_INT(wire_check_payload(&h, b.data + WIRE_HDR_SIZE, err, sizeof(err)), 0);
	b.data[WIRE_HDR_SIZE] ^= 1;
	CHECK_EQ_INT(wire_check_payload(&h, b.data + WIRE_HDR_SIZE, err, sizeof(err)), -EBADMSG);
	vbuf_free(&b);
}

static const uint32_t known_types[] = {REC_HELLO,   REC_HELLO_ACK, REC_CHANNEL_HELLO, REC_PAGES,
				       REC_SYNC,    REC_SYNC_ACK,  REC_CHANNEL_END,   REC_STATE,
				       REC_DIGEST,  REC_COMPLETE,  REC_READY,	      REC_GO,
				       REC_RESUMED, REC_ALIVE,	   REC_ERROR};
#define NKNOWN_TYPES (sizeof(known_types) / sizeof(known_types[0]))

TEST(hdr_knows_only_the_record_types)
{
	unsigned nknown = 0;
	for (uint32_t t = 0; t < 0x1000; t++)
		nknown += wire_type_known(t);
	CHECK_EQ_INT(nknown, NKNOWN_TYPES);
	for (unsigned i = 0; i < NKNOWN_TYPES; i++)
		CHECK(wire_type_known(known_types[i]));
	CHECK(!wire_type_known(0));
	CHECK(!wire_type_known(0x04));
	CHECK(!wire_type_known(0xffffffffu));
}

TEST(hdr_names_every_record_type)
{
	for (unsigned i = 0; i < NKNOWN_TYPES; i++)
		CHECK(strcmp(wire_type_name(known_types[i]), "unknown") != 0);
}

TEST(hdr_refuses_an_unknown_type)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	struct wire_hdr h;
	char err[256];
	wire_encode_hdr(hdr, 0x40, 0, 0);
	CHECK_EQ_INT(wire_parse_hdr(hdr, &h, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "bad record: unknown type 0x40");
}

TEST(hdr_accepts_the_largest_payload)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	struct wire_hdr h;
	char err[256];
	wire_encode_hdr(hdr, REC_PAGES, WIRE_MAX_PAYLOAD, 0);
	CHECK_EQ_INT(wire_parse_hdr(hdr, &h, err, sizeof(err)), 0);
}

TEST(hdr_refuses_a_payload_over_the_limit)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	struct wire_hdr h;
	char err[256];
	wire_encode_hdr(hdr, REC_PAGES, WIRE_MAX_PAYLOAD + 1u, 0);
	CHECK_EQ_INT(wire_parse_hdr(hdr, &h, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "exceeds") != NULL);
}

/* ---- HELLO ---- */

static const uint8_t vmm_cfg[5] = {9, 8, 7, 6, 5};

static void sample_hello(struct wire_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = WIRE_MAGIC;
	h->version = WIRE_VERSION;
	h->nr_channels = 3;
	h->features = WIRE_FEATURE_RESUME;
	h->session = 0x5e5510c0ffee0001ull;
	h->host = (struct wire_host_info){.ncpus = 8, .usable_cpus_milli = 7500,
					  .cpu_idle_permille = 950,
					  .flags = WIRE_HOST_IDLE | WIRE_HOST_CPU_QUOTA,
					  .mem_free_bytes = 1ull << 33, .mem_total_bytes = 1ull << 34};
	h->page_size = WIRE_PAGE_SIZE;
	h->nr_regions = 2;
	h->regions[0] = (struct wire_region){0, 1ull << 30};
	h->regions[1] = (struct wire_region){1ull << 32, 1ull << 30};
	h->vmm_config = vmm_cfg;
	h->vmm_config_len = sizeof(vmm_cfg);
}

static int dec_hello(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_hello h;
	return wire_decode_hello(p, n, &h, err, errlen);
}

TEST(hello_round_trip)
{
	struct wire_hello h, d;
	char err[256];
	struct vbuf b;
	sample_hello(&h);
	vbuf_init(&b);
	wire_encode_hello(&b, &h);
	CHECK(!b.oom);
	CHECK_EQ_INT(b.len, 8 + 4 + 4 + 8 + 8 + 32 + 4 + 4 + 2 * 16 + 4 + sizeof(vmm_cfg));
	CHECK_EQ_INT(wire_decode_hello(b.data, b.len, &d, err, sizeof(err)), 0);
	CHECK(d.magic == h.magic && d.version == h.version && d.nr_channels == h.nr_channels);
	CHECK(d.features == h.features && d.session == h.session);
	CHECK(memcmp(&d.host, &h.host, sizeof(h.host)) == 0);
	CHECK(d.page_size == h.page_size && d.nr_regions == h.nr_regions);
	CHECK(memcmp(d.regions, h.regions, sizeof(h.regions)) == 0);
	CHECK_EQ_INT(d.vmm_config_len, sizeof(vmm_cfg));
	CHECK(memcmp(d.vmm_config, vmm_cfg, sizeof(vmm_cfg)) == 0);
	/* the magic reads "VMIGMIG1" on the wire */
	CHECK(memcmp(b.data, "VMIGMIG1", 8) == 0);
	vbuf_free(&b);
}

TEST(hello_with_unknown_features_refused)
{
	struct wire_hello h, d;
	char err[256];
	struct vbuf b;
	sample_hello(&h);
	h.features |= 1ull << 9;
	vbuf_init(&b);
	wire_encode_hello(&b, &h);
	CHECK_EQ_INT(wire_decode_hello(b.data, b.len, &d, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "unknown features") != NULL);
	vbuf_free(&b);
}

TEST(hello_truncations_refused)
{
	struct wire_hello h;
	struct vbuf b;
	sample_hello(&h);
	vbuf_init(&b);
	wire_encode_hello(&b, &h);
	CHECK_EQ_INT(refuses_all_but_whole(dec_hello, b.data, b.len), -1);
	vbuf_free(&b);
}

/* ---- HELLO_ACK ---- */

static void sample_ack(struct wire_hello_ack *a)
{
	memset(a, 0, sizeof(*a));
	a->version = WIRE_VERSION;
	a->status = 1;
	a->features = 0x55aa;
	a->host = (struct wire_host_info){.ncpus = 64, .usable_cpus_milli = 1500,
					  .cpu_idle_permille = 3, .flags = WIRE_HOST_FLAGS,
					  .mem_free_bytes = 12345, .mem_total_bytes = 67890};
	snprintf(a->message, sizeof(a->message), "too much RAM for this host");
	a->resume_pass = 0x0102030405060708ull;
	a->nr_progress = 2;
	a->progress[0] = 77;
	a->progress[1] = UINT64_MAX;
}

static int dec_ack(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_hello_ack a;
	return wire_decode_hello_ack(p, n, &a, err, errlen);
}

TEST(hello_ack_round_trip)
{
	struct wire_hello_ack a, d;
	char err[256];
	struct vbuf b;
	sample_ack(&a);
	vbuf_init(&b);
	wire_encode_hello_ack(&b, &a);
	CHECK_EQ_INT(b.len, 4 + 4 + 8 + 32 + 4 + strlen(a.message) + 8 + 4 + 2 * 8);
	CHECK_EQ_INT(wire_decode_hello_ack(b.data, b.len, &d, err, sizeof(err)), 0);
	CHECK(d.version == a.version && d.status == a.status && d.features == a.features);
	CHECK(memcmp(&d.host, &a.host, sizeof(a.host)) == 0);
	CHECK_STR(d.message, a.message);
	CHECK(d.resume_pass == a.resume_pass && d.nr_progress == 2);
	CHECK(d.progress[0] == 77 && d.progress[1] == UINT64_MAX);
	/* little-endian on the wire, after the message */
	CHECK(b.data[b.len - 28] == 0x08 && b.data[b.len - 21] == 0x01);
	vbuf_free(&b);
}

TEST(hello_ack_with_too_many_streams_refused)
{
	struct wire_hello_ack a, d;
	char err[256];
	struct vbuf b;
	sample_ack(&a);
	a.nr_progress = WIRE_MAX_CHANNELS;
	vbuf_init(&b);
	wire_encode_hello_ack(&b, &a);
	/* one count more than the progress figures it carries */
	b.data[b.len - WIRE_MAX_CHANNELS * 8 - 4] = WIRE_MAX_CHANNELS + 1;
	CHECK_EQ_INT(wire_decode_hello_ack(b.data, b.len, &d, err, sizeof(err)), -EPROTO);
	vbuf_free(&b);
}

TEST(hello_ack_truncations_refused)
{
	struct wire_hello_ack a;
	struct vbuf b;
	sample_ack(&a);
	vbuf_init(&b);
	wire_encode_hello_ack(&b, &a);
	CHECK_EQ_INT(refuses_all_but_whole(dec_ack, b.data, b.len), -1);
	vbuf_free(&b);
}

/* ---- CHANNEL_HELLO ---- */

static int dec_chello(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_channel_hello c;
	return wire_decode_channel_hello(p, n, &c, err, errlen);
}

TEST(channel_hello_round_trip)
{
	uint8_t b[WIRE_CHANNEL_HELLO_SIZE];
	struct wire_channel_hello c = {0x1122334455667788ull, 15}, d;
	char err[256];
	wire_encode_channel_hello(b, &c);
	CHECK_EQ_INT(wire_decode_channel_hello(b, sizeof(b), &d, err, sizeof(err)), 0);
	CHECK(d.session == c.session && d.index == c.index);
	static const uint8_t want[WIRE_CHANNEL_HELLO_SIZE] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
							      0x22, 0x11, 15,	0,    0,    0};
	CHECK(memcmp(b, want, sizeof(want)) == 0);
}

TEST(channel_hello_truncations_refused)
{
	uint8_t b[WIRE_CHANNEL_HELLO_SIZE];
	wire_encode_channel_hello(b, &(struct wire_channel_hello){42, 1});
	CHECK_EQ_INT(refuses_all_but_whole(dec_chello, b, sizeof(b)), -1);
}

/* ---- SYNC ---- */

static int dec_sync(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_sync s;
	return wire_decode_sync(p, n, &s, err, errlen);
}

TEST(sync_round_trip)
{
	uint8_t b[WIRE_SYNC_SIZE];
	struct wire_sync s = {.pass = 7, .reserved = 0}, d;
	char err[256];
	wire_encode_sync(b, &s);
	CHECK_EQ_INT(wire_decode_sync(b, sizeof(b), &d, err, sizeof(err)), 0);
	CHECK(d.pass == 7 && d.reserved == 0);
}

TEST(sync_golden_bytes)
{
	uint8_t b[WIRE_SYNC_SIZE];
	wire_encode_sync(b, &(struct wire_sync){.pass = 0x0102030405060708ull});
	static const uint8_t want[WIRE_SYNC_SIZE] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
						     0,	   0,	 0,    0,    0,	   0,	 0,    0};
	CHECK(memcmp(b, want, sizeof(want)) == 0);
	/* and the whole record as it goes on the wire */
	struct vbuf r;
	vbuf_init(&r);
	wire_put_record(&r, REC_SYNC, b, sizeof(b));
	CHECK_EQ_INT(r.len, WIRE_HDR_SIZE + WIRE_SYNC_SIZE);
	static const uint8_t hdr_start[8] = {0x11, 0, 0, 0, 0x10, 0, 0, 0};
	CHECK(memcmp(r.data, hdr_start, sizeof(hdr_start)) == 0);
	CHECK(vle64_get(r.data + 8) == wire_checksum(want, sizeof(want)));
	CHECK(memcmp(r.data + WIRE_HDR_SIZE, want, sizeof(want)) == 0);
	vbuf_free(&r);
}

TEST(sync_truncations_refused)
{
	uint8_t b[WIRE_SYNC_SIZE];
	char err[256];
	wire_encode_sync(b, &(struct wire_sync){.pass = 3});
	CHECK_EQ_INT(refuses_all_but_whole(dec_sync, b, sizeof(b)), -1);
	CHECK(dec_sync(b, 8, err, sizeof(err)) != 0);
	CHECK_STR(err, "bad SYNC record (8 bytes)");
}

/* ---- SYNC_ACK ---- */

static int dec_sync_ack(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_sync_ack a;
	return wire_decode_sync_ack(p, n, &a, err, errlen);
}

static const struct wire_host_info sample_host = {
	.ncpus = 2, .usable_cpus_milli = 1500, .cpu_idle_permille = 400,
	.flags = WIRE_HOST_IDLE | WIRE_HOST_CPU_QUOTA | WIRE_HOST_MEM_LIMIT,
	.mem_free_bytes = 100ull << 20, .mem_total_bytes = 300ull << 20};

TEST(sync_ack_round_trip)
{
	uint8_t b[WIRE_SYNC_ACK_SIZE];
	struct wire_sync_ack a = {.pass = 0xfedcba9876543210ull, .host = sample_host}, d;
	char err[256];
	CHECK_EQ_INT(WIRE_SYNC_ACK_SIZE, 40);
	wire_encode_sync_ack(b, &a);
	CHECK_EQ_INT(wire_decode_sync_ack(b, sizeof(b), &d, err, sizeof(err)), 0);
	CHECK(d.pass == a.pass);
	CHECK(memcmp(&d.host, &a.host, sizeof(a.host)) == 0);
	CHECK(b[0] == 0x10 && b[7] == 0xfe);
	/* the host info follows the pass, as HELLO and HELLO_ACK carry it */
	uint8_t hi[WIRE_HOST_INFO_SIZE];
	wire_encode_host_info(hi, &sample_host);
	CHECK(memcmp(b + 8, hi, sizeof(hi)) == 0);
}

TEST(sync_ack_truncations_refused)
{
	uint8_t b[WIRE_SYNC_ACK_SIZE];
	char err[256];
	wire_encode_sync_ack(b, &(struct wire_sync_ack){.pass = 2, .host = sample_host});
	CHECK_EQ_INT(refuses_all_but_whole(dec_sync_ack, b, sizeof(b)), -1);
	/* version 1's 8-byte SYNC_ACK is refused, by its length */
	CHECK(dec_sync_ack(b, 8, err, sizeof(err)) != 0);
	CHECK_STR(err, "bad SYNC_ACK record (8 bytes)");
}

/* ---- host info (in HELLO, HELLO_ACK and SYNC_ACK) ---- */

static int dec_host(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_host_info hi;
	return wire_decode_host_info(p, n, &hi, err, errlen);
}

TEST(host_info_golden_bytes)
{
	uint8_t b[WIRE_HOST_INFO_SIZE];
	struct wire_host_info d;
	char err[256];
	wire_encode_host_info(b, &sample_host);
	/* clang-format off */
	static const uint8_t want[WIRE_HOST_INFO_SIZE] = {
		2,    0,    0,    0,                         /* ncpus */
		0xdc, 0x05, 0,    0,                         /* usable CPUs: 1500 thousandths */
		0x90, 0x01, 0,    0,                         /* idle: 400 per mille */
		7,    0,    0,    0,                         /* flags: idle, CPU quota, memory limit */
		0,    0,    0x40, 0x06, 0,    0,    0,    0, /* free: 100 MiB */
		0,    0,    0xc0, 0x12, 0,    0,    0,    0, /* total: 300 MiB */
	};
	/* clang-format on */
	CHECK(memcmp(b, want, sizeof(want)) == 0);
	CHECK_EQ_INT(wire_decode_host_info(b, sizeof(b), &d, err, sizeof(err)), 0);
	CHECK(memcmp(&d, &sample_host, sizeof(d)) == 0);
	CHECK_EQ_INT(refuses_all_but_whole(dec_host, b, sizeof(b)), -1);
	/* all zeros: everything unknown, which is allowed */
	memset(b, 0, sizeof(b));
	CHECK_EQ_INT(wire_decode_host_info(b, sizeof(b), &d, err, sizeof(err)), 0);
}

/* Each out-of-range figure is refused, alone and inside every record that
 * carries host info, with a message that says which. */
TEST(host_info_ranges_refused)
{
	struct wire_host_info bad[6];
	static const char *const why[6] = {
		"too many CPUs", "more usable CPUs than CPUs", "CPU idle share over 1000 per mille",
		"unknown flags", "CPU idle share without its flag", "more free memory than memory"};
	for (int i = 0; i < 6; i++)
		bad[i] = sample_host;
	bad[0].ncpus = WIRE_MAX_HOST_CPUS + 1;
	bad[1].usable_cpus_milli = 2001;
	bad[2].cpu_idle_permille = 1001;
	bad[3].flags |= 1u << 3;
	bad[4].flags &= ~WIRE_HOST_IDLE;
	bad[5].mem_free_bytes = bad[5].mem_total_bytes + 1;
	for (int i = 0; i < 6; i++) {
		uint8_t b[WIRE_HOST_INFO_SIZE], sa[WIRE_SYNC_ACK_SIZE];
		char err[256], want[160];
		struct wire_hello h;
		struct wire_hello_ack a;
		struct vbuf v;
		snprintf(want, sizeof(want), "host info out of range (%s)", why[i]);
		wire_encode_host_info(b, &bad[i]);
		CHECK_EQ_INT(dec_host(b, sizeof(b), err, sizeof(err)), -EPROTO);
		CHECK_STR(err, want);
		wire_encode_sync_ack(sa, &(struct wire_sync_ack){.pass = 1, .host = bad[i]});
		CHECK_EQ_INT(dec_sync_ack(sa, sizeof(sa), err, sizeof(err)), -EPROTO);
		CHECK(strstr(err, "bad SYNC_ACK: ") == err && strstr(err, why[i]));
		sample_hello(&h);
		h.host = bad[i];
		vbuf_init(&v);
		wire_encode_hello(&v, &h);
		CHECK_EQ_INT(dec_hello(v.data, v.len, err, sizeof(err)), -EPROTO);
		CHECK(strstr(err, "bad HELLO: ") == err && strstr(err, why[i]));
		vbuf_reset(&v);
		sample_ack(&a);
		a.host = bad[i];
		wire_encode_hello_ack(&v, &a);
		CHECK_EQ_INT(dec_ack(v.data, v.len, err, sizeof(err)), -EPROTO);
		CHECK(strstr(err, "bad HELLO_ACK: ") == err && strstr(err, why[i]));
		vbuf_free(&v);
	}
}

/* An older HELLO (version 2: no resume) is refused by its version,
 * before anything else. */
TEST(hello_version_2_refused)
{
	struct wire_hello h;
	struct vbuf b;
	char err[256];
	sample_hello(&h);
	h.version = 2;
	vbuf_init(&b);
	wire_encode_hello(&b, &h);
	CHECK_EQ_INT(dec_hello(b.data, b.len, err, sizeof(err)), -EPROTONOSUPPORT);
	CHECK_STR(err, "unsupported migration protocol version 2 (this vmig speaks 3)");
	vbuf_free(&b);
}

/* ---- DIGEST ---- */

static int dec_digest(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_digest d;
	return wire_decode_digest(p, n, &d, err, errlen);
}

TEST(digest_round_trip)
{
	uint8_t b[WIRE_DIGEST_SIZE];
	struct wire_digest g = {0xdeadbeefcafef00dull, 262144, 9}, d;
	char err[256];
	wire_encode_digest(b, &g);
	CHECK_EQ_INT(wire_decode_digest(b, sizeof(b), &d, err, sizeof(err)), 0);
	CHECK(d.digest == g.digest && d.total_pages == g.total_pages);
	CHECK(d.final_pass == g.final_pass);
	CHECK(b[0] == 0x0d && b[8] == 0x00 && b[10] == 0x04 && b[16] == 9);
}

TEST(digest_truncations_refused)
{
	uint8_t b[WIRE_DIGEST_SIZE];
	char err[256];
	wire_encode_digest(b, &(struct wire_digest){1, 2, 3});
	CHECK_EQ_INT(refuses_all_but_whole(dec_digest, b, sizeof(b)), -1);
	CHECK(dec_digest(b, 16, err, sizeof(err)) != 0);
	CHECK_STR(err, "bad DIGEST record (16 bytes)");
}

/* ---- ALIVE ---- */

static int dec_alive(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_alive a;
	return wire_decode_alive(p, n, &a, err, errlen);
}

TEST(alive_round_trip)
{
	uint8_t b[WIRE_ALIVE_SIZE];
	struct wire_alive a = {1700000000123456789ull, 250000000}, d;
	char err[256];
	wire_encode_alive(b, &a);
	CHECK_EQ_INT(wire_decode_alive(b, sizeof(b), &d, err, sizeof(err)), 0);
	CHECK(d.first_alive_ns == a.first_alive_ns && d.decompress_ns == a.decompress_ns);
}

TEST(alive_truncations_refused)
{
	uint8_t b[WIRE_ALIVE_SIZE];
	wire_encode_alive(b, &(struct wire_alive){0, 5});
	CHECK_EQ_INT(refuses_all_but_whole(dec_alive, b, sizeof(b)), -1);
}

/* ---- ERROR ---- */

static int dec_error(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	int code;
	char msg[WIRE_MAX_STRING];
	int r = wire_decode_error(p, n, &code, msg, sizeof(msg));
	if (r)
		snprintf(err, errlen, "%s", msg);
	return r;
}

TEST(error_round_trip)
{
	struct vbuf b;
	char msg[WIRE_MAX_STRING];
	int code = 0;
	vbuf_init(&b);
	wire_encode_error(&b, -EPROTO, "bad PAGES record: checksum mismatch");
	CHECK_EQ_INT(b.len, WIRE_ERROR_FIXED_SIZE + strlen("bad PAGES record: checksum mismatch"));
	CHECK_EQ_INT(wire_decode_error(b.data, b.len, &code, msg, sizeof(msg)), 0);
	CHECK_EQ_INT(code, -EPROTO);
	CHECK_STR(msg, "bad PAGES record: checksum mismatch");
	/* -EPROTO as a u32, little-endian */
	CHECK_EQ_INT(vle32_get(b.data), (uint32_t)-EPROTO);
	/* a small msg buffer truncates; NULL code is fine */
	char small[5];
	CHECK_EQ_INT(wire_decode_error(b.data, b.len, NULL, small, sizeof(small)), 0);
	CHECK_STR(small, "bad ");
	vbuf_free(&b);

	/* control bytes are not passed on */
	vbuf_init(&b);
	wire_encode_error(&b, 1, "a\nb\x1b");
	CHECK_EQ_INT(wire_decode_error(b.data, b.len, NULL, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "a?b?");
	vbuf_free(&b);

	/* the encoder caps the text at WIRE_MAX_STRING - 1 bytes */
	char *longmsg = malloc(3 * WIRE_MAX_STRING);
	CHECK(longmsg);
	memset(longmsg, 'x', 3 * WIRE_MAX_STRING - 1);
	longmsg[3 * WIRE_MAX_STRING - 1] = 0;
	vbuf_init(&b);
	wire_encode_error(&b, 1, longmsg);
	free(longmsg);
	CHECK_EQ_INT(b.len, WIRE_ERROR_FIXED_SIZE + WIRE_MAX_STRING - 1);
	CHECK_EQ_INT(wire_decode_error(b.data, b.len, NULL, msg, sizeof(msg)), 0);
	CHECK_EQ_INT(strlen(msg), WIRE_MAX_STRING - 1);
	vbuf_free(&b);
}

TEST(error_truncations_refused)
{
	struct vbuf b;
	char msg[64];
	vbuf_init(&b);
	wire_encode_error(&b, -EIO, "disk on fire");
	CHECK_EQ_INT(refuses_all_but_whole(dec_error, b.data, b.len), -1);
	CHECK(wire_decode_error(b.data, 3, NULL, msg, sizeof(msg)) != 0);
	CHECK_STR(msg, "(malformed error record)");
	vbuf_free(&b);

	/* a text at the limit is refused even if the record holds it */
	vbuf_init(&b);
	vbuf_put_u32(&b, 1);
	vbuf_put_u32(&b, WIRE_MAX_STRING);
	for (unsigned i = 0; i < WIRE_MAX_STRING; i++)
		vbuf_put_u8(&b, 'y');
	CHECK(wire_decode_error(b.data, b.len, NULL, msg, sizeof(msg)) != 0);
	vbuf_free(&b);
}

/* ---- STATE: only the length is the protocol's ---- */

TEST(state_length_rule)
{
	char err[256];
	CHECK_EQ_INT(wire_check_state_len(0, err, sizeof(err)), 0);
	CHECK_EQ_INT(wire_check_state_len(4096, err, sizeof(err)), 0);
	CHECK_EQ_INT(wire_check_state_len(WIRE_MAX_PAYLOAD, err, sizeof(err)), 0);
	CHECK_EQ_INT(wire_check_state_len((size_t)WIRE_MAX_PAYLOAD + 1, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "device state too large") != NULL);
}

/* ---- PAGES, piece by piece ---- */

static int dec_pages_fixed(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_pages_fixed f;
	return wire_decode_pages_fixed(p, n, &f, err, errlen);
}

static int dec_entries3(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	uint64_t v[3];
	return wire_decode_pages_entries(p, n, v, 3, err, errlen);
}

static int dec_hashes3(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	uint64_t v[3];
	return wire_decode_pages_hashes(p, n, v, 3, err, errlen);
}

static int dec_pages_len(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	uint32_t v;
	return wire_decode_pages_len(p, n, &v, err, errlen);
}

static int dec_delta_len(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	uint16_t v;
	return wire_decode_xbz_delta_len(p, n, &v, err, errlen);
}

TEST(pages_fixed_round_trip)
{
	char err[256];
	uint8_t fb[WIRE_PAGES_FIXED_SIZE];
	struct wire_pages_fixed f = {0x0102030405060708ull, 1024, 3}, fd;
	wire_encode_pages_fixed(fb, &f);
	CHECK_EQ_INT(wire_decode_pages_fixed(fb, sizeof(fb), &fd, err, sizeof(err)), 0);
	CHECK(fd.pass == f.pass && fd.count == f.count && fd.codec == f.codec);
}

TEST(pages_fixed_golden_bytes)
{
	uint8_t fb[WIRE_PAGES_FIXED_SIZE];
	wire_encode_pages_fixed(fb, &(struct wire_pages_fixed){0x0102030405060708ull, 1024, 3});
	static const uint8_t fwant[WIRE_PAGES_FIXED_SIZE] = {8,	   7,	 6, 5, 4, 3, 2, 1,
							     0x00, 0x04, 0, 0, 3, 0, 0, 0};
	CHECK(memcmp(fb, fwant, sizeof(fwant)) == 0);
}

/* Three entries: each kind, and an index past 32 bits. */
static void sample_entries(uint64_t ent[3])
{
	ent[0] = wire_page_entry(0, WIRE_KIND_NORMAL);
	ent[1] = wire_page_entry(5, WIRE_KIND_ZERO);
	ent[2] = wire_page_entry((1ull << 40) + 3, WIRE_KIND_XBZRLE);
}

TEST(pages_entries_round_trip)
{
	char err[256];
	uint64_t ent[3], back[3];
	uint8_t eb[sizeof(ent)];
	sample_entries(ent);
	wire_encode_pages_entries(eb, ent, 3);
	CHECK_EQ_INT(wire_decode_pages_entries(eb, sizeof(eb), back, 3, err, sizeof(err)), 0);
	CHECK(memcmp(back, ent, sizeof(ent)) == 0);
}

TEST(pages_entry_packs_index_and_kind)
{
	uint64_t ent[3];
	uint8_t eb[sizeof(ent)];
	sample_entries(ent);
	wire_encode_pages_entries(eb, ent, 3);
	CHECK(eb[8] == (5 << 2 | 1) && eb[9] == 0);
	CHECK(wire_entry_index(ent[2]) == (1ull << 40) + 3);
	CHECK_EQ_INT(wire_entry_kind(ent[2]), WIRE_KIND_XBZRLE);
	CHECK_EQ_INT(wire_entry_kind(ent[1]), WIRE_KIND_ZERO);
}

/* As the engine does it: one buffer, encoded and decoded where it lies. */
TEST(pages_entries_round_trip_in_place)
{
	char err[256];
	uint64_t ent[3], inplace[3];
	uint8_t eb[sizeof(ent)];
	sample_entries(ent);
	wire_encode_pages_entries(eb, ent, 3);
	memcpy(inplace, ent, sizeof(ent));
	wire_encode_pages_entries(inplace, inplace, 3);
	CHECK(memcmp(inplace, eb, sizeof(eb)) == 0);
	int r = wire_decode_pages_entries(inplace, sizeof(inplace), inplace, 3, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	CHECK(memcmp(inplace, ent, sizeof(ent)) == 0);
}

TEST(pages_hashes_round_trip)
{
	char err[256];
	uint64_t hs[3] = {0x1111222233334444ull, 0, ~0ull}, back[3];
	uint8_t hb[sizeof(hs)];
	wire_encode_pages_hashes(hb, hs, 3);
	CHECK(hb[0] == 0x44 && hb[7] == 0x11);
	CHECK_EQ_INT(wire_decode_pages_hashes(hb, sizeof(hb), back, 3, err, sizeof(err)), 0);
	CHECK(memcmp(back, hs, sizeof(hs)) == 0);
}

/* A batch of zero pages has no hashes. */
TEST(pages_hashes_may_be_none)
{
	char err[256];
	uint8_t hb[8] = {0};
	uint64_t back[1];
	CHECK_EQ_INT(wire_decode_pages_hashes(hb, 0, back, 0, err, sizeof(err)), 0);
}

TEST(pages_len_round_trip)
{
	char err[256];
	uint8_t lb[WIRE_PAGES_LEN_SIZE];
	uint32_t len = 0;
	wire_encode_pages_len(lb, 0x00abcdefu);
	CHECK(lb[0] == 0xef && lb[3] == 0);
	CHECK_EQ_INT(wire_decode_pages_len(lb, sizeof(lb), &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(len, 0x00abcdefu);
}

TEST(xbz_delta_len_round_trip)
{
	char err[256];
	uint8_t db[WIRE_XBZ_DELTA_HDR_SIZE];
	uint16_t dl = 0;
	wire_encode_xbz_delta_len(db, 3072);
	CHECK(db[0] == 0x00 && db[1] == 0x0c);
	CHECK_EQ_INT(wire_decode_xbz_delta_len(db, sizeof(db), &dl, err, sizeof(err)), 0);
	CHECK_EQ_INT(dl, 3072);
}

TEST(pages_pieces_truncations_refused)
{
	uint8_t fb[WIRE_PAGES_FIXED_SIZE];
	wire_encode_pages_fixed(fb, &(struct wire_pages_fixed){1, 3, 0});
	CHECK_EQ_INT(refuses_all_but_whole(dec_pages_fixed, fb, sizeof(fb)), -1);

	uint64_t v[3] = {1, 2, 3};
	uint8_t b[sizeof(v)];
	wire_encode_pages_entries(b, v, 3);
	CHECK_EQ_INT(refuses_all_but_whole(dec_entries3, b, sizeof(b)), -1);
	wire_encode_pages_hashes(b, v, 3);
	CHECK_EQ_INT(refuses_all_but_whole(dec_hashes3, b, sizeof(b)), -1);

	uint8_t lb[WIRE_PAGES_LEN_SIZE];
	wire_encode_pages_len(lb, 77);
	CHECK_EQ_INT(refuses_all_but_whole(dec_pages_len, lb, sizeof(lb)), -1);

	uint8_t db[WIRE_XBZ_DELTA_HDR_SIZE];
	wire_encode_xbz_delta_len(db, 9);
	CHECK_EQ_INT(refuses_all_but_whole(dec_delta_len, db, sizeof(db)), -1);

	/* more entries than a batch may hold are refused before any is read */
	char err[256];
	uint64_t big[1];
	CHECK(wire_decode_pages_entries(b, (size_t)(WIRE_MAX_PAGES_PER_BATCH + 1) * 8, big,
					WIRE_MAX_PAGES_PER_BATCH + 1, err, sizeof(err)) != 0);
}

/* A whole (small) PAGES payload from the pieces, byte for byte. */
TEST(pages_golden_bytes)
{
	struct vbuf p;
	uint8_t piece[WIRE_PAGES_FIXED_SIZE];
	vbuf_init(&p);
	wire_encode_pages_fixed(piece, &(struct wire_pages_fixed){1, 2, 0});
	vbuf_put(&p, piece, WIRE_PAGES_FIXED_SIZE);
	uint64_t ent[2] = {wire_page_entry(2, WIRE_KIND_NORMAL),
			   wire_page_entry(3, WIRE_KIND_ZERO)};
	wire_encode_pages_entries(piece, ent, 2);
	vbuf_put(&p, piece, sizeof(ent));
	uint64_t h = 0xa1a2a3a4a5a6a7a8ull;
	wire_encode_pages_hashes(piece, &h, 1);
	vbuf_put(&p, piece, WIRE_PAGES_ITEM_SIZE);
	wire_encode_pages_len(piece, 0);
	vbuf_put(&p, piece, WIRE_PAGES_LEN_SIZE);
	/* clang-format off */
	static const uint8_t want[] = {
		1,    0,    0,    0,    0,    0,    0,    0, /* pass */
		2,    0,    0,    0,                         /* count */
		0,    0,    0,    0,                         /* codec: none */
		8,    0,    0,    0,    0,    0,    0,    0, /* page 2 << 2 | normal */
		13,   0,    0,    0,    0,    0,    0,    0, /* page 3 << 2 | zero */
		0xa8, 0xa7, 0xa6, 0xa5, 0xa4, 0xa3, 0xa2, 0xa1, /* hash of page 2 */
		0,    0,    0,    0,                         /* xbz_len */
	};
	/* clang-format on */
	CHECK_EQ_INT(p.len, sizeof(want));
	CHECK_EQ_INT(p.len, WIRE_PAGES_MIN_SIZE + 3 * WIRE_PAGES_ITEM_SIZE);
	CHECK(memcmp(p.data, want, sizeof(want)) == 0);
	vbuf_free(&p);
}

RUN_TESTS("test_wire", UT(buf_is_little_endian), UT(vreader_short_reads), UT(hdr_golden_bytes),
	  UT(hdr_knows_only_the_record_types), UT(hdr_names_every_record_type),
	  UT(hdr_refuses_an_unknown_type), UT(hdr_accepts_the_largest_payload),
	  UT(hdr_refuses_a_payload_over_the_limit), UT(hello_round_trip),
	  UT(hello_truncations_refused), UT(hello_with_unknown_features_refused),
	  UT(hello_ack_round_trip), UT(hello_ack_truncations_refused),
	  UT(hello_ack_with_too_many_streams_refused), UT(channel_hello_round_trip),
	  UT(channel_hello_truncations_refused), UT(sync_round_trip), UT(sync_golden_bytes),
	  UT(sync_truncations_refused), UT(sync_ack_round_trip), UT(sync_ack_truncations_refused),
	  UT(host_info_golden_bytes), UT(host_info_ranges_refused), UT(hello_version_2_refused),
	  UT(digest_round_trip), UT(digest_truncations_refused), UT(alive_round_trip),
	  UT(alive_truncations_refused), UT(error_round_trip), UT(error_truncations_refused),
	  UT(state_length_rule), UT(pages_fixed_round_trip), UT(pages_fixed_golden_bytes),
	  UT(pages_entries_round_trip), UT(pages_entry_packs_index_and_kind),
	  UT(pages_entries_round_trip_in_place), UT(pages_hashes_round_trip),
	  UT(pages_hashes_may_be_none), UT(pages_len_round_trip), UT(xbz_delta_len_round_trip),
	  UT(pages_pieces_truncations_refused), UT(pages_golden_bytes))

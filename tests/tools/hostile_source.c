/* SPDX-License-Identifier: MIT */
/*
 * Test tool: a migration source that misbehaves on purpose, to check that
 * `vmig run --incoming` refuses bad streams cleanly. Usage:
 *   hostile_source tcp:HOST:PORT CASE
 * CASE: garbage | truncated | version | magic | page-range | bad-checksum | bad-page |
 *       huge-length | bad-count | wrong-order | state-garbage | digest | hangup
 * Each case sends a (mostly) valid HELLO for a 64 MiB, 1-vCPU VM first,
 * where the case needs one, then its fault. Exit 0 once the stream is sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/buf.h"
#include "migration/channel.h"
#include "migration/wire.h"

#define MEM (64ull << 20)

static void hello(struct vbuf *out, uint32_t version, uint64_t magic)
{
	struct vbuf cfg;
	vbuf_init(&cfg);
	/* the VMM's config blob: version, vcpus, mem, boot mode (direct) */
	vbuf_put_u32(&cfg, 1);
	vbuf_put_u32(&cfg, 1);
	vbuf_put_u64(&cfg, MEM);
	vbuf_put_u32(&cfg, 1);
	struct wire_hello h = {.magic = magic, .version = version, .page_size = 4096, .nr_regions = 1};
	h.regions[0] = (struct wire_region){0, MEM};
	h.vmm_config = cfg.data;
	h.vmm_config_len = (uint32_t)cfg.len;
	struct vbuf p;
	vbuf_init(&p);
	wire_encode_hello(&p, &h);
	wire_put_record(out, REC_HELLO, p.data, p.len);
	vbuf_free(&p);
	vbuf_free(&cfg);
}

/* Appends payload p (freed here) as a PAGES record: its check covers the
 * first meta bytes (fixed part, entries, hashes), not the page data. */
static void put_pages_record(struct vbuf *out, struct vbuf *p, size_t meta)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	wire_encode_hdr(hdr, REC_PAGES, p->len, XXH3_64bits(p->data, meta));
	vbuf_put(out, hdr, sizeof(hdr));
	vbuf_put(out, p->data, p->len);
	vbuf_free(p);
}

/* A PAGES record in the v1 layout: fixed, entries, hashes, data. */
static void pages(struct vbuf *out, uint64_t first_page, uint32_t count, bool zero)
{
	struct vbuf p;
	uint8_t page[4096];
	vbuf_init(&p);
	vbuf_put_u64(&p, 1);
	vbuf_put_u32(&p, count);
	vbuf_put_u32(&p, 0);
	for (uint32_t i = 0; i < count; i++)
		vbuf_put_u64(&p, (first_page + i) << 2 | (zero ? 1 : 0));
	for (uint32_t i = 0; !zero && i < count; i++) {
		memset(page, (int)(i + 1), sizeof(page));
		vbuf_put_u64(&p, XXH3_64bits(page, sizeof(page)));
	}
	size_t meta = p.len;
	vbuf_put_u32(&p, 0); /* no XBZRLE section */
	for (uint32_t i = 0; !zero && i < count; i++) {
		memset(page, (int)(i + 1), sizeof(page));
		vbuf_put(&p, page, sizeof(page));
	}
	put_pages_record(out, &p, meta);
}

int main(int argc, char **argv)
{
	char err[256];
	int fd;
	struct vbuf s;

	if (argc != 3) {
		fprintf(stderr, "usage: %s tcp:HOST:PORT CASE\n", argv[0]);
		return 2;
	}
	const char *c = argv[2];
	vbuf_init(&s);
	if (!strcmp(c, "garbage")) {
		srand(7);
		for (int i = 0; i < 65536; i++)
			vbuf_put_u8(&s, (uint8_t)rand());
	} else if (!strcmp(c, "truncated")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		s.len -= 10;
	} else if (!strcmp(c, "version")) {
		hello(&s, 99, WIRE_MAGIC);
	} else if (!strcmp(c, "magic")) {
		hello(&s, WIRE_VERSION, 0x1122334455667788ull);
	} else if (!strcmp(c, "page-range")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		pages(&s, 0, 4, false);
		pages(&s, MEM / 4096, 1, false); /* one past the end */
	} else if (!strcmp(c, "bad-checksum")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		size_t at = s.len;
		pages(&s, 0, 2, false);
		s.data[at + WIRE_HDR_SIZE + 36] ^= 1; /* inside the page hashes */
	} else if (!strcmp(c, "bad-xbzrle")) {
		/* an XBZRLE page whose delta runs past the page */
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		struct vbuf p;
		vbuf_init(&p);
		vbuf_put_u64(&p, 1);
		vbuf_put_u32(&p, 1);
		vbuf_put_u32(&p, 0);
		vbuf_put_u64(&p, 5ull << 2 | 2);
		vbuf_put_u64(&p, 0x1234); /* its hash */
		size_t meta = p.len;
		uint8_t delta[] = {0xff, 0x7f, 0x10, 1, 2, 3}; /* zero run of 16383, then 16 bytes */
		vbuf_put_u32(&p, 2 + sizeof(delta));
		vbuf_put_u16(&p, sizeof(delta));
		vbuf_put(&p, delta, sizeof(delta));
		put_pages_record(&s, &p, meta);
	} else if (!strcmp(c, "bad-compressed")) {
		/* zstd-compressed data that is garbage */
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		struct vbuf p;
		vbuf_init(&p);
		vbuf_put_u64(&p, 1);
		vbuf_put_u32(&p, 2);
		vbuf_put_u32(&p, 2); /* zstd */
		vbuf_put_u64(&p, 0ull << 2);
		vbuf_put_u64(&p, 1ull << 2);
		vbuf_put_u64(&p, 1);
		vbuf_put_u64(&p, 2);
		size_t meta = p.len;
		vbuf_put_u32(&p, 0);
		vbuf_put_u32(&p, 64);
		for (int i = 0; i < 64; i++)
			vbuf_put_u8(&p, (uint8_t)(i * 37));
		put_pages_record(&s, &p, meta);
	} else if (!strcmp(c, "bad-page")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		size_t at = s.len;
		pages(&s, 0, 2, false);
		s.data[s.len - 100] ^= 1; /* inside the last page's data */
		(void)at;
	} else if (!strcmp(c, "huge-length")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		uint32_t type = REC_PAGES, len = 0xfffffff0u;
		uint64_t check = 0;
		vbuf_put(&s, &type, 4);
		vbuf_put(&s, &len, 4);
		vbuf_put(&s, &check, 8);
	} else if (!strcmp(c, "bad-count")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		struct vbuf p;
		vbuf_init(&p);
		vbuf_put_u64(&p, 1);
		vbuf_put_u32(&p, 1000); /* claims 1000 pages, carries one entry */
		vbuf_put_u32(&p, 0);
		vbuf_put_u64(&p, 0);
		vbuf_put_u32(&p, 0);
		wire_put_record(&s, REC_PAGES, p.data, p.len);
		vbuf_free(&p);
	} else if (!strcmp(c, "wrong-order")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		wire_put_record(&s, REC_COMPLETE, NULL, 0);
	} else if (!strcmp(c, "state-garbage")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		pages(&s, 0, 16, true);
		uint8_t junk[300];
		for (unsigned i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 7);
		wire_put_record(&s, REC_STATE, junk, sizeof(junk));
		uint64_t dig[3] = {0, MEM / 4096, 1};
		wire_put_record(&s, REC_DIGEST, dig, sizeof(dig));
	} else if (!strcmp(c, "digest")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		pages(&s, 0, 8, false);
		uint64_t dig[3] = {0x1234, MEM / 4096, 1};
		wire_put_record(&s, REC_DIGEST, dig, sizeof(dig));
	} else if (!strcmp(c, "hangup")) {
		hello(&s, WIRE_VERSION, WIRE_MAGIC);
		pages(&s, 0, 8, false);
	} else {
		fprintf(stderr, "unknown case '%s'\n", c);
		return 2;
	}
	/* retry briefly: the destination may still be starting */
	int r = -1;
	for (int i = 0; i < 50 && r; i++) {
		r = chan_connect(argv[1], 2000, -1, &fd, err, sizeof(err));
		if (r)
			usleep(100000);
	}
	if (r) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct channel ch;
	chan_init(&ch, fd, -1, 5000);
	r = chan_send(&ch, s.data, s.len, err, sizeof(err));
	/* Read whatever the destination answers (HELLO_ACK, ERROR) until it
	 * closes, so the test sees the destination end the conversation. */
	uint8_t buf[4096];
	while (strcmp(c, "hangup") != 0 && chan_recv(&ch, buf, 1, err, sizeof(err)) == 0)
		;
	chan_close(&ch);
	vbuf_free(&s);
	return 0;
}

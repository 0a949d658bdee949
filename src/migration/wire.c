/* SPDX-License-Identifier: MIT */
#include "migration/wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

const char *wire_type_name(uint32_t type)
{
	switch (type) {
	case REC_HELLO: return "HELLO";
	case REC_HELLO_ACK: return "HELLO_ACK";
	case REC_CHANNEL_HELLO: return "CHANNEL_HELLO";
	case REC_CHANNEL_END: return "CHANNEL_END";
	case REC_PAGES: return "PAGES";
	case REC_SYNC: return "SYNC";
	case REC_SYNC_ACK: return "SYNC_ACK";
	case REC_STATE: return "STATE";
	case REC_DIGEST: return "DIGEST";
	case REC_COMPLETE: return "COMPLETE";
	case REC_READY: return "READY";
	case REC_GO: return "GO";
	case REC_RESUMED: return "RESUMED";
	case REC_ALIVE: return "ALIVE";
	case REC_ERROR: return "ERROR";
	default: return "unknown";
	}
}

uint64_t wire_checksum(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

void wire_encode_hdr(uint8_t hdr[WIRE_HDR_SIZE], uint32_t type, size_t payload_len, uint64_t check)
{
	uint32_t len = (uint32_t)payload_len;
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &len, 4);
	memcpy(hdr + 8, &check, 8);
}

void wire_finish_record(uint8_t *buf, uint32_t type, size_t payload_len)
{
	wire_encode_hdr(buf, type, payload_len, wire_checksum(buf + WIRE_HDR_SIZE, payload_len));
}

void wire_put_record(struct vbuf *out, uint32_t type, const void *payload, size_t len)
{
	uint8_t *p = vbuf_grow(out, WIRE_HDR_SIZE + len);
	if (!p)
		return;
	if (len)
		memcpy(p + WIRE_HDR_SIZE, payload, len);
	wire_finish_record(p, type, len);
}

int wire_parse_hdr(const uint8_t raw[WIRE_HDR_SIZE], struct wire_hdr *h, char *err, size_t errlen)
{
	memcpy(&h->type, raw, 4);
	memcpy(&h->len, raw + 4, 4);
	memcpy(&h->check, raw + 8, 8);
	if (!strcmp(wire_type_name(h->type), "unknown")) {
		snprintf(err, errlen, "bad record: unknown type 0x%x", h->type);
		return -EPROTO;
	}
	if (h->len > WIRE_MAX_PAYLOAD) {
		snprintf(err, errlen, "bad %s record: length %u exceeds %u", wire_type_name(h->type),
			 h->len, WIRE_MAX_PAYLOAD);
		return -EPROTO;
	}
	return 0;
}

int wire_check_payload(const struct wire_hdr *h, const uint8_t *payload, char *err, size_t errlen)
{
	uint64_t c = wire_checksum(payload, h->len);
	if (c != h->check) {
		snprintf(err, errlen, "bad %s record: checksum mismatch (got %016llx, want %016llx)",
			 wire_type_name(h->type), (unsigned long long)c, (unsigned long long)h->check);
		return -EBADMSG;
	}
	return 0;
}

static void put_host(struct vbuf *b, const struct wire_host_info *hi)
{
	vbuf_put_u32(b, hi->ncpus);
	vbuf_put_u32(b, hi->cpu_idle_permille);
	vbuf_put_u64(b, hi->mem_free_bytes);
	vbuf_put_u64(b, hi->mem_total_bytes);
}

static void get_host(struct vreader *r, struct wire_host_info *hi)
{
	hi->ncpus = vr_u32(r);
	hi->cpu_idle_permille = vr_u32(r);
	hi->mem_free_bytes = vr_u64(r);
	hi->mem_total_bytes = vr_u64(r);
}

void wire_encode_hello(struct vbuf *b, const struct wire_hello *h)
{
	vbuf_put_u64(b, h->magic);
	vbuf_put_u32(b, h->version);
	vbuf_put_u32(b, h->nr_channels);
	vbuf_put_u64(b, h->features);
	vbuf_put_u64(b, h->session);
	put_host(b, &h->host);
	vbuf_put_u32(b, h->page_size);
	vbuf_put_u32(b, h->nr_regions);
	for (unsigned i = 0; i < h->nr_regions; i++) {
		vbuf_put_u64(b, h->regions[i].gpa);
		vbuf_put_u64(b, h->regions[i].size);
	}
	vbuf_put_u32(b, h->vmm_config_len);
	vbuf_put(b, h->vmm_config, h->vmm_config_len);
}

int wire_decode_hello(const uint8_t *p, size_t n, struct wire_hello *h, char *err, size_t errlen)
{
	struct vreader r;
	vreader_init(&r, p, n);
	memset(h, 0, sizeof(*h));
	h->magic = vr_u64(&r);
	h->version = vr_u32(&r);
	if (r.bad || h->magic != WIRE_MAGIC) {
		snprintf(err, errlen, "not a vmig migration stream (bad magic)");
		return -EPROTO;
	}
	if (h->version != WIRE_VERSION) {
		snprintf(err, errlen, "unsupported migration protocol version %u (this vmig speaks %u)",
			 h->version, WIRE_VERSION);
		return -EPROTONOSUPPORT;
	}
	h->nr_channels = vr_u32(&r);
	h->features = vr_u64(&r);
	h->session = vr_u64(&r);
	get_host(&r, &h->host);
	if (h->nr_channels > WIRE_MAX_CHANNELS) {
		snprintf(err, errlen, "bad HELLO: %u data channels (at most %u)", h->nr_channels,
			 WIRE_MAX_CHANNELS);
		return -EPROTO;
	}
	h->page_size = vr_u32(&r);
	h->nr_regions = vr_u32(&r);
	if (r.bad || h->page_size != 4096 || h->nr_regions == 0 || h->nr_regions > WIRE_MAX_REGIONS) {
		snprintf(err, errlen, "bad HELLO: page size %u, %u RAM regions", h->page_size,
			 h->nr_regions);
		return -EPROTO;
	}
	for (unsigned i = 0; i < h->nr_regions; i++) {
		h->regions[i].gpa = vr_u64(&r);
		h->regions[i].size = vr_u64(&r);
		if (h->regions[i].size == 0 || h->regions[i].size % 4096 || h->regions[i].gpa % 4096 ||
		    h->regions[i].gpa + h->regions[i].size < h->regions[i].gpa) {
			snprintf(err, errlen, "bad HELLO: RAM region %u is malformed", i);
			return -EPROTO;
		}
	}
	h->vmm_config_len = vr_u32(&r);
	h->vmm_config = vr_take(&r, h->vmm_config_len);
	if (r.bad || r.left) {
		snprintf(err, errlen, "bad HELLO: length does not match its contents");
		return -EPROTO;
	}
	return 0;
}

void wire_encode_hello_ack(struct vbuf *b, const struct wire_hello_ack *a)
{
	vbuf_put_u32(b, a->version);
	vbuf_put_u32(b, a->status);
	vbuf_put_u64(b, a->features);
	put_host(b, &a->host);
	uint32_t n = (uint32_t)strnlen(a->message, WIRE_MAX_STRING - 1);
	vbuf_put_u32(b, n);
	vbuf_put(b, a->message, n);
}

int wire_decode_hello_ack(const uint8_t *p, size_t n, struct wire_hello_ack *a, char *err,
			  size_t errlen)
{
	struct vreader r;
	vreader_init(&r, p, n);
	memset(a, 0, sizeof(*a));
	a->version = vr_u32(&r);
	a->status = vr_u32(&r);
	a->features = vr_u64(&r);
	get_host(&r, &a->host);
	uint32_t len = vr_u32(&r);
	const uint8_t *msg = vr_take(&r, len);
	if (r.bad || r.left || len >= WIRE_MAX_STRING) {
		snprintf(err, errlen, "bad HELLO_ACK record");
		return -EPROTO;
	}
	memcpy(a->message, msg, len);
	a->message[len] = 0;
	return 0;
}

void wire_encode_error(struct vbuf *b, int code, const char *msg)
{
	uint32_t n = (uint32_t)strnlen(msg, WIRE_MAX_STRING - 1);
	vbuf_put_u32(b, (uint32_t)code);
	vbuf_put_u32(b, n);
	vbuf_put(b, msg, n);
}

void wire_decode_error(const uint8_t *p, size_t n, char *msg, size_t msglen)
{
	struct vreader r;
	vreader_init(&r, p, n);
	vr_u32(&r);
	uint32_t len = vr_u32(&r);
	const uint8_t *s = vr_take(&r, len);
	if (!s || !msglen) {
		snprintf(msg, msglen, "(malformed error record)");
		return;
	}
	size_t k = len < msglen - 1 ? len : msglen - 1;
	for (size_t i = 0; i < k; i++)
		msg[i] = (s[i] >= 32 && s[i] < 127) ? (char)s[i] : '?';
	msg[k] = 0;
}

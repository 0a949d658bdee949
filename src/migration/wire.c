/* SPDX-License-Identifier: MIT */
#include "migration/wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

bool wire_type_known(uint32_t type)
{
	switch (type) {
	case REC_HELLO:
	case REC_HELLO_ACK:
	case REC_CHANNEL_HELLO:
	case REC_CHANNEL_END:
	case REC_PAGES:
	case REC_SYNC:
	case REC_SYNC_ACK:
	case REC_STATE:
	case REC_DIGEST:
	case REC_COMPLETE:
	case REC_READY:
	case REC_GO:
	case REC_RESUMED:
	case REC_ALIVE:
	case REC_ERROR:
		return true;
	default:
		return false;
	}
}

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

#ifdef XXH3_SECRET_SIZE_MIN
_Static_assert(WIRE_KEY_SIZE >= XXH3_SECRET_SIZE_MIN, "an XXH3 secret is at least this long");
#endif

uint64_t wire_checksum_keyed(const struct wire_key *k, const void *p, size_t n)
{
	return k ? XXH3_64bits_withSecret(p, n, k->secret, sizeof(k->secret)) : XXH3_64bits(p, n);
}

void wire_check_reset(struct XXH3_state_s *st, const struct wire_key *k)
{
	if (k)
		XXH3_64bits_reset_withSecret(st, k->secret, sizeof(k->secret));
	else
		XXH3_64bits_reset(st);
}

void wire_encode_hdr(uint8_t hdr[WIRE_HDR_SIZE], uint32_t type, size_t payload_len, uint64_t check)
{
	vle32_put(hdr, type);
	vle32_put(hdr + 4, (uint32_t)payload_len);
	vle64_put(hdr + 8, check);
}

void wire_decode_hdr(const uint8_t raw[WIRE_HDR_SIZE], struct wire_hdr *h)
{
	h->type = vle32_get(raw);
	h->len = vle32_get(raw + 4);
	h->check = vle64_get(raw + 8);
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
	wire_decode_hdr(raw, h);
	if (!wire_type_known(h->type)) {
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
	return wire_check_payload_keyed(h, payload, NULL, err, errlen);
}

int wire_check_payload_keyed(const struct wire_hdr *h, const uint8_t *payload,
			     const struct wire_key *k, char *err, size_t errlen)
{
	uint64_t c = wire_checksum_keyed(k, payload, h->len);
	if (c != h->check) {
		snprintf(err, errlen, "bad %s record: checksum mismatch (got %016llx, want %016llx)",
			 wire_type_name(h->type), (unsigned long long)c, (unsigned long long)h->check);
		return -EBADMSG;
	}
	return 0;
}

void wire_encode_host_info(uint8_t out[WIRE_HOST_INFO_SIZE], const struct wire_host_info *hi)
{
	vle32_put(out, hi->ncpus);
	vle32_put(out + 4, hi->usable_cpus_milli);
	vle32_put(out + 8, hi->cpu_idle_permille);
	vle32_put(out + 12, hi->flags);
	vle64_put(out + 16, hi->mem_free_bytes);
	vle64_put(out + 24, hi->mem_total_bytes);
}

/* The planner divides and multiplies by these: a peer's figures must be
 * ones a probe could have produced (0 = unknown is always allowed). */
int wire_check_host_info(const struct wire_host_info *hi, char *err, size_t errlen)
{
	const char *why = NULL;
	if (hi->ncpus > WIRE_MAX_HOST_CPUS)
		why = "too many CPUs";
	else if (hi->usable_cpus_milli > (uint64_t)hi->ncpus * 1000)
		why = "more usable CPUs than CPUs";
	else if (hi->cpu_idle_permille > 1000)
		why = "CPU idle share over 1000 per mille";
	else if (hi->flags & ~WIRE_HOST_FLAGS)
		why = "unknown flags";
	else if (!(hi->flags & WIRE_HOST_IDLE) && hi->cpu_idle_permille)
		why = "CPU idle share without its flag";
	else if (hi->mem_total_bytes && hi->mem_free_bytes > hi->mem_total_bytes)
		why = "more free memory than memory";
	if (!why)
		return 0;
	snprintf(err, errlen, "host info out of range (%s)", why);
	return -EPROTO;
}

int wire_decode_host_info(const uint8_t *p, size_t n, struct wire_host_info *hi, char *err,
			  size_t errlen)
{
	memset(hi, 0, sizeof(*hi));
	if (!p || n != WIRE_HOST_INFO_SIZE) {
		snprintf(err, errlen, "host info of %zu bytes", p ? n : 0);
		return -EPROTO;
	}
	hi->ncpus = vle32_get(p);
	hi->usable_cpus_milli = vle32_get(p + 4);
	hi->cpu_idle_permille = vle32_get(p + 8);
	hi->flags = vle32_get(p + 12);
	hi->mem_free_bytes = vle64_get(p + 16);
	hi->mem_total_bytes = vle64_get(p + 24);
	return wire_check_host_info(hi, err, errlen);
}

static void put_host(struct vbuf *b, const struct wire_host_info *hi)
{
	uint8_t raw[WIRE_HOST_INFO_SIZE];
	wire_encode_host_info(raw, hi);
	vbuf_put(b, raw, sizeof(raw));
}

/* Host info inside a record read by r: a short record is left for the
 * caller's length check (r->bad), a bad range is reported as rec's. */
static int get_host(struct vreader *r, struct wire_host_info *hi, const char *rec, char *err,
		    size_t errlen)
{
	char why[128];
	const uint8_t *p = vr_take(r, WIRE_HOST_INFO_SIZE);
	if (!p) {
		memset(hi, 0, sizeof(*hi));
		return 0;
	}
	if (!wire_decode_host_info(p, WIRE_HOST_INFO_SIZE, hi, why, sizeof(why)))
		return 0;
	snprintf(err, errlen, "bad %s: %s", rec, why);
	return -EPROTO;
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
	if (!r.bad && (h->features & ~WIRE_FEATURES_KNOWN)) {
		snprintf(err, errlen, "bad HELLO: unknown features %#llx",
			 (unsigned long long)(h->features & ~WIRE_FEATURES_KNOWN));
		return -EPROTO;
	}
	if (get_host(&r, &h->host, "HELLO", err, errlen))
		return -EPROTO;
	if (h->nr_channels > WIRE_MAX_CHANNELS) {
		snprintf(err, errlen, "bad HELLO: %u data channels (at most %u)", h->nr_channels,
			 WIRE_MAX_CHANNELS);
		return -EPROTO;
	}
	h->page_size = vr_u32(&r);
	h->nr_regions = vr_u32(&r);
	if (r.bad || h->page_size != WIRE_PAGE_SIZE || h->nr_regions == 0 ||
	    h->nr_regions > WIRE_MAX_REGIONS) {
		snprintf(err, errlen, "bad HELLO: page size %u, %u RAM regions", h->page_size,
			 h->nr_regions);
		return -EPROTO;
	}
	for (unsigned i = 0; i < h->nr_regions; i++) {
		h->regions[i].gpa = vr_u64(&r);
		h->regions[i].size = vr_u64(&r);
		if (h->regions[i].size == 0 || h->regions[i].size % WIRE_PAGE_SIZE ||
		    h->regions[i].gpa % WIRE_PAGE_SIZE ||
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
	vbuf_put_u64(b, a->resume_pass);
	vbuf_put_u32(b, a->nr_progress);
	for (uint32_t i = 0; i < a->nr_progress && i < WIRE_MAX_CHANNELS; i++)
		vbuf_put_u64(b, a->progress[i]);
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
	if (get_host(&r, &a->host, "HELLO_ACK", err, errlen))
		return -EPROTO;
	uint32_t len = vr_u32(&r);
	const uint8_t *msg = vr_take(&r, len);
	a->resume_pass = vr_u64(&r);
	a->nr_progress = vr_u32(&r);
	for (uint32_t i = 0; !r.bad && i < a->nr_progress && i < WIRE_MAX_CHANNELS; i++)
		a->progress[i] = vr_u64(&r);
	if (r.bad || r.left || len >= WIRE_MAX_STRING || a->nr_progress > WIRE_MAX_CHANNELS) {
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

int wire_decode_error(const uint8_t *p, size_t n, int *code, char *msg, size_t msglen)
{
	struct vreader r;
	vreader_init(&r, p, n);
	uint32_t c = vr_u32(&r);
	uint32_t len = vr_u32(&r);
	const uint8_t *s = vr_take(&r, len);
	if (code)
		*code = r.bad ? 0 : (int)(int32_t)c;
	if (r.bad || r.left || len >= WIRE_MAX_STRING) {
		snprintf(msg, msglen, "(malformed error record)");
		return -EPROTO;
	}
	if (!msglen)
		return 0;
	size_t k = len < msglen - 1 ? len : msglen - 1;
	for (size_t i = 0; i < k; i++)
		msg[i] = (s[i] >= 32 && s[i] < 127) ? (char)s[i] : '?';
	msg[k] = 0;
	return 0;
}

/* The length a fixed-size payload must have. */
static int want_len(uint32_t type, size_t n, size_t want, char *err, size_t errlen)
{
	if (n == want)
		return 0;
	snprintf(err, errlen, "bad %s record (%zu bytes)", wire_type_name(type), n);
	return -EPROTO;
}

void wire_encode_channel_hello(uint8_t out[WIRE_CHANNEL_HELLO_SIZE],
			       const struct wire_channel_hello *c)
{
	vle64_put(out, c->session);
	vle32_put(out + 8, c->index);
}

int wire_decode_channel_hello(const uint8_t *p, size_t n, struct wire_channel_hello *c, char *err,
			      size_t errlen)
{
	int r = want_len(REC_CHANNEL_HELLO, n, WIRE_CHANNEL_HELLO_SIZE, err, errlen);
	if (r)
		return r;
	c->session = vle64_get(p);
	c->index = vle32_get(p + 8);
	return 0;
}

void wire_encode_sync(uint8_t out[WIRE_SYNC_SIZE], const struct wire_sync *s)
{
	vle64_put(out, s->pass);
	vle64_put(out + 8, s->reserved);
}

int wire_decode_sync(const uint8_t *p, size_t n, struct wire_sync *s, char *err, size_t errlen)
{
	int r = want_len(REC_SYNC, n, WIRE_SYNC_SIZE, err, errlen);
	if (r)
		return r;
	s->pass = vle64_get(p);
	s->reserved = vle64_get(p + 8);
	return 0;
}

void wire_encode_sync_ack(uint8_t out[WIRE_SYNC_ACK_SIZE], const struct wire_sync_ack *a)
{
	vle64_put(out, a->pass);
	wire_encode_host_info(out + 8, &a->host);
}

int wire_decode_sync_ack(const uint8_t *p, size_t n, struct wire_sync_ack *a, char *err,
			 size_t errlen)
{
	char why[128];
	int r = want_len(REC_SYNC_ACK, n, WIRE_SYNC_ACK_SIZE, err, errlen);
	if (r)
		return r;
	a->pass = vle64_get(p);
	if (wire_decode_host_info(p + 8, WIRE_HOST_INFO_SIZE, &a->host, why, sizeof(why))) {
		snprintf(err, errlen, "bad SYNC_ACK: %s", why);
		return -EPROTO;
	}
	return 0;
}

void wire_encode_digest(uint8_t out[WIRE_DIGEST_SIZE], const struct wire_digest *d)
{
	vle64_put(out, d->digest);
	vle64_put(out + 8, d->total_pages);
	vle64_put(out + 16, d->final_pass);
}

int wire_decode_digest(const uint8_t *p, size_t n, struct wire_digest *d, char *err, size_t errlen)
{
	int r = want_len(REC_DIGEST, n, WIRE_DIGEST_SIZE, err, errlen);
	if (r)
		return r;
	d->digest = vle64_get(p);
	d->total_pages = vle64_get(p + 8);
	d->final_pass = vle64_get(p + 16);
	return 0;
}

void wire_encode_alive(uint8_t out[WIRE_ALIVE_SIZE], const struct wire_alive *a)
{
	vle64_put(out, a->first_alive_ns);
	vle64_put(out + 8, a->decompress_ns);
}

int wire_decode_alive(const uint8_t *p, size_t n, struct wire_alive *a, char *err, size_t errlen)
{
	int r = want_len(REC_ALIVE, n, WIRE_ALIVE_SIZE, err, errlen);
	if (r)
		return r;
	a->first_alive_ns = vle64_get(p);
	a->decompress_ns = vle64_get(p + 8);
	return 0;
}

int wire_check_state_len(size_t len, char *err, size_t errlen)
{
	if (len <= WIRE_MAX_PAYLOAD)
		return 0;
	snprintf(err, errlen, "device state too large (%zu bytes)", len);
	return -E2BIG;
}

void wire_encode_pages_fixed(uint8_t out[WIRE_PAGES_FIXED_SIZE], const struct wire_pages_fixed *f)
{
	vle64_put(out, f->pass);
	vle32_put(out + 8, f->count);
	vle32_put(out + 12, f->codec);
}

int wire_decode_pages_fixed(const uint8_t *p, size_t n, struct wire_pages_fixed *f, char *err,
			    size_t errlen)
{
	if (n != WIRE_PAGES_FIXED_SIZE) {
		snprintf(err, errlen, "bad PAGES record: fixed part of %zu bytes", n);
		return -EPROTO;
	}
	f->pass = vle64_get(p);
	f->count = vle32_get(p + 8);
	f->codec = vle32_get(p + 12);
	return 0;
}

/* count u64 between host values and wire bytes; the two may be the same
 * memory (each item is read whole before it is written). */
static void u64s_to_wire(void *out, const uint64_t *v, size_t count)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (out != (const void *)v && count)
		memmove(out, v, count * WIRE_PAGES_ITEM_SIZE);
#else
	uint8_t *o = out;
	for (size_t i = 0; i < count; i++) {
		uint64_t x = v[i];
		vle64_put(o + i * WIRE_PAGES_ITEM_SIZE, x);
	}
#endif
}

static void u64s_from_wire(uint64_t *v, const void *p, size_t count)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (p != (const void *)v && count)
		memmove(v, p, count * WIRE_PAGES_ITEM_SIZE);
#else
	const uint8_t *b = p;
	for (size_t i = 0; i < count; i++)
		v[i] = vle64_get(b + i * WIRE_PAGES_ITEM_SIZE);
#endif
}

static int pages_u64s(const char *what, const void *p, size_t n, uint64_t *v, size_t count,
		      char *err, size_t errlen)
{
	if (count > WIRE_MAX_PAGES_PER_BATCH || n != count * WIRE_PAGES_ITEM_SIZE) {
		snprintf(err, errlen, "bad PAGES record: %zu bytes of %s for %zu", n, what, count);
		return -EPROTO;
	}
	u64s_from_wire(v, p, count);
	return 0;
}

void wire_encode_pages_entries(void *out, const uint64_t *v, size_t count)
{
	u64s_to_wire(out, v, count);
}

int wire_decode_pages_entries(const void *p, size_t n, uint64_t *v, size_t count, char *err,
			      size_t errlen)
{
	return pages_u64s("entries", p, n, v, count, err, errlen);
}

void wire_encode_pages_hashes(void *out, const uint64_t *v, size_t count)
{
	u64s_to_wire(out, v, count);
}

int wire_decode_pages_hashes(const void *p, size_t n, uint64_t *v, size_t count, char *err,
			     size_t errlen)
{
	return pages_u64s("hashes", p, n, v, count, err, errlen);
}

void wire_encode_pages_len(uint8_t out[WIRE_PAGES_LEN_SIZE], uint32_t len)
{
	vle32_put(out, len);
}

int wire_decode_pages_len(const uint8_t *p, size_t n, uint32_t *len, char *err, size_t errlen)
{
	if (n != WIRE_PAGES_LEN_SIZE) {
		snprintf(err, errlen, "bad PAGES record: a length of %zu bytes", n);
		return -EPROTO;
	}
	*len = vle32_get(p);
	return 0;
}

void wire_encode_xbz_delta_len(uint8_t out[WIRE_XBZ_DELTA_HDR_SIZE], uint16_t len)
{
	vle16_put(out, len);
}

int wire_decode_xbz_delta_len(const uint8_t *p, size_t n, uint16_t *len, char *err, size_t errlen)
{
	if (n != WIRE_XBZ_DELTA_HDR_SIZE) {
		snprintf(err, errlen, "bad PAGES record: XBZRLE section truncated");
		return -EPROTO;
	}
	*len = vle16_get(p);
	return 0;
}

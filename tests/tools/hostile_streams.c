/* SPDX-License-Identifier: MIT */
/* Test tool: bad migration streams and their driver; see hostile_streams.h. */
#include "hostile_streams.h"
#include "migration/ram.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#define PAGE 4096
#define CHUNK_PAGES 4096 /* the sender's stripe: chunk c of each region goes on channel c mod N */
#define MAX_RECORDS 64	 /* records one reordered stream holds at most */

/* A stream being built. */
struct hb {
	const struct hostile_layout *l;
	struct hostile_stream *s;
	unsigned nch;	/* data channels announced in HELLO */
	uint64_t total; /* pages over all regions */
	uint64_t *hash; /* per page: what the source claims it holds (for DIGEST) */
	uint64_t zero_hash;
};

/* ---- records ---- */

static void put_hello(struct hb *b, struct vbuf *out, uint32_t version, uint64_t magic,
		      uint32_t nch, uint64_t session)
{
	struct wire_hello h = {.magic = magic,
			       .version = version,
			       .page_size = PAGE,
			       .nr_regions = b->l->nr_regions,
			       .nr_channels = nch,
			       .session = session};
	memcpy(h.regions, b->l->regions, sizeof(h.regions));
	h.vmm_config = b->l->vmm_config;
	h.vmm_config_len = b->l->vmm_config_len;
	struct vbuf p;
	vbuf_init(&p);
	wire_encode_hello(&p, &h);
	wire_put_record(out, REC_HELLO, p.data, p.len);
	vbuf_free(&p);
}

static void put_chan_hello(struct vbuf *out, uint64_t session, uint32_t idx)
{
	uint8_t p[WIRE_CHANNEL_HELLO_SIZE];
	wire_encode_channel_hello(p, &(struct wire_channel_hello){session, idx});
	wire_put_record(out, REC_CHANNEL_HELLO, p, sizeof(p));
}

static void put_empty(struct vbuf *out, uint32_t type)
{
	wire_put_record(out, type, NULL, 0);
}

static void put_sync(struct vbuf *out, uint64_t pass)
{
	uint8_t p[WIRE_SYNC_SIZE];
	wire_encode_sync(p, &(struct wire_sync){.pass = pass});
	wire_put_record(out, REC_SYNC, p, sizeof(p));
}

static void put_digest_raw(struct vbuf *out, uint64_t digest, uint64_t total, uint64_t final_pass)
{
	uint8_t p[WIRE_DIGEST_SIZE];
	wire_encode_digest(p, &(struct wire_digest){digest, total, final_pass});
	wire_put_record(out, REC_DIGEST, p, sizeof(p));
}

/* DIGEST of every page the stream has claimed so far. */
static void put_digest(struct hb *b, struct vbuf *out, uint64_t final_pass)
{
	put_digest_raw(out, ram_digest_of(b->hash, b->total), b->total, final_pass);
}

static void put_state(struct hb *b, struct vbuf *out)
{
	uint8_t filler[64];
	memset(filler, 0x5a, sizeof(filler));
	if (b->l->state)
		wire_put_record(out, REC_STATE, b->l->state, b->l->state_len);
	else
		wire_put_record(out, REC_STATE, filler, sizeof(filler));
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

/* A valid PAGES record of count pages from first (page i of the batch
 * filled with byte i + 1, or zero pages); remembers what it claims. */
static void put_pages(struct hb *b, struct vbuf *out, uint64_t pass, uint64_t first, uint32_t count,
		      bool zero)
{
	struct vbuf p;
	uint8_t page[PAGE], piece[WIRE_PAGES_FIXED_SIZE];
	vbuf_init(&p);
	wire_encode_pages_fixed(piece, &(struct wire_pages_fixed){pass, count, 0});
	vbuf_put(&p, piece, WIRE_PAGES_FIXED_SIZE);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t e = wire_page_entry(first + i, zero ? WIRE_KIND_ZERO : WIRE_KIND_NORMAL);
		wire_encode_pages_entries(piece, &e, 1);
		vbuf_put(&p, piece, WIRE_PAGES_ITEM_SIZE);
	}
	for (uint32_t i = 0; i < count; i++) {
		memset(page, zero ? 0 : (int)(i + 1), sizeof(page));
		uint64_t h = XXH3_64bits(page, sizeof(page));
		if (!zero) {
			wire_encode_pages_hashes(piece, &h, 1);
			vbuf_put(&p, piece, WIRE_PAGES_ITEM_SIZE);
		}
		if (first + i < b->total)
			b->hash[first + i] = h;
	}
	size_t meta = p.len;
	wire_encode_pages_len(piece, 0); /* no XBZRLE section */
	vbuf_put(&p, piece, WIRE_PAGES_LEN_SIZE);
	for (uint32_t i = 0; !zero && i < count; i++) {
		memset(page, (int)(i + 1), sizeof(page));
		vbuf_put(&p, page, sizeof(page));
	}
	put_pages_record(out, &p, meta);
}

/* ---- streams ---- */

/* The stream page travels on: the main channel, or its chunk's channel. */
static struct vbuf *stream_of(struct hb *b, uint64_t page)
{
	if (!b->nch)
		return &b->s->main.now;
	uint64_t first = 0, chunk = 0;
	for (unsigned i = 0; i < b->l->nr_regions; i++) {
		uint64_t n = b->l->regions[i].size / PAGE;
		if (page < first + n) {
			chunk += (page - first) / CHUNK_PAGES;
			break;
		}
		first += n;
		chunk += (n + CHUNK_PAGES - 1) / CHUNK_PAGES;
	}
	return &b->s->chan[chunk % b->nch].now;
}

/* HELLO announcing nch data channels, and each one's CHANNEL_HELLO. */
static void open_session(struct hb *b, unsigned nch)
{
	b->nch = nch;
	b->s->nr_chan = nch;
	put_hello(b, &b->s->main.now, WIRE_VERSION, WIRE_MAGIC, nch, HOSTILE_SESSION);
	for (unsigned i = 0; i < nch; i++)
		put_chan_hello(&b->s->chan[i].now, HOSTILE_SESSION, i);
}

/* The pages of one pass of a small image, each batch on its stream:
 * normal and zero pages at the start of RAM, some in the middle, the last. */
static void put_pass_pages(struct hb *b, uint64_t pass)
{
	uint64_t mid = b->total / 2 + 1, last = b->total - 1;
	put_pages(b, stream_of(b, 0), pass, 0, 6, false);
	put_pages(b, stream_of(b, 6), pass, 6, 2, true);
	put_pages(b, stream_of(b, mid), pass, mid, 4, false);
	put_pages(b, stream_of(b, last), pass, last, 1, false);
}

/* SYNC of pass on every stream. */
static void put_syncs(struct hb *b, uint64_t pass)
{
	if (!b->nch)
		put_sync(&b->s->main.now, pass);
	for (unsigned i = 0; i < b->nch; i++)
		put_sync(&b->s->chan[i].now, pass);
}

static void end_channels(struct hb *b)
{
	for (unsigned i = 0; i < b->nch; i++)
		put_empty(&b->s->chan[i].now, REC_CHANNEL_END);
}

/* STATE, DIGEST, COMPLETE; GO once READY came. */
static void put_handover(struct hb *b, uint64_t final_pass)
{
	put_state(b, &b->s->main.now);
	put_digest(b, &b->s->main.now, final_pass);
	put_empty(&b->s->main.now, REC_COMPLETE);
	put_empty(&b->s->main.after_ready, REC_GO);
}

/* A whole valid migration in one pass over nch data channels. */
static void valid_migration(struct hb *b, unsigned nch)
{
	open_session(b, nch);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_handover(b, 1);
}

/* ---- reordering ---- */

struct rec {
	size_t off, len;
	uint32_t type;
};

/* Splits out's records after its first record; returns how many (-1: malformed). */
static int split_records(const struct vbuf *out, struct rec *r, unsigned max)
{
	size_t off = 0;
	int n = -1; /* the first record stays first */
	while (off + WIRE_HDR_SIZE <= out->len) {
		struct wire_hdr h;
		wire_decode_hdr(out->data + off, &h);
		if (n >= (int)max || off + WIRE_HDR_SIZE + h.len > out->len)
			return -1;
		if (n >= 0)
			r[n] = (struct rec){off, WIRE_HDR_SIZE + h.len, h.type};
		n++;
		off += WIRE_HDR_SIZE + h.len;
	}
	return off == out->len ? n : -1;
}

/* Rewrites out with its records after the first in order[0..n). */
static int emit_order(struct vbuf *out, const struct rec *r, const unsigned *order, unsigned n)
{
	struct vbuf o;
	vbuf_init(&o);
	vbuf_put(&o, out->data, n ? r[0].off : out->len);
	for (unsigned i = 0; i < n; i++)
		vbuf_put(&o, out->data + r[order[i]].off, r[order[i]].len);
	if (o.oom) {
		vbuf_free(&o);
		return -ENOMEM;
	}
	vbuf_free(out);
	*out = o;
	return 0;
}

static int reverse_records(struct vbuf *out)
{
	struct rec r[MAX_RECORDS];
	unsigned order[MAX_RECORDS];
	int n = split_records(out, r, MAX_RECORDS);
	if (n < 0)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		order[i] = (unsigned)(n - 1 - i);
	return emit_order(out, r, order, (unsigned)n);
}

/* Would the main channel's records, in this order, make a valid migration
 * without data channels (every PAGES before DIGEST, STATE and DIGEST
 * before COMPLETE)? */
static bool order_is_valid(const struct rec *r, const unsigned *order, unsigned n)
{
	bool state = false, digest = false;
	for (unsigned i = 0; i < n; i++) {
		uint32_t t = r[order[i]].type;
		if (t == REC_PAGES && digest)
			return false;
		if (t == REC_COMPLETE && !(state && digest))
			return false;
		state |= t == REC_STATE;
		digest |= t == REC_DIGEST;
	}
	return true;
}

/* Shuffles the records after the first (a fixed LCG: the same stream on
 * every run), reshuffling while the order would still be valid. */
static int shuffle_records(struct vbuf *out, uint32_t seed)
{
	struct rec r[MAX_RECORDS];
	unsigned order[MAX_RECORDS];
	int n = split_records(out, r, MAX_RECORDS);
	if (n < 2)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		order[i] = (unsigned)i;
	do {
		for (int i = n - 1; i > 0; i--) {
			seed = seed * 1103515245u + 12345u;
			unsigned j = (seed >> 16) % (unsigned)(i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
	} while (order_is_valid(r, order, (unsigned)n));
	return emit_order(out, r, order, (unsigned)n);
}

/* Moves the records of types a and b, in their order, before all others. */
static int move_first(struct vbuf *out, uint32_t a, uint32_t b)
{
	struct rec r[MAX_RECORDS];
	unsigned order[MAX_RECORDS], k = 0;
	int n = split_records(out, r, MAX_RECORDS);
	if (n < 0)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (r[i].type == a || r[i].type == b)
			order[k++] = (unsigned)i;
	for (int i = 0; i < n; i++)
		if (r[i].type != a && r[i].type != b)
			order[k++] = (unsigned)i;
	return emit_order(out, r, order, (unsigned)n);
}

/* ---- cases: before a valid HELLO (the destination keeps listening) ---- */

static int c_garbage(struct hb *b)
{
	srand(7);
	for (int i = 0; i < 65536; i++)
		vbuf_put_u8(&b->s->main.now, (uint8_t)rand());
	return 0;
}

static int c_truncated(struct hb *b)
{
	put_hello(b, &b->s->main.now, WIRE_VERSION, WIRE_MAGIC, 0, 0);
	b->s->main.now.len -= 10;
	return 0;
}

static int c_version(struct hb *b)
{
	put_hello(b, &b->s->main.now, 99, WIRE_MAGIC, 0, 0);
	return 0;
}

static int c_magic(struct hb *b)
{
	put_hello(b, &b->s->main.now, WIRE_VERSION, 0x1122334455667788ull, 0, 0);
	return 0;
}

/* ---- cases: after a valid HELLO, no data channels ---- */

/* A valid HELLO with no data channels and session 0, as the first
 * hostile_source sent it. */
static struct vbuf *hello_only(struct hb *b)
{
	put_hello(b, &b->s->main.now, WIRE_VERSION, WIRE_MAGIC, 0, 0);
	return &b->s->main.now;
}

static int c_page_range(struct hb *b)
{
	struct vbuf *s = hello_only(b);
	put_pages(b, s, 1, 0, 4, false);
	put_pages(b, s, 1, b->total, 1, false); /* one past the end */
	return 0;
}

static int c_bad_checksum(struct hb *b)
{
	struct vbuf *s = hello_only(b);
	size_t at = s->len;
	put_pages(b, s, 1, 0, 2, false);
	s->data[at + WIRE_HDR_SIZE + 36] ^= 1; /* inside the page hashes */
	return 0;
}

/* An XBZRLE page whose delta runs past the page. */
static int c_bad_xbzrle(struct hb *b)
{
	struct vbuf *s = hello_only(b), p;
	vbuf_init(&p);
	vbuf_put_u64(&p, 1);
	vbuf_put_u32(&p, 1);
	vbuf_put_u32(&p, 0);
	vbuf_put_u64(&p, 5ull << 2 | WIRE_KIND_XBZRLE);
	vbuf_put_u64(&p, 0x1234); /* its hash */
	size_t meta = p.len;
	uint8_t delta[] = {0xff, 0x7f, 0x10, 1, 2, 3}; /* zero run of 16383, then 16 bytes */
	vbuf_put_u32(&p, 2 + sizeof(delta));
	vbuf_put_u16(&p, sizeof(delta));
	vbuf_put(&p, delta, sizeof(delta));
	put_pages_record(s, &p, meta);
	return 0;
}

/* zstd-compressed data that is garbage. */
static int c_bad_compressed(struct hb *b)
{
	struct vbuf *s = hello_only(b), p;
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
	put_pages_record(s, &p, meta);
	return 0;
}

static int c_bad_page(struct hb *b)
{
	struct vbuf *s = hello_only(b);
	put_pages(b, s, 1, 0, 2, false);
	s->data[s->len - 100] ^= 1; /* inside the last page's data */
	return 0;
}

static int c_huge_length(struct hb *b)
{
	struct vbuf *s = hello_only(b);
	uint8_t hdr[WIRE_HDR_SIZE];
	wire_encode_hdr(hdr, REC_PAGES, 0xfffffff0u, 0); /* a length far over the limit */
	vbuf_put(s, hdr, sizeof(hdr));
	return 0;
}

static int c_bad_count(struct hb *b)
{
	struct vbuf *s = hello_only(b), p;
	vbuf_init(&p);
	vbuf_put_u64(&p, 1);
	vbuf_put_u32(&p, 1000); /* claims 1000 pages, carries one entry */
	vbuf_put_u32(&p, 0);
	vbuf_put_u64(&p, 0);
	vbuf_put_u32(&p, 0);
	wire_put_record(s, REC_PAGES, p.data, p.len);
	vbuf_free(&p);
	return 0;
}

static int c_wrong_order(struct hb *b)
{
	put_empty(hello_only(b), REC_COMPLETE);
	return 0;
}

static int c_state_garbage(struct hb *b)
{
	struct vbuf *s = hello_only(b);
	uint8_t junk[300];
	put_pages(b, s, 1, 0, 16, true);
	put_sync(s, 1); /* DIGEST must follow its final SYNC */
	for (unsigned i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7);
	wire_put_record(s, REC_STATE, junk, sizeof(junk));
	put_digest_raw(s, 0, b->total, 1);
	return 0;
}

static int c_digest(struct hb *b)
{
	struct vbuf *s = hello_only(b);
	put_pages(b, s, 1, 0, 8, false);
	put_sync(s, 1);
	put_digest_raw(s, 0x1234, b->total, 1);
	return 0;
}

static int c_hangup(struct hb *b)
{
	put_pages(b, hello_only(b), 1, 0, 8, false);
	b->s->hangup = true;
	return 0;
}

/* ---- cases: whole migrations, valid, reordered or duplicated ---- */

static int c_valid(struct hb *b)
{
	valid_migration(b, 2);
	return 0;
}

static int c_valid_main(struct hb *b)
{
	valid_migration(b, 0);
	return 0;
}

/* Every stream's records after its first, in reverse. */
static int c_reversed(struct hb *b)
{
	valid_migration(b, 2);
	int r = reverse_records(&b->s->main.now);
	for (unsigned i = 0; !r && i < b->nch; i++)
		r = reverse_records(&b->s->chan[i].now);
	return r;
}

/* STATE and DIGEST before the pages they describe. */
static int c_digest_before_pages(struct hb *b)
{
	valid_migration(b, 0);
	return move_first(&b->s->main.now, REC_STATE, REC_DIGEST);
}

static int c_shuffled(struct hb *b)
{
	valid_migration(b, 0);
	return shuffle_records(&b->s->main.now, 20240607u);
}

static int c_hello_twice(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_hello(b, &b->s->main.now, WIRE_VERSION, WIRE_MAGIC, 1, HOSTILE_SESSION);
	put_handover(b, 1);
	return 0;
}

static int c_complete_twice(struct hb *b)
{
	valid_migration(b, 1);
	put_empty(&b->s->main.now, REC_COMPLETE);
	return 0;
}

/* STATE twice, then COMPLETE without a DIGEST. */
static int c_state_twice(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_state(b, &b->s->main.now);
	put_state(b, &b->s->main.now);
	put_empty(&b->s->main.now, REC_COMPLETE);
	put_empty(&b->s->main.after_ready, REC_GO);
	return 0;
}

/* The handover with rec put on the main channel before COMPLETE. */
static void handover_with(struct hb *b, uint32_t rec)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_state(b, &b->s->main.now);
	put_digest(b, &b->s->main.now, 1);
	put_empty(&b->s->main.now, rec);
	put_empty(&b->s->main.now, REC_COMPLETE);
	put_empty(&b->s->main.after_ready, REC_GO);
}

static int c_go_before_ready(struct hb *b)
{
	handover_with(b, REC_GO);
	return 0;
}

static int c_ready_from_source(struct hb *b)
{
	handover_with(b, REC_READY);
	return 0;
}

static int c_end_on_main(struct hb *b)
{
	handover_with(b, REC_CHANNEL_END);
	return 0;
}

/* ---- cases: data channels ---- */

/* PAGES on a data channel naming a page past the end of RAM. */
static int c_chan_page_range(struct hb *b)
{
	open_session(b, 1);
	put_pages(b, &b->s->chan[0].now, 1, b->total, 1, false);
	return 0;
}

/* A data channel claiming an index HELLO did not announce. */
static int c_chan_index(struct hb *b)
{
	open_session(b, 1);
	vbuf_reset(&b->s->chan[0].now);
	put_chan_hello(&b->s->chan[0].now, HOSTILE_SESSION, 1);
	return 0;
}

/* A data channel quoting another session: a stranger, refused; the
 * source never gets its channel. */
static int c_chan_wrong_session(struct hb *b)
{
	open_session(b, 1);
	vbuf_reset(&b->s->chan[0].now);
	put_chan_hello(&b->s->chan[0].now, HOSTILE_SESSION ^ 1, 0);
	return 0;
}

static int c_chan_hello_twice(struct hb *b)
{
	open_session(b, 1);
	put_chan_hello(&b->s->chan[0].now, HOSTILE_SESSION, 0);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_handover(b, 1);
	return 0;
}

/* Two data channels, both claiming index 0. */
static int c_chan_same_index(struct hb *b)
{
	open_session(b, 2);
	vbuf_reset(&b->s->chan[1].now);
	put_chan_hello(&b->s->chan[1].now, HOSTILE_SESSION, 0);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_handover(b, 1);
	return 0;
}

/* A valid migration whose data channel closes pass 1 twice. */
static int c_sync_twice(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_handover(b, 1);
	return 0;
}

/*
 * The data channel closes pass 2 while still in pass 1, and DIGEST names
 * pass 2 as final (with the digest of what was sent so far). More pages
 * and CHANNEL_END follow on that channel only once READY came: a
 * destination that believes the SYNC verifies RAM and resumes the guest
 * while the channel still writes into it.
 */
static int c_sync_future(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_sync(&b->s->chan[0].now, 2);
	put_handover(b, 2);
	put_pages(b, &b->s->chan[0].after_ready, 2, 100, 4, false);
	put_sync(&b->s->chan[0].after_ready, 3);
	put_empty(&b->s->chan[0].after_ready, REC_CHANNEL_END);
	return 0;
}

/* The final SYNC, DIGEST and COMPLETE, but the data channel sends more
 * pages and its CHANNEL_END only once READY came. */
static int c_pages_after_final_sync(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	put_handover(b, 1);
	put_pages(b, &b->s->chan[0].after_ready, 1, 100, 4, false);
	put_empty(&b->s->chan[0].after_ready, REC_CHANNEL_END);
	return 0;
}

/* DIGEST names pass 2 as final; every channel synced pass 1 and ended. */
static int c_digest_unsynced_pass(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_handover(b, 2);
	return 0;
}

/* Pages after CHANNEL_END, counted in the source's DIGEST. */
static int c_pages_after_end(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_pages(b, &b->s->chan[0].now, 1, 100, 4, false);
	put_handover(b, 1);
	return 0;
}

/* SYNC on the main channel while data channels carry the pages. */
static int c_sync_on_main(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_sync(&b->s->main.now, 1);
	put_handover(b, 1);
	return 0;
}

/* PAGES on a data channel for pass 2 while pass 1 is open there. */
static int c_chan_pages_future_pass(struct hb *b)
{
	open_session(b, 1);
	put_pages(b, &b->s->chan[0].now, 2, 0, 2, false);
	put_syncs(b, 1);
	end_channels(b);
	put_handover(b, 1);
	return 0;
}

/* Without data channels: DIGEST names pass 2, pass 1 was the last closed. */
static int c_digest_pass_main(struct hb *b)
{
	open_session(b, 0);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	put_handover(b, 2);
	return 0;
}

/* Without data channels: PAGES once DIGEST has checked RAM. */
static int c_pages_after_digest(struct hb *b)
{
	open_session(b, 0);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	put_state(b, &b->s->main.now);
	put_digest(b, &b->s->main.now, 1);
	put_pages(b, &b->s->main.now, 1, 100, 4, false);
	put_empty(&b->s->main.now, REC_COMPLETE);
	put_empty(&b->s->main.after_ready, REC_GO);
	return 0;
}

/* PAGES on the main channel while data channels carry the pages. */
static int c_pages_on_main(struct hb *b)
{
	open_session(b, 1);
	put_pass_pages(b, 1);
	put_syncs(b, 1);
	end_channels(b);
	put_pages(b, &b->s->main.now, 1, 200, 2, false);
	put_handover(b, 1);
	return 0;
}

/* ---- the table ---- */

static const struct {
	const char *name;
	int (*build)(struct hb *b);
} cases[] = {
    {"garbage", c_garbage},
    {"truncated", c_truncated},
    {"version", c_version},
    {"magic", c_magic},
    {"page-range", c_page_range},
    {"bad-checksum", c_bad_checksum},
    {"bad-page", c_bad_page},
    {"bad-xbzrle", c_bad_xbzrle},
    {"bad-compressed", c_bad_compressed},
    {"huge-length", c_huge_length},
    {"bad-count", c_bad_count},
    {"wrong-order", c_wrong_order},
    {"state-garbage", c_state_garbage},
    {"digest", c_digest},
    {"hangup", c_hangup},
    {"valid", c_valid},
    {"valid-main", c_valid_main},
    {"reversed", c_reversed},
    {"digest-before-pages", c_digest_before_pages},
    {"shuffled", c_shuffled},
    {"hello-twice", c_hello_twice},
    {"complete-twice", c_complete_twice},
    {"state-twice", c_state_twice},
    {"go-before-ready", c_go_before_ready},
    {"ready-from-source", c_ready_from_source},
    {"end-on-main", c_end_on_main},
    {"chan-page-range", c_chan_page_range},
    {"chan-index", c_chan_index},
    {"chan-wrong-session", c_chan_wrong_session},
    {"chan-hello-twice", c_chan_hello_twice},
    {"chan-same-index", c_chan_same_index},
    {"sync-twice", c_sync_twice},
    {"sync-future", c_sync_future},
    {"pages-after-final-sync", c_pages_after_final_sync},
    {"digest-unsynced-pass", c_digest_unsynced_pass},
    {"pages-after-end", c_pages_after_end},
    {"sync-on-main", c_sync_on_main},
    {"pages-on-main", c_pages_on_main},
    {"chan-pages-future-pass", c_chan_pages_future_pass},
    {"digest-pass-main", c_digest_pass_main},
    {"pages-after-digest", c_pages_after_digest},
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

const char *hostile_case_name(unsigned i)
{
	return i < NR_CASES ? cases[i].name : NULL;
}

static uint64_t layout_pages(const struct hostile_layout *l)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < l->nr_regions && i < WIRE_MAX_REGIONS; i++)
		n += l->regions[i].size / PAGE;
	return n;
}

int hostile_stream_build(const char *name, const struct hostile_layout *l, struct hostile_stream *s,
			 char *err, size_t errlen)
{
	struct hb b = {.l = l, .s = s};
	memset(s, 0, sizeof(*s));
	vbuf_init(&s->main.now);
	vbuf_init(&s->main.after_ready);
	for (unsigned i = 0; i < HOSTILE_MAX_CHANNELS; i++) {
		vbuf_init(&s->chan[i].now);
		vbuf_init(&s->chan[i].after_ready);
	}
	unsigned k = 0;
	while (k < NR_CASES && strcmp(cases[k].name, name))
		k++;
	b.total = layout_pages(l);
	if (k == NR_CASES || !l->nr_regions || l->nr_regions > WIRE_MAX_REGIONS || b.total < 512) {
		snprintf(err, errlen, k == NR_CASES ? "unknown case '%s'" : "case '%s': bad layout",
			 name);
		return -EINVAL;
	}
	uint8_t zero[PAGE] = {0};
	b.zero_hash = XXH3_64bits(zero, sizeof(zero));
	b.hash = malloc(b.total * 8);
	if (!b.hash) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < b.total; i++)
		b.hash[i] = b.zero_hash;
	int r = cases[k].build(&b);
	free(b.hash);
	bool oom = s->main.now.oom || s->main.after_ready.oom;
	for (unsigned i = 0; i < HOSTILE_MAX_CHANNELS; i++)
		oom |= s->chan[i].now.oom || s->chan[i].after_ready.oom;
	if (!r && oom)
		r = -ENOMEM;
	if (r)
		snprintf(err, errlen, "case '%s': cannot build: %s", name, strerror(-r));
	return r;
}

void hostile_stream_free(struct hostile_stream *s)
{
	vbuf_free(&s->main.now);
	vbuf_free(&s->main.after_ready);
	for (unsigned i = 0; i < HOSTILE_MAX_CHANNELS; i++) {
		vbuf_free(&s->chan[i].now);
		vbuf_free(&s->chan[i].after_ready);
	}
}

/* ---- the driver ---- */

#define DRIVER_IO_MS 2000

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_quiet(struct channel *c, const struct vbuf *b)
{
	char ign[256];
	if (c->fd >= 0 && b->len)
		chan_send(c, b->data, b->len, ign, sizeof(ign));
}

/* One record from c within timeout_ms: its type (ERROR and HELLO_ACK
 * texts in msg), or 0 when closed, broken or silent. */
static uint32_t recv_one(struct channel *c, int timeout_ms, uint32_t *status, char *msg,
			 size_t msglen, bool *closed)
{
	struct wire_hdr h;
	struct vbuf p;
	char ign[256];
	uint32_t type = 0;
	int rc = -EBADF;
	vbuf_init(&p);
	if (c->fd >= 0)
		rc = chan_recv_record(c, &h, &p, timeout_ms, ign, sizeof(ign));
	if (closed)
		*closed = rc != 0 && rc != -ETIMEDOUT;
	if (rc == 0) {
		type = h.type;
		if (type == REC_ERROR) {
			wire_decode_error(p.data, p.len, NULL, msg, msglen);
		} else if (type == REC_HELLO_ACK) {
			struct wire_hello_ack a;
			if (wire_decode_hello_ack(p.data, p.len, &a, ign, sizeof(ign)) == 0) {
				*status = a.status;
				snprintf(msg, msglen, "%s", a.message);
			}
		}
	}
	vbuf_free(&p);
	return type;
}

static int connect_retrying(const char *uri, int wait_ms, int *fd, char *err, size_t errlen)
{
	uint64_t end = ms_now() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	for (;;) {
		int r = chan_connect(uri, DRIVER_IO_MS, -1, fd, err, errlen);
		if (!r || ms_now() >= end)
			return r;
		usleep(100000);
	}
}

int hostile_send(struct hostile_run *r, const char *uri, const struct hostile_stream *s,
		 int connect_wait_ms, int reply_wait_ms, char *err, size_t errlen)
{
	int fd, rc;
	memset(r, 0, sizeof(*r));
	r->main.fd = -1;
	for (unsigned i = 0; i < HOSTILE_MAX_CHANNELS; i++)
		r->chan[i].fd = -1;
	if ((rc = connect_retrying(uri, connect_wait_ms, &fd, err, errlen)))
		return rc;
	chan_init(&r->main, fd, -1, DRIVER_IO_MS);
	send_quiet(&r->main, &s->main.now);
	if (s->hangup) {
		chan_close(&r->main);
		return 0;
	}
	uint32_t status = 1;
	r->first_reply = recv_one(&r->main, reply_wait_ms, &status, r->reply_msg,
				  sizeof(r->reply_msg), &r->closed);
	if (r->first_reply != REC_HELLO_ACK || status != 0)
		return 0;
	for (unsigned i = 0; i < s->nr_chan && i < HOSTILE_MAX_CHANNELS; i++) {
		char ign[256];
		if (chan_connect(uri, DRIVER_IO_MS, -1, &fd, ign, sizeof(ign)))
			break;
		chan_init(&r->chan[i], fd, -1, DRIVER_IO_MS);
		r->nr_chan = i + 1;
		send_quiet(&r->chan[i], &s->chan[i].now);
	}
	return 0;
}

void hostile_finish(struct hostile_run *r, const struct hostile_stream *s, int timeout_ms)
{
	uint64_t end = ms_now() + (uint64_t)timeout_ms;
	while (r->main.fd >= 0) {
		uint64_t now = ms_now();
		if (now >= end)
			return;
		uint32_t status;
		char msg[WIRE_MAX_STRING] = "";
		uint32_t type =
		    recv_one(&r->main, (int)(end - now), &status, msg, sizeof(msg), NULL);
		if (!type)
			return; /* closed, broken or silent */
		if (type == REC_ERROR)
			snprintf(r->dest_error, sizeof(r->dest_error), "%s", msg);
		if (type == REC_READY && !r->got_ready) {
			r->got_ready = true;
			send_quiet(&r->main, &s->main.after_ready);
			for (unsigned i = 0; i < r->nr_chan; i++)
				send_quiet(&r->chan[i], &s->chan[i].after_ready);
		}
	}
}

uint32_t hostile_chan_reply(struct hostile_run *r, unsigned i, int timeout_ms, char *msg,
			    size_t msglen)
{
	uint32_t status;
	if (i >= r->nr_chan)
		return 0;
	return recv_one(&r->chan[i], timeout_ms, &status, msg, msglen, NULL);
}

void hostile_close(struct hostile_run *r)
{
	chan_close(&r->main);
	for (unsigned i = 0; i < HOSTILE_MAX_CHANNELS; i++)
		chan_close(&r->chan[i]);
	r->nr_chan = 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A PAGES record on the destination (receiver_internal.h). The stream is
 * hostile until proven otherwise: the fixed part, the entries and the
 * hashes close the record check before anything is written; every page
 * number is inside guest RAM; a compressed batch must inflate to exactly
 * its pages; every non-zero page is checked against its hash after it
 * landed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "codec/codec.h"
#include "codec/xbzrle.h"
#include "common/clock.h"
#include "migration/receiver_internal.h"
#include "migration/rx_offload.h"

/* One PAGES record's metadata, as checked. */
struct pages_rec {
	uint32_t count, codec;
	uint32_t normal, xbz;     /* pages of each kind with data */
	uint32_t xbz_len;
	uint64_t left;            /* bytes of the record not read yet */
};

/* The fixed part: pass, count, codec. */
static int recv_pages_fixed(struct dst_chan *in, const struct wire_hdr *h, struct pages_rec *pr,
			    XXH3_state_t *xs, char *err, size_t errlen)
{
	uint8_t fixed[WIRE_PAGES_FIXED_SIZE];
	struct wire_pages_fixed f;
	int r;
	if (h->len < WIRE_PAGES_MIN_SIZE) {
		snprintf(err, errlen, "bad PAGES record: %u bytes", h->len);
		return -EPROTO;
	}
	if ((r = chan_recv(in->ch, fixed, sizeof(fixed), err, errlen)) ||
	    (r = wire_decode_pages_fixed(fixed, sizeof(fixed), &f, err, errlen)))
		return r;
	if (f.pass != in->synced_pass + 1) {
		snprintf(err, errlen, "bad PAGES record: pass %llu while pass %llu is open",
			 (unsigned long long)f.pass, (unsigned long long)in->synced_pass + 1);
		return -EPROTO;
	}
	if (f.count == 0 || f.count > WIRE_MAX_PAGES_PER_BATCH) {
		snprintf(err, errlen, "bad PAGES record: %u pages", f.count);
		return -EPROTO;
	}
	if (f.codec >= CODEC_COUNT) {
		snprintf(err, errlen, "bad PAGES record: unknown codec %u", f.codec);
		return -EPROTO;
	}
	/* The record check covers the metadata as it came on the wire; each
	 * piece is added before it is decoded (in place) to host order. */
	wire_check_reset(xs, chan_key(in->ch));
	XXH3_64bits_update(xs, fixed, sizeof(fixed));
	*pr = (struct pages_rec){.count = f.count, .codec = f.codec, .left = h->len - sizeof(fixed)};
	return 0;
}

/* A stream buffer of size bytes, allocated the first time it is needed. */
static int stream_buf(uint8_t **buf, size_t size, char *err, size_t errlen)
{
	if (!*buf && !(*buf = malloc(size))) {
		snprintf(err, errlen, "out of memory for a %zu-byte stream buffer", size);
		return -ENOMEM;
	}
	return 0;
}

/* The entries: every page number inside guest RAM, every kind known. */
static int recv_pages_entries(struct dst_chan *in, const struct ram_map *ram, struct pages_rec *pr,
			      XXH3_state_t *xs, char *err, size_t errlen)
{
	uint64_t *ent = in->entries;
	size_t ent_len = (size_t)pr->count * WIRE_PAGES_ITEM_SIZE;
	int r;
	if (pr->left < ent_len) {
		snprintf(err, errlen, "bad PAGES record: truncated page list");
		return -EPROTO;
	}
	if ((r = chan_recv(in->ch, ent, ent_len, err, errlen)))
		return r;
	XXH3_64bits_update(xs, ent, ent_len);
	if ((r = wire_decode_pages_entries(ent, ent_len, ent, pr->count, err, errlen)))
		return r;
	pr->left -= ent_len;
	for (uint32_t i = 0; i < pr->count; i++) {
		unsigned kind = wire_entry_kind(ent[i]);
		if (wire_entry_index(ent[i]) >= ram->total_pages || kind > WIRE_KIND_XBZRLE) {
			snprintf(err, errlen, "bad PAGES record: page %llu (kind %u) is beyond guest RAM "
				 "(%llu pages)", (unsigned long long)wire_entry_index(ent[i]), kind,
				 (unsigned long long)ram->total_pages);
			return -EPROTO;
		}
		pr->normal += kind == WIRE_KIND_NORMAL;
		pr->xbz += kind == WIRE_KIND_XBZRLE;
	}
	return 0;
}

/* The hashes, which close the record check, then the XBZRLE section. */
static int recv_pages_hashes(struct dst_chan *in, struct pages_rec *pr, XXH3_state_t *xs,
			     const struct wire_hdr *h, char *err, size_t errlen)
{
	uint8_t len_raw[WIRE_PAGES_LEN_SIZE];
	uint32_t nh = pr->normal + pr->xbz;
	size_t hash_len = (size_t)nh * WIRE_PAGES_ITEM_SIZE;
	int r;
	if (pr->left < (uint64_t)hash_len + WIRE_PAGES_LEN_SIZE) {
		snprintf(err, errlen, "bad PAGES record: truncated hashes");
		return -EPROTO;
	}
	if ((r = chan_recv(in->ch, in->hashes, hash_len, err, errlen)))
		return r;
	pr->left -= hash_len;
	XXH3_64bits_update(xs, in->hashes, hash_len);
	if (XXH3_64bits_digest(xs) != h->check) {
		snprintf(err, errlen, "bad PAGES record: checksum mismatch");
		return -EBADMSG;
	}
	if ((r = wire_decode_pages_hashes(in->hashes, hash_len, in->hashes, nh, err, errlen)) ||
	    (r = chan_recv(in->ch, len_raw, sizeof(len_raw), err, errlen)) ||
	    (r = wire_decode_pages_len(len_raw, sizeof(len_raw), &pr->xbz_len, err, errlen)))
		return r;
	pr->left -= WIRE_PAGES_LEN_SIZE;
	uint64_t xbz_max = (uint64_t)pr->xbz * (WIRE_XBZ_DELTA_HDR_SIZE + VMIG_PAGE_SIZE);
	uint64_t xbz_min = (uint64_t)pr->xbz * WIRE_XBZ_DELTA_HDR_SIZE;
	if (pr->xbz_len > pr->left || pr->xbz_len > xbz_max || pr->xbz_len > WIRE_MAX_XBZ_SECTION ||
	    (pr->xbz && pr->xbz_len < xbz_min) || (!pr->xbz && pr->xbz_len)) {
		snprintf(err, errlen, "bad PAGES record: XBZRLE section of %u bytes for %u pages",
			 pr->xbz_len, pr->xbz);
		return -EPROTO;
	}
	if (pr->xbz_len && ((r = stream_buf(&in->xbz, WIRE_MAX_XBZ_SECTION, err, errlen)) ||
			    (r = chan_recv(in->ch, in->xbz, pr->xbz_len, err, errlen))))
		return r;
	pr->left -= pr->xbz_len;
	return 0;
}

/* Zero pages: fresh RAM is zero, touch a page only if it held data. */
static void apply_zero_pages(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr)
{
	for (uint32_t i = 0; i < pr->count; i++) {
		if (wire_entry_kind(in->entries[i]) != WIRE_KIND_ZERO)
			continue;
		uint64_t idx = wire_entry_index(in->entries[i]);
		if (ram->hash[idx] != ram->zero_hash)
			memset(ram_page(ram, idx), 0, VMIG_PAGE_SIZE);
		ram->hash[idx] = ram->zero_hash;
		in->pages_zero++;
	}
}

/* Raw normal pages: straight from the socket into the guest pages. */
static int recv_raw_pages(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr,
			  char *err, size_t errlen)
{
	if (pr->left != (uint64_t)pr->normal * VMIG_PAGE_SIZE) {
		snprintf(err, errlen, "bad PAGES record: %llu data bytes for %u pages",
			 (unsigned long long)pr->left, pr->normal);
		return -EPROTO;
	}
	unsigned n = 0;
	for (uint32_t i = 0; i < pr->count; i++)
		if (wire_entry_kind(in->entries[i]) == WIRE_KIND_NORMAL)
			in->iov[n++] = (struct iovec){ram_page(ram, wire_entry_index(in->entries[i])),
						      VMIG_PAGE_SIZE};
	return n ? chan_recvv(in->ch, in->iov, (int)n, err, errlen) : 0;
}

/* Compressed normal pages: decoded on this thread, then scattered. */
static int recv_compressed_pages(struct dst_chan *in, struct ram_map *ram,
				 const struct pages_rec *pr, char *err, size_t errlen)
{
	uint8_t len_raw[WIRE_PAGES_LEN_SIZE];
	uint32_t comp_len = 0;
	int r = 0;
	if (!pr->normal || pr->left < WIRE_PAGES_LEN_SIZE ||
	    (r = chan_recv(in->ch, len_raw, sizeof(len_raw), err, errlen)) ||
	    (r = wire_decode_pages_len(len_raw, sizeof(len_raw), &comp_len, err, errlen)) ||
	    comp_len != pr->left - WIRE_PAGES_LEN_SIZE || comp_len > in->comp_cap) {
		if (!r) {
			snprintf(err, errlen, "bad PAGES record: compressed data does not fit the record");
			r = -EPROTO;
		}
		return r;
	}
	size_t cap = (size_t)WIRE_MAX_PAGES_PER_BATCH * VMIG_PAGE_SIZE;
	if ((r = stream_buf(&in->comp, in->comp_cap, err, errlen)) ||
	    (r = stream_buf(&in->scratch, cap, err, errlen)) ||
	    (r = chan_recv(in->ch, in->comp, comp_len, err, errlen)))
		return r;
	uint64_t t0 = thread_cpu_ns();
	size_t want = (size_t)pr->normal * VMIG_PAGE_SIZE;
	r = -ENOTSUP;
	if (in->q) /* the workers' CPU time is counted by the engine */
		r = rx_offload_decompress(in->in->accel, in->q, (enum codec_id)pr->codec, in->comp,
					  comp_len, in->scratch, cap, want);
	/* No engine, or one that does not do this codec (QAT: deflate only) or is full. */
	if (r == -ENOTSUP || r == -EAGAIN)
		r = codec_decompress(in->codec_ctx, (enum codec_id)pr->codec, in->comp, comp_len,
				     in->scratch, cap, want);
	__atomic_fetch_add(&in->decompress_ns, thread_cpu_ns() - t0, __ATOMIC_RELAXED);
	if (r) {
		snprintf(err, errlen, "bad PAGES record: %s data does not decompress to %u pages",
			 codec_name((enum codec_id)pr->codec), pr->normal);
		return -EBADMSG;
	}
	const uint8_t *src = in->scratch;
	for (uint32_t i = 0; i < pr->count; i++)
		if (wire_entry_kind(in->entries[i]) == WIRE_KIND_NORMAL) {
			memcpy(ram_page(ram, wire_entry_index(in->entries[i])), src, VMIG_PAGE_SIZE);
			src += VMIG_PAGE_SIZE;
		}
	return 0;
}

/* XBZRLE pages: deltas against what this side holds. */
static int apply_xbzrle_pages(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr,
			      char *err, size_t errlen)
{
	if (!pr->xbz)
		return 0; /* and in->xbz may not exist yet */
	const uint8_t *d = in->xbz, *dend = in->xbz + pr->xbz_len;
	for (uint32_t i = 0; i < pr->count; i++) {
		if (wire_entry_kind(in->entries[i]) != WIRE_KIND_XBZRLE)
			continue;
		uint16_t n;
		if (dend - d < WIRE_XBZ_DELTA_HDR_SIZE ||
		    wire_decode_xbz_delta_len(d, WIRE_XBZ_DELTA_HDR_SIZE, &n, err, errlen)) {
			snprintf(err, errlen, "bad PAGES record: XBZRLE section truncated");
			return -EBADMSG;
		}
		d += WIRE_XBZ_DELTA_HDR_SIZE;
		uint64_t idx = wire_entry_index(in->entries[i]);
		if (dend - d < n || xbzrle_decode(d, n, ram_page(ram, idx), VMIG_PAGE_SIZE)) {
			snprintf(err, errlen, "bad PAGES record: malformed XBZRLE delta for page %llu",
				 (unsigned long long)idx);
			return -EBADMSG;
		}
		d += n;
		in->pages_xbzrle++;
	}
	if (d != dend) {
		snprintf(err, errlen, "bad PAGES record: trailing bytes in the XBZRLE section");
		return -EBADMSG;
	}
	return 0;
}

/* Every non-zero page against its hash; the RAM table learns the new ones. */
static int check_page_hashes(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr,
			     char *err, size_t errlen)
{
	unsigned k = 0;
	for (uint32_t i = 0; i < pr->count; i++) {
		unsigned kind = wire_entry_kind(in->entries[i]);
		if (kind == WIRE_KIND_ZERO)
			continue;
		uint64_t idx = wire_entry_index(in->entries[i]);
		uint64_t got = page_hash(ram_page(ram, idx));
		if (got != in->hashes[k]) {
			snprintf(err, errlen, "bad PAGES record: page %llu does not match its hash%s",
				 (unsigned long long)idx, kind == WIRE_KIND_XBZRLE ? " after its XBZRLE delta" : "");
			return -EBADMSG;
		}
		ram->hash[idx] = got;
		k++;
		if (kind == WIRE_KIND_NORMAL)
			in->pages_normal++;
	}
	return 0;
}

/*
 * Receives one PAGES record (its header already read; layout in
 * docs/protocol.md). Everything but the page contents is read and checked
 * first; raw page data then goes straight into the guest pages it names,
 * compressed data is decoded on this thread into a scratch buffer and
 * scattered, XBZRLE deltas are applied to the pages in place; finally
 * every page is checked against its hash.
 */
int dst_chan_recv_pages(struct dst_chan *in, struct ram_map *ram, const struct wire_hdr *h,
			char *err, size_t errlen)
{
	struct pages_rec pr;
	XXH3_state_t xs;
	int r;
	if ((r = recv_pages_fixed(in, h, &pr, &xs, err, errlen)) ||
	    (r = recv_pages_entries(in, ram, &pr, &xs, err, errlen)) ||
	    (r = recv_pages_hashes(in, &pr, &xs, h, err, errlen)))
		return r;
	apply_zero_pages(in, ram, &pr);
	if (pr.codec == CODEC_NONE)
		r = recv_raw_pages(in, ram, &pr, err, errlen);
	else
		r = recv_compressed_pages(in, ram, &pr, err, errlen);
	if (r || (r = apply_xbzrle_pages(in, ram, &pr, err, errlen)) ||
	    (r = check_page_hashes(in, ram, &pr, err, errlen)))
		return r;
	in->applied_upto = wire_entry_index(in->entries[pr.count - 1]) + 1;
	return 0;
}

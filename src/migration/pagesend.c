/* SPDX-License-Identifier: MIT */
/*
 * The source's page pipeline, one instance per stream (data channel).
 *
 * A pass: walk this stream's chunks of the dirty bitmap; for a chunk with
 * dirty pages, re-arm tracking for it (dirty_clear) and only then read its
 * pages, so a guest write after that point lands in the next harvest.
 * Each page is copied once (checking for zero on the way) and hashed from
 * the copy; a page the XBZRLE cache knows goes as a delta against it.
 * Batches of up to 256 pages are sealed into slots; with a codec, a sealed
 * slot's page data is compressed by the offload engine while the next
 * slot fills, and slots go out in order as PAGES records. A SYNC closes
 * the pass. A page always belongs to the same chunk and so to the same
 * stream while the channels in use stay the same, which keeps its versions
 * in order on the wire (a change waits for every acknowledgement first:
 * active_channels.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "codec/xbzrle.h"
#include "migration/sender_internal.h"
#include "migration/wire.h"

#define XBZRLE_MAX_DELTA 3072 /* a bigger delta is not worth it: send the page */

static void slot_reset(struct batch_slot *b)
{
	b->nr_entries = b->nr_data = b->nr_hashes = 0;
	b->xbz_len = 0;
	b->state = SLOT_FREE;
}

int stream_init(struct src_chan *s, struct vmig_migration *m, unsigned idx)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->idx = idx;
	s->own.fd = -1;
	bool compress = m->codec != CODEC_NONE || m->may_compress;
	unsigned nslots = compress ? NR_SLOTS : 1;
	for (unsigned i = 0; i < nslots; i++) {
		struct batch_slot *b = &s->slots[i];
		b->data = malloc((size_t)BATCH_PAGES * VMIG_PAGE_SIZE);
		if (!b->data)
			return -ENOMEM;
		if (m->p.xbzrle_cache_bytes) {
			b->xbz = malloc((size_t)BATCH_PAGES *
					(XBZRLE_MAX_DELTA + WIRE_XBZ_DELTA_HDR_SIZE));
			if (!b->xbz)
				return -ENOMEM;
		}
		if (compress) {
			/* room for whichever codec a re-plan may pick */
			for (int c = 1; c < CODEC_COUNT; c++) {
				size_t need = codec_bound((enum codec_id)c,
							  (size_t)BATCH_PAGES * VMIG_PAGE_SIZE);
				b->comp_cap = need > b->comp_cap ? need : b->comp_cap;
			}
			b->comp = malloc(b->comp_cap);
			if (!b->comp)
				return -ENOMEM;
		}
		slot_reset(b);
	}
	s->nr_slots = nslots;
	if (m->accel && accel_queue_new(m->accel, &s->q))
		return -ENOMEM;
	/* QAT fails raw deflate beyond its hardware buffer: smaller batches then. */
	size_t max_job = m->accel ? accel_max_job_bytes(m->accel) : 0;
	s->max_data_pages = max_job && max_job / VMIG_PAGE_SIZE < BATCH_PAGES
				    ? (unsigned)(max_job / VMIG_PAGE_SIZE)
				    : BATCH_PAGES;
	if (m->p.xbzrle_cache_bytes && idx < m->active_streams) {
		s->xbz_bytes = m->p.xbzrle_cache_bytes / m->active_streams;
		s->xbz = xbzrle_cache_new(s->xbz_bytes);
		if (!s->xbz)
			return -ENOMEM;
	}
	return 0;
}

void stream_free(struct src_chan *s)
{
	if (!s->m)
		return; /* never initialised */
	if (s->own.fd >= 0)
		chan_close(&s->own);
	/* first: waits for jobs still compressing out of these buffers */
	if (s->q)
		accel_queue_free(s->q);
	s->q = NULL;
	for (unsigned i = 0; i < NR_SLOTS; i++) {
		free(s->slots[i].data);
		free(s->slots[i].xbz);
		free(s->slots[i].comp);
	}
	if (s->xbz)
		xbzrle_cache_free(s->xbz);
	s->m = NULL;
}

/*
 * Safe mid-migration: the destination keeps no cache of its own, it
 * applies a delta to the page in its guest RAM, which holds what was last
 * sent of it. The new cache starts empty and learns only pages sent from
 * here on (add_page), so any delta it yields is against a copy the
 * destination holds; a page always travels on the same stream.
 */
int stream_start_xbzrle(struct src_chan *s, uint64_t cache_bytes)
{
	if (s->xbz)
		return 0;
	for (unsigned i = 0; i < s->nr_slots; i++) {
		struct batch_slot *b = &s->slots[i];
		if (!b->xbz)
			b->xbz = malloc((size_t)BATCH_PAGES * (XBZRLE_MAX_DELTA + WIRE_XBZ_DELTA_HDR_SIZE));
		if (!b->xbz)
			return -ENOMEM;
	}
	s->xbz_bytes = cache_bytes;
	s->xbz = xbzrle_cache_new(cache_bytes);
	return s->xbz ? 0 : -ENOMEM;
}

/*
 * After a broken link nothing in flight is known to have arrived: batches
 * still sealed or compressing are dropped (their pages are sent again),
 * and the XBZRLE cache, which claims to know what the destination holds,
 * starts over empty.
 */
int stream_reset_after_break(struct src_chan *s)
{
	struct accel_job *done[NR_SLOTS];
	/* the engine may still write into the slots' buffers: wait for it */
	while (s->q && accel_poll_queue(s->q, done, NR_SLOTS, -1) > 0)
		;
	for (unsigned i = 0; i < s->nr_slots; i++)
		slot_reset(&s->slots[i]);
	s->cur = s->head = s->nr_sealed = 0;
	s->pages_done = 0;
	if (!s->xbz)
		return 0;
	uint64_t bytes = s->xbz_bytes;
	stream_drop_xbzrle(s);
	return stream_start_xbzrle(s, bytes);
}

void stream_drop_xbzrle(struct src_chan *s)
{
	if (!s->xbz)
		return;
	pthread_mutex_lock(&s->m->lock); /* vmig_migration_query reads the snapshot */
	xbzrle_cache_stats(s->xbz, &s->xbz_stats); /* its figures stay in the stats */
	pthread_mutex_unlock(&s->m->lock);
	xbzrle_cache_free(s->xbz);
	s->xbz = NULL;
}

void stream_fold_counters(struct src_chan *s)
{
	struct vmig_migration *m = s->m;
	pthread_mutex_lock(&m->lock);
	m->st.pages_zero += s->zero;
	m->st.pages_normal += s->normal;
	m->st.pages_xbzrle += s->xbzrle;
	m->st.pages_compressed += s->compressed;
	m->st.bytes_before_compression += s->raw_bytes;
	m->st.bytes_after_compression += s->comp_bytes;
	m->st.pages_sent_this_pass += s->pages_done;
	uint64_t sent = s->pages_done * VMIG_PAGE_SIZE;
	m->st.remaining_bytes = m->st.remaining_bytes > sent ? m->st.remaining_bytes - sent : 0;
	if (s->xbz)
		xbzrle_cache_stats(s->xbz, &s->xbz_stats);
	pthread_mutex_unlock(&m->lock);
	s->zero = s->normal = s->xbzrle = s->compressed = s->pages_done = 0;
	s->raw_bytes = s->comp_bytes = 0;
}

/*
 * REC_PAGES (docs/protocol.md): {u64 pass, u32 count, u32 codec}, count
 * entries (index << 2 | kind), a hash per non-zero page, u32 + XBZRLE
 * deltas, then the normal pages' data, raw or as u32 length + compressed
 * bytes. The record check covers fixed part, entries and hashes; every
 * page is covered by its own hash, which the destination checks.
 */
static int send_slot(struct src_chan *s, struct batch_slot *b, char *err, size_t errlen)
{
	uint32_t codec = CODEC_NONE;
	uint32_t comp_len = 0;
	size_t data_len = (size_t)b->nr_data * VMIG_PAGE_SIZE;
	const void *data = b->data;

	if (b->state == SLOT_COMPRESSING) {
		/* its job came back (send_oldest waited for it) */
		if (b->job.status == 0 && b->job.dst_len + WIRE_PAGES_LEN_SIZE < data_len) {
			codec = (uint32_t)s->m->codec;
			comp_len = (uint32_t)b->job.dst_len;
			data = b->comp;
			s->compressed += b->nr_data;
		}
		/* an incompressible batch (or a failed job) goes raw */
	}
	uint8_t fixed[WIRE_PAGES_FIXED_SIZE];
	uint8_t xbz_raw[WIRE_PAGES_LEN_SIZE], comp_raw[WIRE_PAGES_LEN_SIZE];
	uint32_t count = b->nr_entries;
	wire_encode_pages_fixed(fixed, &(struct wire_pages_fixed){b->pass, count, codec});
	/* entries and hashes go out of the slot itself, turned to wire order
	 * in place: the slot is reset once sent */
	wire_encode_pages_entries(b->entries, b->entries, count);
	wire_encode_pages_hashes(b->hashes, b->hashes, b->nr_hashes);
	size_t ent_len = (size_t)count * WIRE_PAGES_ITEM_SIZE;
	size_t hash_len = (size_t)b->nr_hashes * WIRE_PAGES_ITEM_SIZE;
	uint32_t xbz_len = (uint32_t)b->xbz_len;
	wire_encode_pages_len(xbz_raw, xbz_len);
	wire_encode_pages_len(comp_raw, comp_len);
	size_t body = codec ? WIRE_PAGES_LEN_SIZE + (size_t)comp_len : data_len;
	size_t len = sizeof(fixed) + ent_len + hash_len + WIRE_PAGES_LEN_SIZE + xbz_len + body;

	XXH3_state_t st;
	wire_check_reset(&st, chan_key(s->ch));
	XXH3_64bits_update(&st, fixed, sizeof(fixed));
	XXH3_64bits_update(&st, b->entries, ent_len);
	XXH3_64bits_update(&st, b->hashes, hash_len);
	uint8_t hdr[WIRE_HDR_SIZE];
	wire_encode_hdr(hdr, REC_PAGES, len, XXH3_64bits_digest(&st));

	struct iovec iov[9] = {
		{hdr, sizeof(hdr)}, {fixed, sizeof(fixed)}, {b->entries, ent_len},
		{b->hashes, hash_len}, {xbz_raw, sizeof(xbz_raw)}, {b->xbz, xbz_len},
	};
	int n = 6;
	if (codec) {
		iov[n++] = (struct iovec){comp_raw, sizeof(comp_raw)};
		iov[n++] = (struct iovec){(void *)data, comp_len};
	} else {
		iov[n++] = (struct iovec){(void *)data, data_len};
	}
	int r = chan_sendv(s->ch, iov, n, err, errlen);
	s->raw_bytes += data_len;
	s->comp_bytes += codec ? comp_len : data_len;
	slot_reset(b);
	stream_fold_counters(s);
	migration_update_counters(s->m);
	return r;
}

/* Waits for the oldest sealed slot's compression (if any) and sends it. */
static int send_oldest(struct src_chan *s, char *err, size_t errlen)
{
	struct batch_slot *b = &s->slots[s->head];
	while (b->state == SLOT_COMPRESSING && !b->job_done) {
		struct accel_job *done[NR_SLOTS];
		int n = accel_poll_queue(s->q, done, NR_SLOTS, -1);
		if (n < 0) {
			snprintf(err, errlen, "offload engine: %s", strerror(-n));
			return n;
		}
		for (int i = 0; i < n; i++)
			((struct batch_slot *)done[i]->user)->job_done = true;
	}
	int r = send_slot(s, b, err, errlen);
	s->head = (s->head + 1) % s->nr_slots;
	s->nr_sealed--;
	return r;
}

/* Closes the current slot: hands its page data to the offload engine (with
 * a codec) and moves on, sending the oldest slot when all are in use. */
static int seal(struct src_chan *s, char *err, size_t errlen)
{
	struct vmig_migration *m = s->m;
	struct batch_slot *b = &s->slots[s->cur];
	if (!b->nr_entries)
		return 0;
	b->pass = m->pass;
	b->state = SLOT_SEALED;
	b->job_done = false;
	if (m->codec != CODEC_NONE && b->nr_data) {
		b->job = (struct accel_job){
			.op = ACCEL_COMPRESS,
			.codec = m->codec,
			.level = m->p.level,
			.src = b->data,
			.src_len = (size_t)b->nr_data * VMIG_PAGE_SIZE,
			.dst = b->comp,
			.dst_cap = b->comp_cap,
			.user = b,
		};
		int r = accel_submit_to(m->accel, s->q, &b->job);
		if (r == 0)
			b->state = SLOT_COMPRESSING;
		/* -EAGAIN (engine full): this batch simply goes raw */
	}
	s->nr_sealed++;
	s->cur = (s->cur + 1) % s->nr_slots;
	if (s->nr_sealed == s->nr_slots)
		return send_oldest(s, err, errlen);
	return 0;
}

static int drain(struct src_chan *s, char *err, size_t errlen)
{
	int r = seal(s, err, errlen);
	while (!r && s->nr_sealed)
		r = send_oldest(s, err, errlen);
	return r;
}

/* index: the page's global number (on the wire); key: its number among
 * this stream's pages, dense, so the XBZRLE cache's slots (key modulo the
 * slot count) do not collide on the stream's striped chunks. */
static int add_page(struct src_chan *s, uint64_t index, uint64_t key, char *err, size_t errlen)
{
	struct ram_map *ram = &s->m->ram;
	struct batch_slot *b = &s->slots[s->cur];
	const uint8_t *src = ram_page(ram, index);
	/* Copy first, then hash the copy: the guest may be writing the page
	 * right now, and what we hash must be what we send. */
	uint8_t *dst = b->data + (size_t)b->nr_data * VMIG_PAGE_SIZE;
	if (page_copy_is_zero(dst, src)) {
		b->entries[b->nr_entries++] = wire_page_entry(index, WIRE_KIND_ZERO);
		ram->hash[index] = ram->zero_hash;
		s->zero++;
		/* keep the cache equal to what the destination holds */
		if (s->xbz && s->m->pass > 1 && xbzrle_cache_lookup(s->xbz, key))
			xbzrle_cache_insert(s->xbz, key, dst);
	} else {
		uint64_t h = page_hash(dst);
		ram->hash[index] = h;
		const uint8_t *old = s->xbz && s->m->pass > 1 ? xbzrle_cache_lookup(s->xbz, key) : NULL;
		int n = -1;
		if (old) {
			uint8_t *out = b->xbz + b->xbz_len + WIRE_XBZ_DELTA_HDR_SIZE;
			n = xbzrle_encode(old, dst, VMIG_PAGE_SIZE, out, XBZRLE_MAX_DELTA);
			if (n < 0)
				xbzrle_cache_note_overflow(s->xbz);
		}
		if (n >= 0) {
			wire_encode_xbz_delta_len(b->xbz + b->xbz_len, (uint16_t)n);
			b->xbz_len += WIRE_XBZ_DELTA_HDR_SIZE + (size_t)n;
			b->entries[b->nr_entries++] = wire_page_entry(index, WIRE_KIND_XBZRLE);
			xbzrle_cache_note_saved(s->xbz, VMIG_PAGE_SIZE - (uint64_t)n);
			s->xbzrle++;
		} else {
			b->entries[b->nr_entries++] = wire_page_entry(index, WIRE_KIND_NORMAL);
			b->nr_data++;
			s->normal++;
		}
		b->hashes[b->nr_hashes++] = h;
		/* Like QEMU, cache only from pass 2 on: the bulk pass would fill
		 * the cache with pages that never come back. */
		if (s->xbz && s->m->pass > 1)
			xbzrle_cache_insert(s->xbz, key, dst);
	}
	bool full = b->nr_entries == BATCH_PAGES || b->nr_data == s->max_data_pages;
	return full ? seal(s, err, errlen) : 0;
}

int stream_send_pass(struct src_chan *s, bool check_stop, char *err, size_t errlen)
{
	struct vmig_migration *m = s->m;
	uint64_t chunk = 0, mine = 0; /* chunks seen, and this stream's among them */
	int r;

	if (s->xbz)
		xbzrle_cache_next_generation(s->xbz);
	for (unsigned i = 0; i < m->ram.nr; i++) {
		uint64_t pages = m->ram.pages[i];
		for (uint64_t first = 0; first < pages; first += CLEAR_CHUNK_PAGES, chunk++) {
			if (chunk % m->active_streams != s->idx)
				continue;
			uint64_t key0 = mine++ * CLEAR_CHUNK_PAGES;
			uint64_t n = pages - first < CLEAR_CHUNK_PAGES ? pages - first : CLEAR_CHUNK_PAGES;
			uint64_t *w = m->bits[i] + first / 64, words = vmig_bitmap_words(n);
			bool any = false;
			for (uint64_t k = 0; k < words && !any; k++)
				any = w[k] != 0;
			if (!any)
				continue;
			if (check_stop && migration_should_stop(m, err, errlen))
				return -ECANCELED;
			if ((r = m->g.ops->dirty_clear(m->g.opaque, i, first, n, w, err, errlen)))
				return r;
			uint64_t *sent = m->sent_now[i] ? m->sent_now[i] + first / 64 : NULL;
			for (uint64_t k = 0; k < words; k++) {
				uint64_t word = w[k];
				w[k] = 0;
				if (sent) /* on its way: sent again if the link breaks before SYNC_ACK */
					sent[k] |= word;
				s->pages_done += (uint64_t)__builtin_popcountll(word);
				while (word) {
					unsigned bit = (unsigned)__builtin_ctzll(word);
					word &= word - 1;
					r = add_page(s, m->ram.first_page[i] + first + k * 64 + bit,
						     key0 + k * 64 + bit, err, errlen);
					if (r)
						return r;
				}
			}
		}
	}
	if ((r = drain(s, err, errlen)))
		return r;
	stream_fold_counters(s);
	uint8_t sync[WIRE_SYNC_SIZE];
	wire_encode_sync(sync, &(struct wire_sync){.pass = m->pass});
	return chan_send_record(s->ch, REC_SYNC, sync, sizeof(sync), err, errlen);
}

/* A data channel's thread: one pass per work generation. */
void *stream_thread(void *arg)
{
	struct src_chan *s = arg;
	struct vmig_migration *m = s->m;
	uint64_t seen = 0;
	char name[16];

	snprintf(name, sizeof(name), "mig-chan%u", s->idx);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		pthread_mutex_lock(&m->work_lock);
		while (!m->work_exit && m->work_gen == seen)
			pthread_cond_wait(&m->work_cond, &m->work_lock);
		if (m->work_exit) {
			pthread_mutex_unlock(&m->work_lock);
			return NULL;
		}
		seen = m->work_gen;
		bool check_stop = m->work_check_stop;
		pthread_mutex_unlock(&m->work_lock);

		s->err[0] = 0;
		s->result = stream_send_pass(s, check_stop, s->err, sizeof(s->err));
		if (s->result)
			migration_abort(m); /* wake the other streams out of blocking sends */

		pthread_mutex_lock(&m->work_lock);
		m->work_done++;
		pthread_cond_broadcast(&m->work_cond);
		pthread_mutex_unlock(&m->work_lock);
	}
}

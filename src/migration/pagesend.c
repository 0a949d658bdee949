/* SPDX-License-Identifier: MIT */
/*
 * The source's page pipeline, one instance per stream (data channel).
 *
 * A pass: walk this stream's chunks of the dirty bitmap; for a chunk with
 * dirty pages, re-arm tracking for it (dirty_clear) and only then read its
 * pages, so a guest write after that point lands in the next harvest. Each
 * page is copied once (checking for zero on the way) and hashed from the
 * copy; batches of up to 256 go out as PAGES records; a SYNC closes the
 * pass. A page always belongs to the same chunk and so to the same
 * stream, which keeps its versions in order on the wire.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "migration/sender_internal.h"
#include "migration/wire.h"

int stream_init(struct src_chan *s, struct vmig_migration *m, unsigned idx)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->idx = idx;
	s->own.fd = -1;
	s->data = malloc((size_t)BATCH_PAGES * VMIG_PAGE_SIZE);
	return s->data ? 0 : -ENOMEM;
}

void stream_free(struct src_chan *s)
{
	if (!s->m)
		return; /* never initialised */
	if (s->own.fd >= 0)
		chan_close(&s->own);
	free(s->data);
	s->data = NULL;
}

void stream_fold_counters(struct src_chan *s)
{
	struct vmig_migration *m = s->m;
	pthread_mutex_lock(&m->lock);
	m->st.pages_zero += s->zero;
	m->st.pages_normal += s->normal;
	m->st.pages_sent_this_pass += s->pages_done;
	pthread_mutex_unlock(&m->lock);
	s->zero = s->normal = s->pages_done = 0;
}

/*
 * REC_PAGES: {u64 pass, u32 count, u32 codec} + count entries + one hash
 * per normal page + the normal pages' data. The record check covers all
 * but the data; each data page is covered by its own hash, which the
 * destination computes anyway for the RAM digest.
 */
static int flush_batch(struct src_chan *s, char *err, size_t errlen)
{
	if (!s->nr_entries)
		return 0;
	uint8_t fixed[16];
	uint32_t count = s->nr_entries, codec = 0;
	memcpy(fixed, &s->m->pass, 8);
	memcpy(fixed + 8, &count, 4);
	memcpy(fixed + 12, &codec, 4);
	size_t ent_len = (size_t)count * 8, hash_len = (size_t)s->nr_data * 8;
	size_t data_len = (size_t)s->nr_data * VMIG_PAGE_SIZE;
	size_t len = sizeof(fixed) + ent_len + hash_len + data_len;

	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, fixed, sizeof(fixed));
	XXH3_64bits_update(&st, s->entries, ent_len);
	XXH3_64bits_update(&st, s->hashes, hash_len);
	uint8_t hdr[WIRE_HDR_SIZE];
	uint32_t type = REC_PAGES, l = (uint32_t)len;
	uint64_t check = XXH3_64bits_digest(&st);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &l, 4);
	memcpy(hdr + 8, &check, 8);

	struct iovec iov[5] = {
		{hdr, sizeof(hdr)}, {fixed, sizeof(fixed)}, {s->entries, ent_len},
		{s->hashes, hash_len}, {s->data, data_len},
	};
	int r = chan_sendv(s->ch, iov, 5, err, errlen);
	s->nr_entries = s->nr_data = 0;
	stream_fold_counters(s);
	migration_update_counters(s->m);
	return r;
}

static int add_page(struct src_chan *s, uint64_t index, char *err, size_t errlen)
{
	struct ram_map *ram = &s->m->ram;
	const uint8_t *src = ram_page(ram, index);
	/* Copy first, then hash the copy: the guest may be writing the page
	 * right now, and what we hash must be what we send. */
	uint8_t *dst = s->data + (size_t)s->nr_data * VMIG_PAGE_SIZE;
	if (page_copy_is_zero(dst, src)) {
		s->entries[s->nr_entries++] = index << 1 | WIRE_PAGE_ZERO;
		ram->hash[index] = ram->zero_hash;
		s->zero++;
	} else {
		uint64_t h = page_hash(dst);
		ram->hash[index] = h;
		s->hashes[s->nr_data] = h;
		s->entries[s->nr_entries++] = index << 1;
		s->nr_data++;
		s->normal++;
	}
	return s->nr_entries == BATCH_PAGES ? flush_batch(s, err, errlen) : 0;
}

int stream_send_pass(struct src_chan *s, bool check_stop, char *err, size_t errlen)
{
	struct vmig_migration *m = s->m;
	uint64_t chunk = 0;
	int r;

	for (unsigned i = 0; i < m->ram.nr; i++) {
		uint64_t pages = m->ram.pages[i];
		for (uint64_t first = 0; first < pages; first += CLEAR_CHUNK_PAGES, chunk++) {
			if (chunk % m->nr_streams != s->idx)
				continue;
			uint64_t n = pages - first < CLEAR_CHUNK_PAGES ? pages - first : CLEAR_CHUNK_PAGES;
			uint64_t *w = m->bits[i] + first / 64, words = (n + 63) / 64;
			bool any = false;
			for (uint64_t k = 0; k < words && !any; k++)
				any = w[k] != 0;
			if (!any)
				continue;
			if (check_stop && migration_should_stop(m, err, errlen))
				return -ECANCELED;
			if ((r = m->g.ops->dirty_clear(m->g.opaque, i, first, n, w, err, errlen)))
				return r;
			for (uint64_t k = 0; k < words; k++) {
				uint64_t word = w[k];
				w[k] = 0;
				while (word) {
					unsigned b = (unsigned)__builtin_ctzll(word);
					word &= word - 1;
					r = add_page(s, m->ram.first_page[i] + first + k * 64 + b, err, errlen);
					if (r)
						return r;
				}
			}
			s->pages_done += n;
		}
	}
	if ((r = flush_batch(s, err, errlen)))
		return r;
	stream_fold_counters(s);
	uint8_t sync[16];
	uint64_t zero = 0;
	memcpy(sync, &m->pass, 8);
	memcpy(sync + 8, &zero, 8);
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
			/* wake the other streams out of blocking sends */
			migration_abort(m);

		pthread_mutex_lock(&m->work_lock);
		m->work_done++;
		pthread_cond_broadcast(&m->work_cond);
		pthread_mutex_unlock(&m->work_lock);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * Migration source: setup, pre-copy passes, stop-and-copy, handover.
 *
 * Pass structure: harvest the dirty log into a bitmap; walk it in chunks,
 * re-arming tracking for a chunk (dirty_clear) right before reading its
 * pages, so a guest write after that point lands in the next harvest.
 * Pages go out in batches of up to 256; a SYNC closes each pass.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "common/buf.h"
#include "common/log.h"
#include "migration/channel.h"
#include "migration/hostinfo.h"
#include "migration/ram.h"
#include "migration/wire.h"
#include "vmig/migration.h"

#define BATCH_PAGES 256
#define CLEAR_CHUNK_PAGES 4096 /* 16 MiB re-armed per KVM_CLEAR_DIRTY_LOG */
#define CONNECT_TIMEOUT_MS 10000
#define READY_TIMEOUT_MS 60000
#define RESUMED_TIMEOUT_MS 10000
#define ALIVE_TIMEOUT_MS 3000

struct vmig_migration {
	struct vmig_guest g;
	struct vmig_migrate_params p;
	char uri[256];
	uint8_t *vmm_config;
	pthread_t thread;
	int cancel_fd;
	bool cancelled;                 /* atomic */

	pthread_mutex_t lock;
	struct vmig_migrate_stats st;   /* under lock */

	struct ram_map ram;
	uint64_t *bits[VMIG_MAX_RAM_REGIONS];
	struct channel ch;
	bool connected, dirty_on, paused, go_sent;

	/* batch under construction */
	uint64_t entries[BATCH_PAGES];
	uint64_t hashes[BATCH_PAGES];   /* of the normal pages, in order */
	uint8_t *data;                  /* BATCH_PAGES pages */
	uint64_t batch_zero, batch_normal; /* not yet in st */
	unsigned nr_entries, nr_data;
	uint64_t pass;
	uint64_t acked_pass;            /* last SYNC_ACK seen */
	unsigned extra_passes;          /* passes made only to shrink the pause */
	uint64_t t0_ns;
	uint64_t payload_bytes;         /* page payload sent, for throughput */
};

const char *vmig_mig_status_name(enum vmig_mig_status s)
{
	switch (s) {
	case VMIG_MIG_NONE: return "none";
	case VMIG_MIG_SETUP: return "setup";
	case VMIG_MIG_ACTIVE: return "active";
	case VMIG_MIG_DEVICE: return "device";
	case VMIG_MIG_COMPLETED: return "completed";
	case VMIG_MIG_FAILED: return "failed";
	case VMIG_MIG_CANCELLED: return "cancelled";
	}
	return "unknown";
}

static void set_status(struct vmig_migration *m, enum vmig_mig_status s)
{
	pthread_mutex_lock(&m->lock);
	m->st.status = s;
	pthread_mutex_unlock(&m->lock);
}

static void update_counters(struct vmig_migration *m)
{
	pthread_mutex_lock(&m->lock);
	m->st.wire_bytes = m->ch.bytes_sent + m->ch.bytes_received;
	m->st.total_ms = (now_ns() - m->t0_ns) / 1000000;
	double secs = (double)(now_ns() - m->t0_ns) / 1e9;
	m->st.throughput_mibs = secs > 0 ? (double)m->st.wire_bytes / secs / 1048576.0 : 0;
	pthread_mutex_unlock(&m->lock);
}

static bool should_stop(struct vmig_migration *m, char *err, size_t errlen)
{
	if (__atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE)) {
		if (!err[0])
			snprintf(err, errlen, "cancelled");
		return true;
	}
	if (m->p.timeout_ms && now_ns() - m->t0_ns > m->p.timeout_ms * 1000000ull) {
		snprintf(err, errlen, "timed out after %llu s without converging",
			 (unsigned long long)(m->p.timeout_ms / 1000));
		return true;
	}
	return false;
}

/*
 * REC_PAGES: {u64 pass, u32 count, u32 codec} + count entries + one hash
 * per normal page + the normal pages' data. The record check covers all
 * but the data; each data page is covered by its own hash, which the
 * destination computes anyway for the RAM digest.
 */
static int flush_batch(struct vmig_migration *m, char *err, size_t errlen)
{
	if (!m->nr_entries)
		return 0;
	uint8_t fixed[16];
	uint32_t count = m->nr_entries, codec = 0;
	memcpy(fixed, &m->pass, 8);
	memcpy(fixed + 8, &count, 4);
	memcpy(fixed + 12, &codec, 4);
	size_t ent_len = (size_t)count * 8, hash_len = (size_t)m->nr_data * 8;
	size_t data_len = (size_t)m->nr_data * VMIG_PAGE_SIZE;
	size_t len = sizeof(fixed) + ent_len + hash_len + data_len;

	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, fixed, sizeof(fixed));
	XXH3_64bits_update(&st, m->entries, ent_len);
	XXH3_64bits_update(&st, m->hashes, hash_len);
	uint8_t hdr[WIRE_HDR_SIZE];
	uint32_t type = REC_PAGES, l = (uint32_t)len;
	uint64_t check = XXH3_64bits_digest(&st);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &l, 4);
	memcpy(hdr + 8, &check, 8);

	struct iovec iov[5] = {
		{hdr, sizeof(hdr)}, {fixed, sizeof(fixed)}, {m->entries, ent_len},
		{m->hashes, hash_len}, {m->data, data_len},
	};
	int r = chan_sendv(&m->ch, iov, 5, err, errlen);
	m->payload_bytes += data_len;
	m->nr_entries = m->nr_data = 0;
	update_counters(m);
	return r;
}

static int add_page(struct vmig_migration *m, uint64_t index, char *err, size_t errlen)
{
	const uint8_t *src = ram_page(&m->ram, index);
	/* Copy first, then hash the copy: the guest may be writing the page
	 * right now, and what we hash must be what we send. */
	uint8_t *dst = m->data + (size_t)m->nr_data * VMIG_PAGE_SIZE;
	if (page_copy_is_zero(dst, src)) {
		m->entries[m->nr_entries++] = index << 1 | WIRE_PAGE_ZERO;
		m->ram.hash[index] = m->ram.zero_hash;
		m->batch_zero++;
	} else {
		uint64_t h = page_hash(dst);
		m->ram.hash[index] = h;
		m->hashes[m->nr_data] = h;
		m->entries[m->nr_entries++] = index << 1;
		m->nr_data++;
		m->batch_normal++;
	}
	if (m->nr_entries == BATCH_PAGES) {
		pthread_mutex_lock(&m->lock);
		m->st.pages_zero += m->batch_zero;
		m->st.pages_normal += m->batch_normal;
		pthread_mutex_unlock(&m->lock);
		m->batch_zero = m->batch_normal = 0;
		return flush_batch(m, err, errlen);
	}
	return 0;
}

static uint64_t count_dirty(struct vmig_migration *m)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < m->ram.nr; i++)
		for (uint64_t w = 0; w < (m->ram.pages[i] + 63) / 64; w++)
			n += (uint64_t)__builtin_popcountll(m->bits[i][w]);
	return n;
}

static int harvest(struct vmig_migration *m, char *err, size_t errlen)
{
	for (unsigned i = 0; i < m->ram.nr; i++) {
		int r = m->g.ops->dirty_harvest(m->g.opaque, i, m->bits[i], err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* Sends every page whose bit is set, clearing the bits. */
static int send_pass(struct vmig_migration *m, bool check_stop, char *err, size_t errlen)
{
	for (unsigned i = 0; i < m->ram.nr; i++) {
		uint64_t pages = m->ram.pages[i];
		for (uint64_t first = 0; first < pages; first += CLEAR_CHUNK_PAGES) {
			uint64_t n = pages - first < CLEAR_CHUNK_PAGES ? pages - first : CLEAR_CHUNK_PAGES;
			uint64_t *w = m->bits[i] + first / 64, words = (n + 63) / 64;
			bool any = false;
			for (uint64_t k = 0; k < words && !any; k++)
				any = w[k] != 0;
			if (!any)
				continue;
			if (check_stop && should_stop(m, err, errlen))
				return -ECANCELED;
			int r = m->g.ops->dirty_clear(m->g.opaque, i, first, n, w, err, errlen);
			if (r)
				return r;
			for (uint64_t k = 0; k < words; k++) {
				uint64_t word = w[k];
				w[k] = 0;
				while (word) {
					unsigned b = (unsigned)__builtin_ctzll(word);
					word &= word - 1;
					r = add_page(m, m->ram.first_page[i] + first + k * 64 + b, err, errlen);
					if (r)
						return r;
				}
			}
			pthread_mutex_lock(&m->lock);
			m->st.pages_sent_this_pass += n;
			pthread_mutex_unlock(&m->lock);
		}
	}
	pthread_mutex_lock(&m->lock);
	m->st.pages_zero += m->batch_zero;
	m->st.pages_normal += m->batch_normal;
	pthread_mutex_unlock(&m->lock);
	m->batch_zero = m->batch_normal = 0;
	int r = flush_batch(m, err, errlen);
	if (r)
		return r;
	uint8_t sync[16];
	uint64_t zero = 0;
	memcpy(sync, &m->pass, 8);
	memcpy(sync + 8, &zero, 8);
	return chan_send_record(&m->ch, REC_SYNC, sync, sizeof(sync), err, errlen);
}

static int expect_record(struct vmig_migration *m, uint32_t want, struct vbuf *payload,
			 int timeout_ms, char *err, size_t errlen)
{
	struct wire_hdr h;
	int r = chan_recv_record(&m->ch, &h, payload, timeout_ms, err, errlen);
	if (r)
		return r;
	if (h.type == REC_ERROR) {
		char msg[WIRE_MAX_STRING];
		wire_decode_error(payload->data, payload->len, msg, sizeof(msg));
		snprintf(err, errlen, "destination failed: %s", msg);
		return -EREMOTEIO;
	}
	if (h.type == REC_SYNC_ACK && want != REC_SYNC_ACK && payload->len == 8) {
		memcpy(&m->acked_pass, payload->data, 8);
		return expect_record(m, want, payload, timeout_ms, err, errlen);
	}
	if (h.type != want) {
		snprintf(err, errlen, "protocol error: expected %s, got %s", wire_type_name(want),
			 wire_type_name(h.type));
		return -EPROTO;
	}
	return 0;
}

static int do_setup(struct vmig_migration *m, char *err, size_t errlen)
{
	int fd, r;
	if ((r = chan_connect(m->uri, CONNECT_TIMEOUT_MS, m->cancel_fd, &fd, err, errlen)))
		return r;
	chan_init(&m->ch, fd, m->cancel_fd, m->p.io_timeout_ms);
	m->ch.max_bandwidth = m->p.max_bandwidth;
	m->connected = true;

	struct wire_hello h = {.magic = WIRE_MAGIC, .version = WIRE_VERSION, .page_size = VMIG_PAGE_SIZE};
	hostinfo_read(&h.host);
	h.nr_regions = m->ram.nr;
	for (unsigned i = 0; i < m->ram.nr; i++)
		h.regions[i] = (struct wire_region){m->ram.r[i].gpa, m->ram.r[i].size};
	h.vmm_config = m->vmm_config;
	h.vmm_config_len = (uint32_t)m->p.vmm_config_len;
	struct vbuf b;
	vbuf_init(&b);
	wire_encode_hello(&b, &h);
	r = b.oom ? -ENOMEM : chan_send_record(&m->ch, REC_HELLO, b.data, b.len, err, errlen);
	if (!r)
		r = expect_record(m, REC_HELLO_ACK, &b, m->p.io_timeout_ms, err, errlen);
	if (!r) {
		struct wire_hello_ack a;
		r = wire_decode_hello_ack(b.data, b.len, &a, err, errlen);
		if (!r && a.status) {
			snprintf(err, errlen, "destination refused the migration: %s", a.message);
			r = -ECONNREFUSED;
		}
	}
	vbuf_free(&b);
	return r;
}

/*
 * Switch over once the expected pause fits the limit, but while each pass
 * still shrinks the dirty set well (to under 60 % of the one before), one
 * more pass costs little and cuts the pause by that ratio: keep going until
 * the pause is expected under an eighth of the limit.
 */
#define SHRINK_PERCENT 60
#define MAX_EXTRA_PASSES 8

static bool switchover_now(struct vmig_migration *m, uint64_t expect_ms, uint64_t dirty,
			   uint64_t prev_dirty)
{
	if (expect_ms > m->p.downtime_limit_ms)
		return false;
	if (expect_ms <= m->p.downtime_limit_ms / 8)
		return true;
	bool shrinking = prev_dirty != UINT64_MAX && dirty * 100 < prev_dirty * SHRINK_PERCENT;
	if (m->pass == 1)
		shrinking = true; /* pass 1 is all of RAM: no trend yet */
	if (!shrinking || ++m->extra_passes > MAX_EXTRA_PASSES)
		return true;
	return false;
}

static int do_precopy(struct vmig_migration *m, char *err, size_t errlen)
{
	int r;
	if ((r = m->g.ops->dirty_start(m->g.opaque, err, errlen)))
		return r;
	m->dirty_on = true;
	/* Pass 1 sends everything; harvesting too drains what the VMM noted. */
	if ((r = harvest(m, err, errlen)))
		return r;
	for (unsigned i = 0; i < m->ram.nr; i++) {
		memset(m->bits[i], 0xff, (m->ram.pages[i] + 63) / 64 * 8);
		if (m->ram.pages[i] % 64)
			m->bits[i][m->ram.pages[i] / 64] = (1ull << (m->ram.pages[i] % 64)) - 1;
	}
	set_status(m, VMIG_MIG_ACTIVE);
	uint64_t prev_dirty = UINT64_MAX;
	for (;;) {
		m->pass++;
		uint64_t pages = count_dirty(m);
		uint64_t t = now_ns(), wire0 = m->ch.bytes_sent;
		pthread_mutex_lock(&m->lock);
		m->st.iterations = m->pass;
		m->st.pages_this_pass = pages;
		m->st.pages_sent_this_pass = 0;
		pthread_mutex_unlock(&m->lock);
		if ((r = send_pass(m, true, err, errlen)))
			return r;
		double secs = (double)(now_ns() - t) / 1e9;
		if ((r = harvest(m, err, errlen)))
			return r;
		uint64_t dirty = count_dirty(m);
		double bw = secs > 0 ? (double)(m->ch.bytes_sent - wire0) / secs : 0;
		/* Time per page of the pass just sent predicts the next one;
		 * zero pages are cheap, so this adapts to the guest's mix. */
		double per_page = pages ? secs / (double)pages : 0;
		uint64_t expect_ms = (uint64_t)(per_page * (double)dirty * 1000.0);
		log_debug("migration pass %llu: %llu pages in %.3f s (%.1f MiB/s on the wire), %llu dirty "
			  "since, expected downtime %llu ms",
			  (unsigned long long)m->pass, (unsigned long long)pages, secs, bw / 1048576.0,
			  (unsigned long long)dirty, (unsigned long long)expect_ms);
		pthread_mutex_lock(&m->lock);
		m->st.bandwidth_mibs = bw / 1048576.0;
		m->st.dirty_rate_mibs = secs > 0 ? (double)dirty * VMIG_PAGE_SIZE / secs / 1048576.0 : 0;
		m->st.remaining_bytes = dirty * VMIG_PAGE_SIZE;
		m->st.expected_downtime_ms = expect_ms;
		pthread_mutex_unlock(&m->lock);
		if (switchover_now(m, expect_ms, dirty, prev_dirty))
			return 0;
		prev_dirty = dirty;
		if (should_stop(m, err, errlen))
			return -ECANCELED;
	}
}

/* Reads SYNC_ACKs until the one for the last pass sent: the destination
 * has then applied everything, so the pause that follows is not spent
 * draining socket buffers. */
static int wait_synced(struct vmig_migration *m, char *err, size_t errlen)
{
	struct vbuf b;
	struct wire_hdr h;
	int r = 0;
	vbuf_init(&b);
	while (m->acked_pass < m->pass) {
		if ((r = chan_recv_record(&m->ch, &h, &b, m->p.io_timeout_ms, err, errlen)))
			break;
		if (h.type == REC_ERROR) {
			char msg[WIRE_MAX_STRING];
			wire_decode_error(b.data, b.len, msg, sizeof(msg));
			snprintf(err, errlen, "destination failed: %s", msg);
			r = -EREMOTEIO;
			break;
		}
		if (h.type != REC_SYNC_ACK || b.len != 8) {
			snprintf(err, errlen, "protocol error: expected SYNC_ACK, got %s", wire_type_name(h.type));
			r = -EPROTO;
			break;
		}
		memcpy(&m->acked_pass, b.data, 8);
	}
	vbuf_free(&b);
	return r;
}

static int do_switchover(struct vmig_migration *m, char *err, size_t errlen)
{
	struct vbuf b;
	int r;

	if ((r = wait_synced(m, err, errlen)))
		return r;
	set_status(m, VMIG_MIG_DEVICE);
	uint64_t alive_before = 0;
	if ((r = m->g.ops->pause(m->g.opaque))) {
		snprintf(err, errlen, "cannot pause the guest: %s", strerror(-r));
		return r;
	}
	m->paused = true;
	uint64_t t_pause = now_ns();
	if (m->g.ops->last_alive_ns)
		alive_before = m->g.ops->last_alive_ns(m->g.opaque);

	m->pass++;
	pthread_mutex_lock(&m->lock);
	m->st.iterations = m->pass;
	pthread_mutex_unlock(&m->lock);
	if ((r = harvest(m, err, errlen)) || (r = send_pass(m, false, err, errlen)))
		return r;
	uint64_t t_sent = now_ns();

	uint8_t *state = NULL;
	size_t state_len = 0;
	if ((r = m->g.ops->save_state(m->g.opaque, &state, &state_len, err, errlen)))
		return r;
	if (state_len > WIRE_MAX_PAYLOAD) {
		free(state);
		snprintf(err, errlen, "device state too large (%zu bytes)", state_len);
		return -E2BIG;
	}
	r = chan_send_record(&m->ch, REC_STATE, state, state_len, err, errlen);
	free(state);
	if (r)
		return r;
	uint8_t dig[16];
	uint64_t digest = ram_digest(&m->ram), total = m->ram.total_pages;
	memcpy(dig, &digest, 8);
	memcpy(dig + 8, &total, 8);
	if ((r = chan_send_record(&m->ch, REC_DIGEST, dig, sizeof(dig), err, errlen)) ||
	    (r = chan_send_record(&m->ch, REC_COMPLETE, NULL, 0, err, errlen)))
		return r;

	uint64_t t_state = now_ns();
	vbuf_init(&b);
	r = expect_record(m, REC_READY, &b, READY_TIMEOUT_MS, err, errlen);
	if (r) {
		vbuf_free(&b);
		return r;
	}
	uint64_t t_ready = now_ns();
	/* Last chance to back out: after GO the guest belongs to the destination. */
	if (__atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE)) {
		vbuf_free(&b);
		snprintf(err, errlen, "cancelled");
		return -ECANCELED;
	}
	if ((r = chan_send_record(&m->ch, REC_GO, NULL, 0, err, errlen))) {
		vbuf_free(&b);
		return r;
	}
	m->go_sent = true;
	pthread_mutex_lock(&m->lock);
	m->st.verified = true;
	pthread_mutex_unlock(&m->lock);

	/* Confirmation is for the report only: the handover has happened. */
	char e2[256] = "";
	if (expect_record(m, REC_RESUMED, &b, RESUMED_TIMEOUT_MS, e2, sizeof(e2)) == 0) {
		uint64_t t_resumed = now_ns();
		log_debug("switchover: final pages %.1f ms, state+digest %.1f ms, READY after %.1f ms, "
			  "RESUMED after %.1f ms",
			  (t_sent - t_pause) / 1e6, (t_state - t_sent) / 1e6, (t_ready - t_state) / 1e6,
			  (t_resumed - t_ready) / 1e6);
		pthread_mutex_lock(&m->lock);
		m->st.downtime_ms = (t_resumed - t_pause) / 1000000;
		pthread_mutex_unlock(&m->lock);
		if (expect_record(m, REC_ALIVE, &b, ALIVE_TIMEOUT_MS, e2, sizeof(e2)) == 0 &&
		    b.len >= 8 && alive_before) {
			uint64_t first;
			memcpy(&first, b.data, 8);
			pthread_mutex_lock(&m->lock);
			m->st.guest_downtime_ms =
				first > alive_before ? (int64_t)((first - alive_before) / 1000000) : 0;
			pthread_mutex_unlock(&m->lock);
		}
	} else {
		pthread_mutex_lock(&m->lock);
		m->st.downtime_ms = (now_ns() - t_pause) / 1000000;
		snprintf(m->st.error, sizeof(m->st.error),
			 "handed over, but the destination did not confirm its resume: %s", e2);
		pthread_mutex_unlock(&m->lock);
	}
	vbuf_free(&b);
	return 0;
}

static void *migration_thread(void *arg)
{
	struct vmig_migration *m = arg;
	char err[512] = "";
	uint64_t t_setup = now_ns();
	int r;

	pthread_setname_np(pthread_self(), "mig-src");
	r = do_setup(m, err, sizeof(err));
	pthread_mutex_lock(&m->lock);
	m->st.setup_ms = (now_ns() - t_setup) / 1000000;
	pthread_mutex_unlock(&m->lock);
	if (!r)
		r = do_precopy(m, err, sizeof(err));
	if (!r)
		r = do_switchover(m, err, sizeof(err));

	if (r && !m->go_sent) {
		/* Nothing is lost: the guest keeps running here. */
		if (m->connected) {
			struct vbuf b;
			char ign[64];
			vbuf_init(&b);
			wire_encode_error(&b, r, err);
			m->ch.io_timeout_ms = 1000;
			chan_send_record(&m->ch, REC_ERROR, b.data, b.len, ign, sizeof(ign));
			vbuf_free(&b);
		}
		if (m->dirty_on)
			m->g.ops->dirty_stop(m->g.opaque);
		if (m->paused)
			m->g.ops->resume(m->g.opaque);
		m->paused = false;
	} else if (m->dirty_on) {
		m->g.ops->dirty_stop(m->g.opaque);
	}
	if (m->connected)
		chan_close(&m->ch);
	update_counters(m);
	pthread_mutex_lock(&m->lock);
	if (r && !m->go_sent) {
		bool cancelled = __atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE);
		m->st.status = r == -ECANCELED && cancelled ? VMIG_MIG_CANCELLED : VMIG_MIG_FAILED;
		snprintf(m->st.error, sizeof(m->st.error), "%s", err);
	} else {
		m->st.status = VMIG_MIG_COMPLETED;
	}
	struct vmig_migrate_stats final = m->st;
	pthread_mutex_unlock(&m->lock);
	if (m->p.done)
		m->p.done(m->p.opaque, &final);
	return NULL;
}

int vmig_migration_start(const struct vmig_guest *guest, const struct vmig_migrate_params *p,
			 struct vmig_migration **out, char *err, size_t errlen)
{
	struct vmig_migration *m = calloc(1, sizeof(*m));
	int r;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char host[256], port[16];
	if ((r = chan_parse_uri(p->uri, host, sizeof(host), port, sizeof(port), err, errlen))) {
		free(m);
		return r;
	}
	m->g = *guest;
	m->p = *p;
	snprintf(m->uri, sizeof(m->uri), "%s", p->uri);
	m->p.uri = m->uri;
	if (!m->p.downtime_limit_ms)
		m->p.downtime_limit_ms = 300;
	if (m->p.io_timeout_ms <= 0)
		m->p.io_timeout_ms = 5000;
	m->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&m->lock, NULL);
	m->st.status = VMIG_MIG_SETUP;
	m->st.guest_downtime_ms = -1;
	m->data = malloc((size_t)BATCH_PAGES * VMIG_PAGE_SIZE);
	if (p->vmm_config_len) {
		m->vmm_config = malloc(p->vmm_config_len);
		if (m->vmm_config)
			memcpy(m->vmm_config, p->vmm_config, p->vmm_config_len);
	}
	if (m->cancel_fd < 0 || !m->data || (p->vmm_config_len && !m->vmm_config)) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if ((r = ram_map_init(&m->ram, guest, err, errlen)))
		goto fail;
	m->st.ram_bytes = m->ram.total_pages * VMIG_PAGE_SIZE;
	for (unsigned i = 0; i < m->ram.nr; i++) {
		m->bits[i] = calloc((m->ram.pages[i] + 63) / 64, 8);
		if (!m->bits[i]) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
			goto fail;
		}
	}
	m->t0_ns = now_ns();
	if ((r = pthread_create(&m->thread, NULL, migration_thread, m))) {
		snprintf(err, errlen, "cannot start the migration thread: %s", strerror(r));
		r = -r;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	m->thread = 0;
	vmig_migration_free(m);
	return r;
}

void vmig_migration_cancel(struct vmig_migration *m)
{
	uint64_t one = 1;
	__atomic_store_n(&m->cancelled, true, __ATOMIC_RELEASE);
	if (write(m->cancel_fd, &one, sizeof(one)) < 0) {
		/* the flag alone still stops it at the next batch */
	}
}

void vmig_migration_query(struct vmig_migration *m, struct vmig_migrate_stats *s)
{
	pthread_mutex_lock(&m->lock);
	*s = m->st;
	if (s->status != VMIG_MIG_COMPLETED && s->status != VMIG_MIG_FAILED &&
	    s->status != VMIG_MIG_CANCELLED)
		s->total_ms = (now_ns() - m->t0_ns) / 1000000;
	pthread_mutex_unlock(&m->lock);
}

void vmig_migration_free(struct vmig_migration *m)
{
	if (!m)
		return;
	if (m->thread)
		pthread_join(m->thread, NULL);
	for (unsigned i = 0; i < VMIG_MAX_RAM_REGIONS; i++)
		free(m->bits[i]);
	ram_map_free(&m->ram);
	free(m->data);
	free(m->vmm_config);
	if (m->cancel_fd >= 0)
		close(m->cancel_fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

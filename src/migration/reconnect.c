/* SPDX-License-Identifier: MIT */
/*
 * Resume after a broken link, before the handover (docs/protocol.md,
 * "Resuming a session"). The guest keeps running and its dirty log keeps
 * filling; every channel is closed and opened again through the same
 * connect path as the first time, the main one with a HELLO that resumes
 * the session; the destination answers with the last pass it holds
 * completely, and everything sent after that pass (sentlog.h) is marked
 * dirty again, so the next pass sends it with whatever the guest wrote
 * meanwhile.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "migration/sender_internal.h"

#define RECONNECT_FIRST_MS 100  /* first wait before trying again */
#define RECONNECT_MAX_MS 2000   /* the wait doubles up to this */

bool reconnect_possible(struct vmig_migration *m, int r)
{
	/* connections the caller brought cannot be opened again */
	return m->p.resume_timeout_ms && !m->nr_byo_fds && !m->paused &&
	       !__atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE) && chan_error_is_link_loss(r);
}

/* Byte counters survive the connections they were counted on. */
struct link_bytes {
	uint64_t sent[VMIG_MAX_DATA_CHANNELS + 1], received[VMIG_MAX_DATA_CHANNELS + 1];
};

static struct channel *link_of(struct vmig_migration *m, unsigned i)
{
	return i == 0 ? &m->ch : &m->streams[i - 1].own;
}

static void close_links(struct vmig_migration *m, struct link_bytes *keep)
{
	for (unsigned i = 0; i <= m->nr_channels; i++) {
		struct channel *c = link_of(m, i);
		if (keep) {
			keep->sent[i] += __atomic_load_n(&c->bytes_sent, __ATOMIC_RELAXED);
			keep->received[i] += __atomic_load_n(&c->bytes_received, __ATOMIC_RELAXED);
		}
		chan_close(c);
		__atomic_store_n(&c->bytes_sent, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&c->bytes_received, 0, __ATOMIC_RELAXED);
	}
	m->connected = false;
}

/* A stream that failed woke the others through the cancel eventfd
 * (migration_abort): empty it, or every new connection would see it. */
static void drain_abort(struct vmig_migration *m)
{
	uint64_t v;
	if (read(m->cancel_fd, &v, sizeof(v)) < 0) {
		/* nothing was pending */
	}
}

/* Every channel again; *ack: what the destination holds. */
static int try_reconnect(struct vmig_migration *m, struct wire_hello_ack *ack, char *err,
			 size_t errlen)
{
	int r = migration_open_main(m, true, ack, err, errlen);
	for (unsigned i = 0; !r && i < m->nr_channels; i++)
		r = migration_open_data_channel(m, i, err, errlen);
	return r;
}

/* Sleeps ms unless cancelled meanwhile: -ECANCELED then. */
static int backoff_wait(struct vmig_migration *m, uint64_t ms)
{
	struct pollfd p = {.fd = m->cancel_fd, .events = POLLIN};
	poll(&p, 1, (int)ms);
	return __atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE) ? -ECANCELED : 0;
}

/* Time lost so far (all outages) counts in the status as it goes. */
static void note_attempt(struct vmig_migration *m, uint64_t t0, uint64_t lost_before_ms)
{
	pthread_mutex_lock(&m->lock);
	m->st.reconnect_attempts++;
	m->st.reconnect_ms = lost_before_ms + (now_ns() - t0) / 1000000;
	m->st.status = VMIG_MIG_RECONNECTING;
	snprintf(m->st.error, sizeof(m->st.error), "link lost %llu ms ago: reconnecting",
		 (unsigned long long)((now_ns() - t0) / 1000000));
	pthread_mutex_unlock(&m->lock);
}

/* Tries until a connection resumes the session or the window closes. */
static int reconnect_loop(struct vmig_migration *m, const char *why, uint64_t t0,
			  struct wire_hello_ack *ack, char *err, size_t errlen)
{
	uint64_t wait = RECONNECT_FIRST_MS, limit_ns = m->p.resume_timeout_ms * 1000000ull;
	char last[512] = "";
	pthread_mutex_lock(&m->lock);
	uint64_t lost_before = m->st.reconnect_ms;
	pthread_mutex_unlock(&m->lock);
	for (;;) {
		if (__atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE)) {
			snprintf(err, errlen, "cancelled while reconnecting");
			return -ECANCELED;
		}
		note_attempt(m, t0, lost_before);
		int r = try_reconnect(m, ack, last, sizeof(last));
		if (!r)
			return 0;
		close_links(m, NULL);
		drain_abort(m);
		/* A refusal may come from a destination still taking the last
		 * try's data channels: it waits for a resume again after them. */
		if (!chan_error_is_link_loss(r) && r != -EPERM && r != -EREMOTEIO) {
			snprintf(err, errlen, "link lost (%s); resuming failed: %s", why, last);
			return r;
		}
		log_debug("reconnect: %s", last);
		if (now_ns() - t0 + wait * 1000000ull > limit_ns) {
			snprintf(err, errlen, "link lost (%s) and not back within %llu s (last try: %s)",
				 why, (unsigned long long)(m->p.resume_timeout_ms / 1000), last);
			return -ETIMEDOUT;
		}
		if (backoff_wait(m, wait)) {
			snprintf(err, errlen, "cancelled while reconnecting");
			return -ECANCELED;
		}
		wait = wait * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : wait * 2;
	}
}

/*
 * Pages of pass held + 1 that reached the destination whole (each stream
 * sends its pages in increasing order, and the destination said up to
 * where it applied them) need not go again; returns how many.
 */
static uint64_t forget_delivered(struct vmig_migration *m, const struct wire_hello_ack *a)
{
	uint64_t *bits[VMIG_MAX_RAM_REGIONS], chunk = 0, n = 0;
	if (a->nr_progress != m->nr_streams || !sentlog_pass_bits(&m->sent, a->resume_pass + 1, bits))
		return 0;
	for (unsigned i = 0; i < m->ram.nr; i++)
		for (uint64_t first = 0; first < m->ram.pages[i]; first += CLEAR_CHUNK_PAGES, chunk++) {
			/* the channels in use changed only after passes all confirmed */
			uint64_t upto = a->progress[chunk % m->active_streams];
			uint64_t end = first + CLEAR_CHUNK_PAGES < m->ram.pages[i] ? first + CLEAR_CHUNK_PAGES
										     : m->ram.pages[i];
			for (uint64_t p = first; p < end && m->ram.first_page[i] + p < upto; p++) {
				uint64_t bit = 1ull << (p % 64);
				n += (bits[i][p / 64] & bit) != 0;
				bits[i][p / 64] &= ~bit;
			}
		}
	return n;
}

int reconnect_after_break(struct vmig_migration *m, char *err, size_t errlen)
{
	char why[512];
	struct link_bytes keep = {0};
	struct wire_hello_ack ack;
	uint64_t t0 = now_ns();
	pthread_mutex_lock(&m->lock);
	uint64_t lost_before_ms = m->st.reconnect_ms;
	pthread_mutex_unlock(&m->lock);
	snprintf(why, sizeof(why), "%s", err);
	err[0] = 0;
	log_warn("migration link lost in pass %llu (%s): reconnecting for up to %llu s",
		 (unsigned long long)m->pass, why, (unsigned long long)(m->p.resume_timeout_ms / 1000));
	close_links(m, &keep);
	drain_abort(m);
	int r = 0;
	for (unsigned i = 0; i < m->nr_streams && !r; i++)
		r = stream_reset_after_break(&m->streams[i]);
	if (r) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if ((r = reconnect_loop(m, why, t0, &ack, err, errlen)))
		return r;
	uint64_t held = ack.resume_pass, arrived = forget_delivered(m, &ack);
	for (unsigned i = 0; i <= m->nr_channels; i++) {
		__atomic_fetch_add(&link_of(m, i)->bytes_sent, keep.sent[i], __ATOMIC_RELAXED);
		__atomic_fetch_add(&link_of(m, i)->bytes_received, keep.received[i], __ATOMIC_RELAXED);
	}
	uint64_t again = sentlog_resend(&m->sent, held, m->bits);
	uint64_t from = m->pass;
	m->pass = held; /* the next pass is held + 1 on every stream */
	for (unsigned i = 0; i < m->nr_streams; i++)
		m->streams[i].acked_pass = held;
	uint64_t lost_ms = (now_ns() - t0) / 1000000;
	pthread_mutex_lock(&m->lock);
	m->st.reconnect_ms = lost_before_ms + lost_ms;
	m->st.resumes++;
	m->st.status = VMIG_MIG_ACTIVE;
	m->st.error[0] = 0;
	pthread_mutex_unlock(&m->lock);
	log_info("migration resumed after %llu ms: the destination holds pass %llu of %llu and "
		 "%llu pages of the next; %llu pages sent again", (unsigned long long)lost_ms,
		 (unsigned long long)held, (unsigned long long)from, (unsigned long long)arrived,
		 (unsigned long long)again);
	return 0;
}

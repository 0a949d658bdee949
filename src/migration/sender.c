/* SPDX-License-Identifier: MIT */
/*
 * Migration source: setup, pre-copy passes, stop-and-copy, handover,
 * on the migration's own thread (sender_start.c makes the migration and
 * starts it).
 *
 * Each pass: harvest the dirty log into a bitmap, let every page stream
 * (pagesend.c; one per data channel, each on its own thread, or the main
 * channel alone) send its share, wait for all of them, decide whether to
 * switch over.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "common/buf.h"
#include "common/log.h"
#include "migration/acks.h"
#include "migration/active_channels.h"
#include "migration/autopolicy.h"
#include "migration/channel.h"
#include "migration/converge.h"
#include "migration/hotpages.h"
#include "migration/linkprobe.h"
#include "host/probe.h"
#include "migration/ram.h"
#include "migration/sender_internal.h"
#include "migration/wire.h"
#include "vmig/migration.h"

#define CONNECT_TIMEOUT_MS 10000
#define READY_TIMEOUT_MS 60000
#define ALIVE_TIMEOUT_MS 3000

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
	case VMIG_MIG_UNCONFIRMED: return "unconfirmed";
	case VMIG_MIG_RECONNECTING: return "reconnecting";
	}
	return "unknown";
}

static void set_status(struct vmig_migration *m, enum vmig_mig_status s)
{
	pthread_mutex_lock(&m->lock);
	m->st.status = s;
	pthread_mutex_unlock(&m->lock);
}

void migration_update_counters(struct vmig_migration *m)
{
	uint64_t bytes = __atomic_load_n(&m->ch.bytes_sent, __ATOMIC_RELAXED) +
			 __atomic_load_n(&m->ch.bytes_received, __ATOMIC_RELAXED);
	for (unsigned i = 0; m->nr_channels && i < m->nr_streams; i++)
		bytes += __atomic_load_n(&m->streams[i].own.bytes_sent, __ATOMIC_RELAXED) +
			 __atomic_load_n(&m->streams[i].own.bytes_received, __ATOMIC_RELAXED);
	pthread_mutex_lock(&m->lock);
	m->st.nr_channels = m->nr_channels;
	for (unsigned i = 0; i < m->nr_channels && i < 16; i++)
		m->st.channel_bytes[i] = __atomic_load_n(&m->streams[i].own.bytes_sent, __ATOMIC_RELAXED);
	m->st.wire_bytes = bytes;
	m->st.total_ms = (now_ns() - m->t0_ns) / 1000000;
	double secs = (double)(now_ns() - m->t0_ns) / 1e9;
	m->st.throughput_mibs = secs > 0 ? (double)m->st.wire_bytes / secs / 1048576.0 : 0;
	pthread_mutex_unlock(&m->lock);
}

bool migration_should_stop(struct vmig_migration *m, char *err, size_t errlen)
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

void migration_abort(struct vmig_migration *m)
{
	uint64_t one = 1;
	if (write(m->cancel_fd, &one, sizeof(one)) < 0) {
		/* nothing more to do: streams also stop at their next chunk */
	}
}

static uint64_t count_dirty(struct vmig_migration *m)
{
	return ram_bits_count(&m->ram, m->bits);
}

static int harvest(struct vmig_migration *m, char *err, size_t errlen)
{
	for (unsigned i = 0; i < m->ram.nr; i++) {
		int r = m->g.ops->dirty_harvest(m->g.opaque, i, m->bits[i], err, errlen);
		if (r)
			return r;
		if (!m->carry[i])
			continue;
		for (uint64_t w = 0; w < vmig_bitmap_words(m->ram.pages[i]); w++)
			m->bits[i][w] |= m->carry[i][w];
		free(m->carry[i]);
		m->carry[i] = NULL;
	}
	return 0;
}

/* Starts pass m->pass + 1 over the pages in the bitmap; returns their count. */
static uint64_t begin_pass(struct vmig_migration *m)
{
	uint64_t pages = count_dirty(m);
	m->pass++;
	pthread_mutex_lock(&m->lock);
	m->st.iterations = m->pass;
	m->st.pages_this_pass = pages;
	m->st.pages_sent_this_pass = 0;
	m->st.remaining_bytes = pages * VMIG_PAGE_SIZE; /* falls as the streams send */
	pthread_mutex_unlock(&m->lock);
	return pages;
}

/* One pass over all streams: inline on the main channel, or handed to the
 * data channels' threads. Returns the first real error (not the
 * "cancelled" the other streams see once one failed). */
static int run_pass(struct vmig_migration *m, bool check_stop, char *err, size_t errlen)
{
	if (!m->nr_channels)
		return stream_send_pass(&m->streams[0], check_stop, err, errlen);

	pthread_mutex_lock(&m->work_lock);
	m->work_done = 0;
	m->work_check_stop = check_stop;
	m->work_gen++;
	pthread_cond_broadcast(&m->work_cond);
	while (m->work_done < m->nr_streams)
		pthread_cond_wait(&m->work_cond, &m->work_lock);
	pthread_mutex_unlock(&m->work_lock);

	int r = 0;
	for (unsigned i = 0; i < m->nr_streams; i++) {
		struct src_chan *c = &m->streams[i];
		if (c->result && (!r || (r == -ECANCELED && c->result != -ECANCELED))) {
			r = c->result;
			snprintf(err, errlen, "%s", c->err);
		}
	}
	if (r == -ECANCELED && !__atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE) && !err[0])
		snprintf(err, errlen, "aborted");
	return r;
}

/* The destination's figures, for the planner: the latest report wins. */
void migration_note_dest_host(struct vmig_migration *m, const struct wire_host_info *hi)
{
	pthread_mutex_lock(&m->lock);
	m->dest_host = *hi;
	m->dest_host_ns = now_ns();
	pthread_mutex_unlock(&m->lock);
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
		wire_decode_error(payload->data, payload->len, NULL, msg, sizeof(msg));
		snprintf(err, errlen, "destination failed: %s", msg);
		return -EREMOTEIO;
	}
	if (h.type == REC_SYNC_ACK && want != REC_SYNC_ACK && !m->nr_channels) {
		if ((r = acks_take_sync_ack(m, &m->streams[0], payload->data, payload->len, err,
					    errlen)))
			return r;
		return expect_record(m, want, payload, timeout_ms, err, errlen);
	}
	if (h.type != want) {
		snprintf(err, errlen, "protocol error: expected %s, got %s", wire_type_name(want),
			 wire_type_name(h.type));
		return -EPROTO;
	}
	return 0;
}

/* Connection idx (0: main): one the caller brought, or a new one to the URI. */
static int open_connection(struct vmig_migration *m, unsigned idx, int *fd, char *err,
			   size_t errlen)
{
	if (!m->nr_byo_fds)
		return chan_connect(m->uri, CONNECT_TIMEOUT_MS, m->cancel_fd, fd, err, errlen);
	*fd = m->byo_fds[idx];
	m->byo_fds[idx] = -1; /* the channel owns it now */
	int fl = fcntl(*fd, F_GETFL);
	if (fl < 0 || fcntl(*fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(*fd);
		snprintf(err, errlen, "connection %u given by the caller: %s", idx, strerror(e));
		return -e;
	}
	return 0;
}

/* TLS handshake on a new connection; the main one's says which path sends. */
static int start_tls(struct vmig_migration *m, struct channel *c, char *err, size_t errlen)
{
	int r = chan_start_tls(c, m->tls, err, errlen);
	if (r || c != &m->ch)
		return r;
	char desc[sizeof(m->st.tls)];
	tls_conn_describe(c->tls, desc, sizeof(desc));
	log_info("migration: %s", desc);
	pthread_mutex_lock(&m->lock);
	snprintf(m->st.tls, sizeof(m->st.tls), "%s", desc);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int migration_open_main(struct vmig_migration *m, bool resume, struct wire_hello_ack *ack,
			char *err, size_t errlen)
{
	int fd, r;
	if ((r = open_connection(m, 0, &fd, err, errlen)))
		return r;
	chan_init(&m->ch, fd, m->cancel_fd, m->p.io_timeout_ms);
	m->ch.max_bandwidth = m->p.max_bandwidth;
	m->connected = true;
	if (m->tls && (r = start_tls(m, &m->ch, err, errlen)))
		return r;

	struct wire_hello h = {.magic = WIRE_MAGIC, .version = WIRE_VERSION, .page_size = VMIG_PAGE_SIZE,
			       .nr_channels = m->nr_channels, .session = m->session,
			       .features = resume ? WIRE_FEATURE_RESUME : 0};
	host_probe_get(m->probe, &h.host, NULL); /* sampled in the background: no wait */
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
		struct wire_hello_ack *a = ack;
		r = wire_decode_hello_ack(b.data, b.len, a, err, errlen);
		if (!r && a->status) {
			snprintf(err, errlen, "destination refused the migration: %s", a->message);
			/* a refused resume is final, not a link to try again */
			r = resume ? -EPERM : -ECONNREFUSED;
		}
		if (!r && resume && a->resume_pass > m->pass) {
			snprintf(err, errlen, "destination claims pass %llu, only %llu were sent",
				 (unsigned long long)a->resume_pass, (unsigned long long)m->pass);
			r = -EPROTO;
		}
		if (!r) {
			migration_note_dest_host(m, &a->host);
			m->session_on = true;
		}
	}
	vbuf_free(&b);
	return r;
}

int migration_open_data_channel(struct vmig_migration *m, unsigned i, char *err, size_t errlen)
{
	struct src_chan *c = &m->streams[i];
	int fd, r;
	if ((r = open_connection(m, i + 1, &fd, err, errlen)))
		return r;
	chan_init(&c->own, fd, m->cancel_fd, m->p.io_timeout_ms);
	/* the bandwidth cap is shared out evenly among the channels in use */
	c->own.max_bandwidth = active_channels_bandwidth(m);
	if (m->tls && (r = start_tls(m, &c->own, err, errlen)))
		return r;
	uint8_t ch[WIRE_CHANNEL_HELLO_SIZE];
	wire_encode_channel_hello(ch, &(struct wire_channel_hello){m->session, i});
	return chan_send_record(&c->own, REC_CHANNEL_HELLO, ch, sizeof(ch), err, errlen);
}

static int do_setup(struct vmig_migration *m, char *err, size_t errlen)
{
	struct wire_hello_ack ack;
	int r;
	if ((r = migration_open_main(m, false, &ack, err, errlen)))
		return r;
	active_channels_after_hello(m, ack.features);
	/* Data channels: each opens with CHANNEL_HELLO and gets a thread. */
	for (unsigned i = 0; i < m->nr_channels; i++) {
		struct src_chan *c = &m->streams[i];
		if ((r = migration_open_data_channel(m, i, err, errlen)))
			return r;
		if ((r = pthread_create(&c->thread, NULL, stream_thread, c))) {
			snprintf(err, errlen, "cannot start a channel thread: %s", strerror(r));
			return -r;
		}
		c->thread_on = true;
	}
	return 0;
}

static uint64_t wire_sent(struct vmig_migration *m)
{
	uint64_t n = __atomic_load_n(&m->ch.bytes_sent, __ATOMIC_RELAXED);
	for (unsigned i = 0; m->nr_channels && i < m->nr_streams; i++)
		n += __atomic_load_n(&m->streams[i].own.bytes_sent, __ATOMIC_RELAXED);
	return n;
}

/* The last pass every stream's SYNC_ACK confirmed. */
static uint64_t acked_by_all(const struct vmig_migration *m)
{
	uint64_t p = UINT64_MAX;
	for (unsigned i = 0; i < m->nr_streams; i++)
		p = m->streams[i].acked_pass < p ? m->streams[i].acked_pass : p;
	return p;
}

/* A pass failed with r: resumes after a lost link (0: go on with the
 * next pass), or returns r. */
static int resume_or_fail(struct vmig_migration *m, int r, char *err, size_t errlen)
{
	if (!reconnect_possible(m, r))
		return r;
	/* the guest ran on: what it wrote meanwhile joins the resent pages */
	if ((r = reconnect_after_break(m, err, errlen)))
		return r;
	return harvest(m, err, errlen);
}

/* The pauses the switchover allows: the caller's limit; under the auto
 * policy, while the throttle can still rise, a set that stopped shrinking
 * waits (a pass or more, bounded) for one under SWITCHOVER_GOAL_MS. */
static struct switchover_limits switchover_limits_of(const struct vmig_migration *m)
{
	uint64_t limit = m->p.downtime_limit_ms, goal = limit;
	if (m->p.policy == VMIG_POLICY_AUTO && converge_can_tighten(m) && goal > SWITCHOVER_GOAL_MS)
		goal = SWITCHOVER_GOAL_MS;
	return (struct switchover_limits){.limit_ms = limit, .goal_ms = goal};
}

/*
 * The expected downtime again once the pass is acknowledged: 1 to switch
 * over now, 0 to go on (by switchover_now's rule, from the pass just
 * acknowledged to what is dirty now: a set still shrinking well gets
 * another pass rather than a pause of up to the limit), or an error.
 * Timed to the acknowledgements, because a pass that fits in the socket
 * buffers (a few MiB per channel) has only left them when the sender is
 * done with it: its time per page can read a hundred times too fast on a
 * slow link (a 1 s pause expected as 4 ms, two data channels at 8 MiB/s).
 * And harvested again, because what the guest wrote while the
 * acknowledgements came goes in the final pass too.
 */
static int switchover_still_fits(struct vmig_migration *m, uint64_t full_pass, uint64_t pages,
				 double acked_secs, uint64_t *dirty_out, char *err, size_t errlen)
{
	int r = harvest(m, err, errlen);
	if (r)
		return r;
	uint64_t dirty = *dirty_out = count_dirty(m);
	uint64_t ms = switchover_expected_ms(acked_secs, pages, dirty);
	pthread_mutex_lock(&m->lock);
	m->st.remaining_bytes = dirty * VMIG_PAGE_SIZE;
	m->st.expected_downtime_ms = ms;
	pthread_mutex_unlock(&m->lock);
	struct switchover_limits l = switchover_limits_of(m);
	if (switchover_now(&m->switchover, &l, full_pass, ms, dirty, pages))
		return 1;
	log_debug("migration pass %llu: acknowledged after %.3f s with %llu pages dirty, expected "
		  "downtime %llu ms: not yet", (unsigned long long)m->pass, acked_secs,
		  (unsigned long long)dirty, (unsigned long long)ms);
	return 0;
}

/* Pass 1's start: dirty logging on, every page marked to go, the pages
 * the guest is writing left out, a link probe held back if wanted. */
static int precopy_start(struct vmig_migration *m, bool *probe, char *err, size_t errlen)
{
	int r;
	if ((r = m->g.ops->dirty_start(m->g.opaque, err, errlen)))
		return r;
	m->dirty_on = true;
	/* Pass 1 sends everything; harvesting too drains what the VMM noted. */
	if ((r = harvest(m, err, errlen)))
		return r;
	for (unsigned i = 0; i < m->ram.nr; i++) {
		memset(m->bits[i], 0xff, vmig_bitmap_words(m->ram.pages[i]) * 8);
		if (m->ram.pages[i] % 64)
			m->bits[i][m->ram.pages[i] / 64] = (1ull << (m->ram.pages[i] % 64)) - 1;
	}
	if ((r = hot_pages_leave_out(m, err, errlen)))
		return r;
	*probe = link_probe_wanted(m);
	if (*probe && (r = link_probe_hold_back(m, err, errlen)))
		return r;
	set_status(m, VMIG_MIG_ACTIVE);
	return 0;
}

/* A pass's figures, for query-migrate and the debug log. */
static void note_pass(struct vmig_migration *m, uint64_t pages, double secs, uint64_t wire,
		      uint64_t dirty, bool dirty_is_rate, uint64_t expect_ms)
{
	double bw = secs > 0 ? (double)wire / secs : 0;
	log_debug("migration pass %llu: %llu pages in %.3f s (%.1f MiB/s on the wire), %llu dirty "
		  "since, expected downtime %llu ms",
		  (unsigned long long)m->pass, (unsigned long long)pages, secs, bw / 1048576.0,
		  (unsigned long long)dirty, (unsigned long long)expect_ms);
	pthread_mutex_lock(&m->lock);
	m->st.bandwidth_mibs = bw / 1048576.0;
	m->st.dirty_rate_mibs =
		dirty_is_rate && secs > 0 ? (double)dirty * VMIG_PAGE_SIZE / secs / 1048576.0 : 0;
	m->st.remaining_bytes = dirty * VMIG_PAGE_SIZE;
	m->st.expected_downtime_ms = expect_ms;
	pthread_mutex_unlock(&m->lock);
}

/* How a pass ended, for do_precopy's loop (errors are negative). */
enum pass_end {
	PASS_GO_ON,   /* throttle, re-plan, next pass */
	PASS_SWITCH,  /* pause the guest and hand over */
	PASS_RESUMED, /* a lost link was resumed: next pass, no trend to compare */
};

/*
 * The link probe (pass 1 when the link is unannounced), timed to the
 * destination's acknowledgement: a probe may fit in the socket buffers,
 * and leaving them is not crossing the link. What is dirty now is mostly
 * what the probe held back: neither a trend nor a dirty rate.
 */
static int after_probe(struct vmig_migration *m, uint64_t t, uint64_t wire0, char *err,
		       size_t errlen)
{
	int r = acks_wait_all(m, err, errlen);
	if (!r)
		r = autopolicy_after_probe(m, (double)(now_ns() - t) / 1e9, wire_sent(m) - wire0, err,
					   errlen);
	if (r && (r = resume_or_fail(m, r, err, errlen)))
		return r;
	link_probe_defer_hot(m);
	return 0;
}

/*
 * Whether to switch over after a pass that began at t (now_ns). When it
 * waited for the acknowledgements and went on ("not yet"), *dirty and
 * *secs become what was dirty then and the time to the acknowledgement:
 * the throttle judges the pass by those, not by the few ms a small pass
 * took to enter the socket buffers, in which the guest dirtied nothing.
 */
static int switchover_decision(struct vmig_migration *m, uint64_t full_pass, uint64_t pages,
			       uint64_t expect_ms, uint64_t *dirty, double *secs,
			       uint64_t prev_dirty, uint64_t t, char *err, size_t errlen)
{
	struct switchover_limits l = switchover_limits_of(m);
	if (!switchover_now(&m->switchover, &l, full_pass, expect_ms, *dirty, prev_dirty))
		return PASS_GO_ON;
	/* the guest still runs: a link lost here is resumed too */
	int r = acks_wait_all(m, err, errlen);
	if (r)
		return (r = resume_or_fail(m, r, err, errlen)) ? r : PASS_RESUMED;
	*secs = (double)(now_ns() - t) / 1e9;
	r = switchover_still_fits(m, full_pass, pages, *secs, dirty, err, errlen);
	return r < 0 ? r : r ? PASS_SWITCH : PASS_GO_ON;
}

/* Throttle and re-plan from a pass that did not end in a switchover. */
static int after_pass(struct vmig_migration *m, uint64_t pages, uint64_t dirty, uint64_t wire,
		      double secs, char *err, size_t errlen)
{
	converge_after_pass(m, pages, dirty, wire, secs);
	int r = autopolicy_after_pass(m, secs, wire, dirty, err, errlen);
	if (r)
		return (r = resume_or_fail(m, r, err, errlen)) ? r : PASS_RESUMED;
	return PASS_GO_ON;
}

/* One pass of pre-copy and what to do after it. */
static int precopy_pass(struct vmig_migration *m, bool probe, uint64_t prev_dirty,
			uint64_t *dirty_out, char *err, size_t errlen)
{
	uint64_t pages = begin_pass(m);
	if (m->p.resume_timeout_ms && sentlog_begin(&m->sent, m->pass, m->sent_now)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	migration_update_counters(m);
	uint64_t t = now_ns(), wire0 = wire_sent(m);
	int r = run_pass(m, true, err, errlen);
	double secs = (double)(now_ns() - t) / 1e9;
	/* the destination's figures of late, for this pass's re-plan */
	if (!r)
		r = acks_drain(m, err, errlen);
	if (r)
		return (r = resume_or_fail(m, r, err, errlen)) ? r : PASS_RESUMED;
	sentlog_confirm(&m->sent, acked_by_all(m));
	if ((r = harvest(m, err, errlen)))
		return r;
	uint64_t dirty = *dirty_out = count_dirty(m);
	uint64_t expect_ms = switchover_expected_ms(secs, pages, dirty);
	/* what a probe held back is not what the guest dirtied: no rate */
	bool probe_pass = probe && m->pass == 1;
	note_pass(m, pages, secs, wire_sent(m) - wire0, dirty, !probe_pass, expect_ms);
	if (probe_pass)
		return after_probe(m, t, wire0, err, errlen);
	/* after a probe, the first full pass is the one with no trend yet */
	uint64_t full_pass = probe ? m->pass - 1 : m->pass;
	r = switchover_decision(m, full_pass, pages, expect_ms, &dirty, &secs, prev_dirty, t, err,
				errlen);
	*dirty_out = dirty;
	if (r != PASS_GO_ON)
		return r;
	return after_pass(m, pages, dirty, wire_sent(m) - wire0, secs, err, errlen);
}

static int do_precopy(struct vmig_migration *m, char *err, size_t errlen)
{
	bool probe = false;
	int r = precopy_start(m, &probe, err, errlen);
	if (r)
		return r;
	for (uint64_t prev_dirty = SWITCHOVER_NO_PREVIOUS;;) {
		uint64_t dirty = SWITCHOVER_NO_PREVIOUS;
		r = precopy_pass(m, probe, prev_dirty, &dirty, err, errlen);
		if (r < 0)
			return r;
		if (r == PASS_SWITCH)
			return 0;
		prev_dirty = r == PASS_RESUMED ? SWITCHOVER_NO_PREVIOUS : dirty;
		if (r == PASS_GO_ON && migration_should_stop(m, err, errlen))
			return -ECANCELED;
	}
}

/*
 * After GO the guest belongs to the destination, but this side only lets
 * go of it once the destination confirms it runs there (RESUMED). If the
 * destination says it failed (an ERROR record: it never resumed), the
 * guest is still ours: -EREMOTEIO, and it resumes here. If the answer is
 * lost (link cut, timeout), nobody here can know whether it runs there:
 * the guest stays paused and the status says so; the operator decides.
 */
static int confirm_handover(struct vmig_migration *m, struct vbuf *b, uint64_t t_pause,
			    uint64_t alive_before, char *err, size_t errlen)
{
	char e2[256] = "";
	int r = expect_record(m, REC_RESUMED, b, m->p.io_timeout_ms, e2, sizeof(e2));
	if (r == -EREMOTEIO) {
		snprintf(err, errlen, "%s", e2);
		return r;
	}
	pthread_mutex_lock(&m->lock);
	m->st.downtime_ms = (now_ns() - t_pause) / 1000000;
	if (r) {
		m->unconfirmed = true;
		snprintf(m->st.error, sizeof(m->st.error),
			 "handed over, but the destination did not confirm that the guest runs there (%s): "
			 "the guest stays paused here; 'cont' resumes it here if it does not run there, "
			 "'quit' ends it here if it does", e2);
	} else {
		m->st.verified = true;
	}
	pthread_mutex_unlock(&m->lock);
	if (r)
		return 0;
	struct wire_alive al;
	if (expect_record(m, REC_ALIVE, b, ALIVE_TIMEOUT_MS, e2, sizeof(e2)) == 0 &&
	    wire_decode_alive(b->data, b->len, &al, e2, sizeof(e2)) == 0) {
		uint64_t first = al.first_alive_ns, dec_ns = al.decompress_ns;
		pthread_mutex_lock(&m->lock);
		if (alive_before && first)
			m->st.guest_downtime_ms =
				first > alive_before ? (int64_t)((first - alive_before) / 1000000) : 0;
		m->st.dest_decompress_cpu_s = (double)dec_ns / 1e9;
		pthread_mutex_unlock(&m->lock);
	}
	return 0;
}

static int do_switchover(struct vmig_migration *m, char *err, size_t errlen)
{
	struct vbuf b;
	int r;

	/* from the pause on, a broken link is not resumed: nothing to log */
	memset(m->sent_now, 0, sizeof(m->sent_now));
	sentlog_free(&m->sent);
	set_status(m, VMIG_MIG_DEVICE);
	uint64_t alive_before = 0;
	if ((r = m->g.ops->pause(m->g.opaque))) {
		snprintf(err, errlen, "cannot pause the guest: %s", strerror(-r));
		return r;
	}
	m->paused = true;
	converge_lift(m); /* paused for good unless the handover fails: no use for it */
	uint64_t t_pause = now_ns();
	if (m->g.ops->last_alive_ns)
		alive_before = m->g.ops->last_alive_ns(m->g.opaque);

	if ((r = harvest(m, err, errlen)))
		return r;
	begin_pass(m);
	if ((r = run_pass(m, false, err, errlen)))
		return r;
	for (unsigned i = 0; i < m->nr_channels; i++)
		if ((r = chan_send_record(&m->streams[i].own, REC_CHANNEL_END, NULL, 0, err, errlen)))
			return r;
	uint64_t t_sent = now_ns();

	uint8_t *state = NULL;
	size_t state_len = 0;
	if ((r = m->g.ops->save_state(m->g.opaque, &state, &state_len, err, errlen)))
		return r;
	if ((r = wire_check_state_len(state_len, err, errlen))) {
		free(state);
		return r;
	}
	r = chan_send_record(&m->ch, REC_STATE, state, state_len, err, errlen);
	free(state);
	if (r)
		return r;
	uint8_t dig[WIRE_DIGEST_SIZE];
	/* final_pass: the destination waits for every stream's SYNC of it */
	wire_encode_digest(dig, &(struct wire_digest){.digest = ram_digest_keyed(&m->ram, chan_key(&m->ch)),
						      .total_pages = m->ram.total_pages,
						      .final_pass = m->pass});
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
	r = confirm_handover(m, &b, t_pause, alive_before, err, errlen);
	if (!r)
		log_debug("switchover: final pages %.1f ms, state+digest %.1f ms, READY after %.1f ms",
			  (t_sent - t_pause) / 1e6, (t_state - t_sent) / 1e6, (t_ready - t_state) / 1e6);
	vbuf_free(&b);
	return r;
}

static void stop_streams(struct vmig_migration *m)
{
	pthread_mutex_lock(&m->work_lock);
	m->work_exit = true;
	pthread_cond_broadcast(&m->work_cond);
	pthread_mutex_unlock(&m->work_lock);
	for (unsigned i = 0; i < m->nr_streams; i++) {
		if (m->streams[i].thread_on)
			pthread_join(m->streams[i].thread, NULL);
		m->streams[i].thread_on = false;
	}
}

/* How long a failed source waits for the destination to read its ERROR
 * and close (chan_close_after_error): what is queued ahead of the ERROR
 * must cross the link first, a few MiB of socket buffers, 0.3 s at
 * 100 Mbit/s. A destination that is gone or stalled costs this once. */
#define ERROR_DELIVERY_WAIT_MS 2000

void *migration_thread(void *arg)
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

	/* After GO, only the destination's own word that it failed gives the
	 * guest back to this side. */
	bool ours = !m->go_sent || r == -EREMOTEIO;
	if (r && ours) {
		/* Nothing is lost: the guest keeps running here, at full speed. */
		converge_lift(m);
		if (m->connected)
			chan_send_error(&m->ch, r, err);
		if (m->dirty_on)
			m->g.ops->dirty_stop(m->g.opaque);
		if (m->paused)
			m->g.ops->resume(m->g.opaque);
		m->paused = false;
	} else if (m->dirty_on) {
		m->g.ops->dirty_stop(m->g.opaque);
	}
	stop_streams(m);
	host_probe_stop(m->probe); /* nothing plans any more */
	m->probe = NULL;
	migration_update_counters(m);
	/* a destination that never took the HELLO holds nothing to wait on
	 * (a listener that never accepts would cost a cancel the whole wait) */
	if (m->connected && r && ours && m->session_on)
		chan_close_after_error(&m->ch, ERROR_DELIVERY_WAIT_MS);
	else if (m->connected)
		chan_close(&m->ch);
	for (unsigned i = 0; i < m->nr_channels; i++)
		chan_close(&m->streams[i].own);
	pthread_mutex_lock(&m->lock);
	if (r && ours) {
		bool cancelled = __atomic_load_n(&m->cancelled, __ATOMIC_ACQUIRE);
		m->st.status = r == -ECANCELED && cancelled ? VMIG_MIG_CANCELLED : VMIG_MIG_FAILED;
		snprintf(m->st.error, sizeof(m->st.error), "%s", err);
	} else {
		m->st.status = m->unconfirmed ? VMIG_MIG_UNCONFIRMED : VMIG_MIG_COMPLETED;
	}
	struct vmig_migrate_stats final = m->st;
	pthread_mutex_unlock(&m->lock);
	if (m->p.done)
		m->p.done(m->p.opaque, &final);
	return NULL;
}

void vmig_migration_cancel(struct vmig_migration *m)
{
	uint64_t one = 1;
	__atomic_store_n(&m->cancelled, true, __ATOMIC_RELEASE);
	if (write(m->cancel_fd, &one, sizeof(one)) < 0) {
		/* the flag alone still stops it at the next batch */
	}
}

/* Fills as much of *s as the caller's struct has (s->size). */
void vmig_migration_query(struct vmig_migration *m, struct vmig_migrate_stats *caller)
{
	struct vmig_migrate_stats full, *s = &full;
	uint32_t size = caller->size < sizeof(full) ? caller->size : (uint32_t)sizeof(full);
	pthread_mutex_lock(&m->lock);
	*s = m->st;
	s->size = size;
	for (unsigned i = 0; i < m->nr_streams; i++) {
		const struct xbzrle_stats *x = &m->streams[i].xbz_stats;
		s->xbzrle_hits += x->hits;
		s->xbzrle_misses += x->misses;
		s->xbzrle_overflows += x->overflows;
		s->xbzrle_bytes_saved += x->bytes_saved;
	}
	if (m->accel) {
		struct accel_stats as;
		accel_get_stats(m->accel, &as);
		s->compress_cpu_s = (double)as.compress_ns / 1e9;
		size_t used = strnlen(s->accel, sizeof(s->accel));
		if (as.qat_jobs_on_cpu && used < sizeof(s->accel)) /* QAT's share went to the CPU */
			snprintf(s->accel + used, sizeof(s->accel) - used, "; %llu jobs on the CPU codec",
				 (unsigned long long)as.qat_jobs_on_cpu);
	}
	if (s->status != VMIG_MIG_COMPLETED && s->status != VMIG_MIG_FAILED &&
	    s->status != VMIG_MIG_CANCELLED && s->status != VMIG_MIG_UNCONFIRMED)
		s->total_ms = (now_ns() - m->t0_ns) / 1000000;
	pthread_mutex_unlock(&m->lock);
	memcpy(caller, &full, size);
}

void vmig_migration_free(struct vmig_migration *m)
{
	if (!m)
		return;
	if (m->thread)
		pthread_join(m->thread, NULL);
	host_probe_stop(m->probe);
	migration_close_byo_fds(m);
	for (unsigned i = 0; i < VMIG_MAX_RAM_REGIONS; i++) {
		free(m->bits[i]);
		free(m->carry[i]);
		free(m->hot_later[i]);
	}
	sentlog_free(&m->sent);
	ram_map_free(&m->ram);
	for (unsigned i = 0; m->streams && i < m->nr_streams; i++)
		stream_free(&m->streams[i]);
	free(m->streams);
	if (m->accel)
		accel_close(m->accel);
	free(m->vmm_config);
	tls_ctx_free(m->tls);
	pthread_mutex_destroy(&m->work_lock);
	pthread_cond_destroy(&m->work_cond);
	if (m->cancel_fd >= 0)
		close(m->cancel_fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* SPDX-License-Identifier: MIT */
/*
 * The destination's page streams (receiver_internal.h): the data channels
 * connected and checked (CHANNEL_HELLO quoting this migration), a thread
 * each taking PAGES and SYNC until CHANNEL_END, the SYNC_ACKs with this
 * host's figures, and the waits that tell the main thread every stream
 * has applied a pass or gone quiet.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "migration/acceptor.h"
#include "migration/receiver_internal.h"
#include "migration/rx_offload.h"
#include "host/probe.h"

#define MAIN_POLL_SLICE_MS 200
#define DATA_POLL_SLICE_MS 100 /* a silent data channel looks at the others this often */

/* This host's figures for a SYNC_ACK, the planner's per-pass view of us:
 * what decoding took since this stream's last one counts as idle. */
static void ack_host_figures(struct dst_chan *c, struct wire_host_info *hi)
{
	struct vmig_incoming *in = c->in;
	uint64_t dec = 0, now = now_ns(), since = c->ack_ns ? c->ack_ns : in->t0_ns;
	for (unsigned i = 0; i < in->nr_chans; i++)
		dec += __atomic_load_n(&in->chans[i].decompress_ns, __ATOMIC_RELAXED);
	host_probe_get(in->probe, hi, NULL);
	if (now > since)
		probe_credit_own_work(hi, (double)(dec - c->ack_dec_ns) / (double)(now - since));
	c->ack_ns = now;
	c->ack_dec_ns = dec;
}

/* SYNC on a page stream: acknowledge it and let the main thread know. */
int dst_chan_synced(struct dst_chan *c, const struct vbuf *payload, char *err, size_t errlen)
{
	struct wire_sync s;
	int r = wire_decode_sync(payload->data, payload->len, &s, err, errlen);
	if (r)
		return r;
	uint64_t pass = s.pass;
	/* Passes close in order, one SYNC each: a repeated or skipped one
	 * would let the final check run while pages are still on the way. */
	if (pass != c->synced_pass + 1) {
		snprintf(err, errlen, "protocol error: SYNC of pass %llu after pass %llu",
			 (unsigned long long)pass, (unsigned long long)c->synced_pass);
		return -EPROTO;
	}
	c->passes++;
	c->applied_upto = 0;
	/* Lets the source pause the guest only once nothing of the earlier
	 * passes is still queued here. */
	uint8_t ack[WIRE_SYNC_ACK_SIZE];
	struct wire_sync_ack sa = {.pass = pass};
	ack_host_figures(c, &sa.host);
	wire_encode_sync_ack(ack, &sa);
	r = chan_send_record(c->ch, REC_SYNC_ACK, ack, sizeof(ack), err, errlen);
	pthread_mutex_lock(&c->in->lock);
	c->synced_pass = pass;
	pthread_cond_broadcast(&c->in->cond);
	pthread_mutex_unlock(&c->in->lock);
	return r;
}

/*
 * Until a record starts on data channel c. The source may leave a channel
 * out of whole passes (it then carries only their SYNC: docs/protocol.md,
 * Transport), so its silence alone says nothing: it is stalled when no
 * data channel read anything within the I/O timeout.
 */
static int wait_data_channel(struct dst_chan *c, char *err, size_t errlen)
{
	struct vmig_incoming *in = c->in;
	for (;;) {
		if (chan_pending(c->ch))
			return 0; /* already inside the TLS session */
		struct pollfd p[2] = {{.fd = c->ch->fd, .events = POLLIN},
				      {.fd = c->ch->cancel_fd, .events = POLLIN}};
		int n = poll(p, c->ch->cancel_fd >= 0 ? 2 : 1, DATA_POLL_SLICE_MS);
		if (n != 0)
			return 0; /* readable, cancelled, or an error the read will name */
		uint64_t heard = __atomic_load_n(&in->data_heard_ns, __ATOMIC_RELAXED);
		if (now_ns() - heard > (uint64_t)c->ch->io_timeout_ms * 1000000ull) {
			snprintf(err, errlen, "connection stalled: nothing received on any data channel "
					      "for %d ms", c->ch->io_timeout_ms);
			return -ETIMEDOUT;
		}
	}
}

/* A data channel's thread: PAGES and SYNC until CHANNEL_END. */
static void *dst_chan_thread(void *arg)
{
	struct dst_chan *c = arg;
	struct wire_hdr h;
	char err[512] = "", name[16];
	int r;

	snprintf(name, sizeof(name), "mig-in%u", c->idx);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		if ((r = wait_data_channel(c, err, sizeof(err))) ||
		    (r = chan_recv_hdr(c->ch, &h, c->ch->io_timeout_ms, err, sizeof(err))))
			break;
		__atomic_store_n(&c->in->data_heard_ns, now_ns(), __ATOMIC_RELAXED);
		if (h.type == REC_PAGES) {
			if ((r = dst_chan_recv_pages(c, c->ram, &h, err, sizeof(err))))
				break;
			continue;
		}
		if ((r = chan_recv_payload(c->ch, &h, &c->payload, err, sizeof(err))))
			break;
		if (h.type == REC_SYNC) {
			if ((r = dst_chan_synced(c, &c->payload, err, sizeof(err))))
				break;
		} else if (h.type == REC_CHANNEL_END) {
			c->got_end = true;
			break;
		} else if (h.type == REC_ERROR) {
			char msg[WIRE_MAX_STRING];
			wire_decode_error(c->payload.data, c->payload.len, NULL, msg, sizeof(msg));
			snprintf(err, sizeof(err), "source aborted the migration: %s", msg);
			r = -ECONNABORTED;
			break;
		} else {
			snprintf(err, sizeof(err), "protocol error: unexpected %s record on data channel %u",
				 wire_type_name(h.type), c->idx);
			r = -EPROTO;
			break;
		}
	}
	c->result = r;
	if (r) {
		char msg[600];
		snprintf(msg, sizeof(msg), "data channel %u: %s", c->idx, err);
		incoming_fail(c->in, msg);
	}
	pthread_mutex_lock(&c->in->lock);
	c->ended = true;
	pthread_cond_broadcast(&c->in->cond);
	pthread_mutex_unlock(&c->in->lock);
	return NULL;
}

/* Buffers for one page stream. */
static int dst_chan_init(struct vmig_incoming *in, struct dst_chan *c, unsigned idx,
			 struct ram_map *ram)
{
	size_t batch = (size_t)WIRE_MAX_PAGES_PER_BATCH * VMIG_PAGE_SIZE;
	c->in = in;
	c->idx = idx;
	c->ram = ram;
	c->own.fd = -1;
	c->ch = in->hello.nr_channels ? &c->own : &in->ch;
	vbuf_init(&c->payload);
	c->comp_cap = 0;
	for (int k = 1; k < CODEC_COUNT; k++)
		if (codec_bound((enum codec_id)k, batch) > c->comp_cap)
			c->comp_cap = codec_bound((enum codec_id)k, batch);
	c->codec_ctx = codec_ctx_new();
	if (in->accel && accel_queue_new(in->accel, &c->q))
		return -ENOMEM;
	return c->codec_ctx ? 0 : -ENOMEM;
}

/* What a data channel's first record must be: CHANNEL_HELLO quoting this
 * session and an index not yet taken. */
struct chan_want {
	struct vmig_incoming *in;
	bool seen[WIRE_MAX_CHANNELS];
	uint32_t idx;             /* of the one accepted */
};

static int check_channel_hello(void *opaque, const struct wire_hdr *h, const uint8_t *payload,
			       char *why, size_t whylen)
{
	struct chan_want *w = opaque;
	struct wire_channel_hello c;
	char ign[64];
	if (h->type == REC_HELLO) {
		snprintf(why, whylen, "another migration is already incoming here");
		return -EBUSY;
	}
	if (h->type != REC_CHANNEL_HELLO ||
	    wire_decode_channel_hello(payload, h->len, &c, ign, sizeof(ign))) {
		snprintf(why, whylen, "not a data channel of the migration in progress (first record %s)",
			 wire_type_name(h->type));
		return -EPROTO;
	}
	uint32_t idx = c.index;
	if (c.session != w->in->hello.session || idx >= w->in->hello.nr_channels || w->seen[idx]) {
		snprintf(why, whylen, "a data channel connection that does not belong to this migration");
		return -EPROTO;
	}
	w->idx = idx;
	return 0;
}

/* Accepts the data channels announced in HELLO; strangers that connect
 * meanwhile are refused one by one, the migration goes on. */
int incoming_accept_channels(struct vmig_incoming *in, struct ram_map *ram, char *err,
			     size_t errlen)
{
	unsigned n = in->hello.nr_channels;
	in->nr_chans = n ? n : 1;
	in->chans = calloc(in->nr_chans, sizeof(*in->chans));
	if (!in->chans) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < in->nr_chans; i++)
		if (dst_chan_init(in, &in->chans[i], i, ram)) {
			snprintf(err, errlen, "out of memory for channel buffers");
			return -ENOMEM;
		}
	return incoming_connect_channels(in, err, errlen);
}

/* Takes the data channels' connections (again, on a resume) and starts
 * their threads. */
int incoming_connect_channels(struct vmig_incoming *in, char *err, size_t errlen)
{
	unsigned n = in->hello.nr_channels;
	struct chan_want want = {.in = in};
	for (unsigned k = 0; k < n; k++) {
		int fd, r;
		struct wire_hdr h;
		struct tls_conn *tls;
		r = acceptor_wait(in->acc, check_channel_hello, &want, in->p.io_timeout_ms, &fd, &tls,
				  &h, &in->payload, NULL, 0, err, errlen);
		if (r == -ETIMEDOUT)
			snprintf(err, errlen, "data channel %u of %u did not connect in time", k + 1, n);
		if (r)
			return r;
		want.seen[want.idx] = true;
		chan_init(&in->chans[want.idx].own, fd, in->cancel_fd, in->p.io_timeout_ms);
		if (tls && (r = chan_adopt_tls(&in->chans[want.idx].own, tls, err, errlen)))
			return r;
	}
	incoming_retire_listener(in, "another migration is already incoming");
	__atomic_store_n(&in->data_heard_ns, now_ns(), __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&in->chans[i].thread, NULL, dst_chan_thread, &in->chans[i]);
		if (r) {
			snprintf(err, errlen, "cannot start a channel thread: %s", strerror(r));
			return -r;
		}
		in->chans[i].thread_on = true;
	}
	return 0;
}

/* Waits until every data channel has applied the final pass. */
int incoming_wait_channels(struct vmig_incoming *in, uint64_t pass, char *err, size_t errlen)
{
	if (!in->hello.nr_channels)
		return 0;
	pthread_mutex_lock(&in->lock);
	for (;;) {
		if (in->failed) {
			snprintf(err, errlen, "%s", in->err);
			pthread_mutex_unlock(&in->lock);
			return -EIO;
		}
		/* Every channel must have closed the final pass and then ended:
		 * only then can nothing more be written into guest RAM, and the
		 * digest mean anything. */
		bool all = true, wrong = false;
		for (unsigned i = 0; i < in->nr_chans; i++) {
			all &= in->chans[i].ended;
			wrong |= in->chans[i].ended && in->chans[i].synced_pass != pass;
		}
		if (wrong) {
			snprintf(err, errlen, "a data channel ended on another pass than the final one (%llu)",
				 (unsigned long long)pass);
			pthread_mutex_unlock(&in->lock);
			return -EPROTO;
		}
		if (all)
			break;
		pthread_cond_wait(&in->cond, &in->lock);
	}
	pthread_mutex_unlock(&in->lock);
	return 0;
}

/*
 * With data channels the main channel is quiet while pages flow, for as
 * long as pre-copy takes; the channel threads watch the link meanwhile
 * (a stalled one fails and shuts the main channel down). Once every data
 * channel has ended, the main channel gets the usual deadline: a source
 * that goes silent then cannot keep this side waiting.
 */
int incoming_wait_main_channel(struct vmig_incoming *in, char *err, size_t errlen)
{
	uint64_t all_ended_ns = 0;
	for (;;) {
		struct pollfd p = {.fd = in->ch.fd, .events = POLLIN};
		if (chan_pending(&in->ch))
			return 0; /* already inside the TLS session */
		int n = poll(&p, 1, MAIN_POLL_SLICE_MS);
		if (n > 0 || (n < 0 && errno != EINTR))
			return 0; /* readable, or an error the read will name */
		bool all_ended = true;
		pthread_mutex_lock(&in->lock);
		for (unsigned i = 0; i < in->nr_chans; i++)
			all_ended &= in->chans[i].ended;
		pthread_mutex_unlock(&in->lock);
		uint64_t now = now_ns();
		if (!all_ended)
			continue;
		if (!all_ended_ns)
			all_ended_ns = now;
		if (now - all_ended_ns >= (uint64_t)in->ch.io_timeout_ms * 1000000ull) {
			snprintf(err, errlen, "the source went silent after its data channels ended");
			return -ETIMEDOUT;
		}
	}
}

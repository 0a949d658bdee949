/* SPDX-License-Identifier: MIT */
#include "migration/acks.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "common/buf.h"
#include "migration/sender_internal.h"
#include "migration/wire.h"

/* Whether a record (or the start of one) is waiting on c: no wait. */
static bool readable_now(const struct channel *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	return c->fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
}

/* One record on stream s: a SYNC_ACK is noted, an ERROR fails. */
static int take_one(struct vmig_migration *m, struct src_chan *s, struct vbuf *b, char *err,
		    size_t errlen)
{
	struct wire_hdr h;
	/* a record's start is here; the rest (48 bytes in all) follows at once */
	int r = chan_recv_record(s->ch, &h, b, m->p.io_timeout_ms, err, errlen);
	if (r)
		return r;
	if (h.type == REC_ERROR) {
		char msg[WIRE_MAX_STRING];
		wire_decode_error(b->data, b->len, NULL, msg, sizeof(msg));
		snprintf(err, errlen, "destination failed: %s", msg);
		return -EREMOTEIO;
	}
	if (h.type != REC_SYNC_ACK) {
		snprintf(err, errlen, "protocol error: expected SYNC_ACK, got %s", wire_type_name(h.type));
		return -EPROTO;
	}
	return acks_take_sync_ack(m, s, b->data, b->len, err, errlen);
}

int acks_take_sync_ack(struct vmig_migration *m, struct src_chan *s, const uint8_t *p, size_t n,
		       char *err, size_t errlen)
{
	struct wire_sync_ack a;
	int r = wire_decode_sync_ack(p, n, &a, err, errlen);
	if (r)
		return r;
	/* Passes are acknowledged in order, each once it was sent: anything
	 * else would end the wait for the real acknowledgement and drop what
	 * a resume must send again. */
	if (a.pass > m->pass || a.pass < s->acked_pass) {
		snprintf(err, errlen,
			 "protocol error: the destination acknowledged pass %llu (sent: %llu, "
			 "acknowledged before: %llu)", (unsigned long long)a.pass,
			 (unsigned long long)m->pass, (unsigned long long)s->acked_pass);
		return -EPROTO;
	}
	s->acked_pass = a.pass;
	migration_note_dest_host(m, &a.host);
	return 0;
}

int acks_drain(struct vmig_migration *m, char *err, size_t errlen)
{
	struct vbuf b;
	int r = 0;
	vbuf_init(&b);
	for (unsigned i = 0; i < m->nr_streams && !r; i++)
		while (!r && readable_now(m->streams[i].ch))
			r = take_one(m, &m->streams[i], &b, err, errlen);
	vbuf_free(&b);
	return r;
}

int acks_wait_all(struct vmig_migration *m, char *err, size_t errlen)
{
	struct vbuf b;
	int r = 0;
	vbuf_init(&b);
	for (unsigned i = 0; i < m->nr_streams && !r; i++)
		while (!r && m->streams[i].acked_pass < m->pass)
			r = take_one(m, &m->streams[i], &b, err, errlen);
	vbuf_free(&b);
	return r;
}

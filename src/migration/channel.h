/* SPDX-License-Identifier: MIT */
/*
 * A migration channel: one TCP connection with deadlines (no progress for
 * io_timeout_ms is an error, so a cut link cannot hang a migration),
 * cancellation through an eventfd, an optional bandwidth cap, and byte
 * counters. Records are read whole and checked (wire.h).
 */
#ifndef VMIG_MIGRATION_CHANNEL_H
#define VMIG_MIGRATION_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/clock.h"
#include "migration/tls.h"
#include "migration/wire.h"

struct channel {
	int fd;
	int cancel_fd;           /* readable => abort blocking I/O (-ECANCELED); -1 none */
	int io_timeout_ms;
	uint64_t max_bandwidth;  /* bytes/s, 0 = unlimited */
	uint64_t rate_start_ns;
	uint64_t rate_bytes;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	/* TLS (chan_start_tls / chan_adopt_tls): every byte goes through the
	 * session, and record checks are keyed with its exported secret. */
	struct tls_conn *tls;     /* NULL: plaintext */
	uint8_t *tls_stage;       /* gathers small pieces into full TLS records */
	bool keyed;
	struct wire_key key;
};

/* The secret that keys this channel's record checks, NULL without TLS. */
static inline const struct wire_key *chan_key(const struct channel *c)
{
	return c->keyed ? &c->key : NULL;
}

/* "tcp:HOST:PORT" (HOST may be [v6addr]). */
int chan_parse_uri(const char *uri, char *host, size_t hostlen, char *port, size_t portlen,
		   char *err, size_t errlen);
int chan_connect(const char *uri, int timeout_ms, int cancel_fd, int *fd_out, char *err,
		 size_t errlen);
int chan_listen(const char *uri, int *fd_out, char *err, size_t errlen);

void chan_init(struct channel *c, int fd, int cancel_fd, int io_timeout_ms);
void chan_close(struct channel *c);
/*
 * Closes a channel on which an ERROR was just sent, so that the ERROR
 * arrives: an end-of-stream after what is queued, then whatever the peer
 * still sends read away until it closes too (it does once it has read the
 * ERROR) or wait_ms pass. A plain close with unread bytes sends a reset,
 * and a reset throws away the send queue, the ERROR with it: the peer then
 * sees a lost link, not the reason.
 */
void chan_close_after_error(struct channel *c, int wait_ms);

/* Source: runs the TLS handshake as client on an initialised channel,
 * within its I/O timeout; err names why a peer was refused. */
int chan_start_tls(struct channel *c, struct tls_ctx *ctx, char *err, size_t errlen);
/* Destination: takes a session already authenticated (acceptor.h). */
int chan_adopt_tls(struct channel *c, struct tls_conn *t, char *err, size_t errlen);
/* Bytes already received wait inside the TLS session: poll(fd) would not see them. */
bool chan_pending(struct channel *c);

int chan_send(struct channel *c, const void *buf, size_t len, char *err, size_t errlen);
/* Gathers iov (modified while sending). */
int chan_sendv(struct channel *c, struct iovec *iov, int iovcnt, char *err, size_t errlen);
/* Scatters into iov (modified while receiving). */
int chan_recvv(struct channel *c, struct iovec *iov, int iovcnt, char *err, size_t errlen);
int chan_recv(struct channel *c, void *buf, size_t len, char *err, size_t errlen);
/* Sends one record. */
int chan_send_record(struct channel *c, uint32_t type, const void *payload, size_t len,
		     char *err, size_t errlen);
/* Receives a record header only (type and length checked). */
int chan_recv_hdr(struct channel *c, struct wire_hdr *h, int timeout_ms, char *err, size_t errlen);
/* Receives the payload of a record whose header was read, checked. */
int chan_recv_payload(struct channel *c, const struct wire_hdr *h, struct vbuf *payload, char *err,
		      size_t errlen);
/* Best-effort REC_ERROR to the peer before giving up on the connection. */
void chan_send_error(struct channel *c, int code, const char *msg);
/* Receives one whole record into payload (resized), checked. */
int chan_recv_record(struct channel *c, struct wire_hdr *h, struct vbuf *payload,
		     int timeout_ms, char *err, size_t errlen);
/* Whether a channel error means the link was lost (closed, reset, cut,
 * stalled), not that the peer said or sent something wrong. */
bool chan_error_is_link_loss(int r);


#endif

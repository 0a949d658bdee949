/* SPDX-License-Identifier: MIT */
/*
 * The destination's front door. Whoever connects to the migration port is
 * a stranger until its first record proves otherwise (a valid HELLO, or a
 * CHANNEL_HELLO quoting the session): strangers get a short deadline and a
 * small buffer, several are watched at once so that one idle or slow
 * connection cannot keep the real source waiting, and one that sends
 * garbage, nothing, or the wrong thing is closed and logged while the
 * listener carries on. Nothing else is allocated for a connection before
 * its first record has been accepted.
 *
 * With TLS (acceptor_set_tls) a stranger must first complete the TLS
 * handshake and authenticate, under the same deadline and slot limits;
 * its first record then comes through the session, its check keyed.
 */
#ifndef VMIG_MIGRATION_ACCEPTOR_H
#define VMIG_MIGRATION_ACCEPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "migration/tls.h"
#include "migration/wire.h"

#define ACCEPTOR_MAX_PENDING 16   /* strangers watched at once; the oldest goes first */
#define ACCEPTOR_MAX_FIRST_RECORD (64u << 10) /* no first record is larger */

/*
 * Decides on a connection's first record (header checked, payload checked
 * against its checksum). Returns 0 to take the connection, or a negative
 * errno with a reason in why: the connection is then refused with that
 * reason and closed.
 */
typedef int (*acceptor_check_fn)(void *opaque, const struct wire_hdr *h, const uint8_t *payload,
				 char *why, size_t whylen);

struct acceptor;

/* Watches lfd (not closed by the acceptor; -1: none); cancel_fd readable
 * ends any wait. */
int acceptor_new(int lfd, int cancel_fd, int first_record_timeout_ms, struct acceptor **out);
/* Requires TLS of every connection from now on (ctx not owned). */
void acceptor_set_tls(struct acceptor *a, struct tls_ctx *ctx);
/* Hears fd (a connection accepted elsewhere) like one from lfd; owns it. */
int acceptor_adopt(struct acceptor *a, int fd);
/* Closes every connection still pending or waiting in lfd's backlog,
 * telling each why. */
void acceptor_free(struct acceptor *a, const char *why);

/*
 * Waits until a connection's first record passes check, for at most
 * timeout_ms (< 0: no limit). Returns 0 with the connection (blocking
 * mode unchanged: non-blocking) in *fd_out, its first record in *h and
 * payload, its address in peer, and with TLS its authenticated session in
 * *tls_out (the caller's to free; NULL without TLS); -ETIMEDOUT,
 * -ECANCELED, or another negative errno for a failed listening socket,
 * with err filled.
 */
int acceptor_wait(struct acceptor *a, acceptor_check_fn check, void *opaque, int timeout_ms,
		  int *fd_out, struct tls_conn **tls_out, struct wire_hdr *h, struct vbuf *payload,
		  char *peer, size_t peerlen, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: MIT */
/* The far end of fuzz_tls_peer.h. */
#include "fuzz_tls_peer.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "fuzz_target.h"

/* A TLS record's worth per write. */
#define PEER_WRITE_MAX 16384

void fuzz_peer_start_tls(struct fuzz_peer *p, struct tls_ctx *ctx)
{
	char err[256];
	FUZZ_ASSERT(tls_conn_new(ctx, p->fd, &p->tls, err, sizeof(err)) == 0);
	p->events = POLLIN | POLLOUT;
}

int fuzz_peer_handshake(struct fuzz_peer *p)
{
	char why[512];
	if (p->secured)
		return 1;
	if (p->failed)
		return -1;
	int r = tls_conn_handshake(p->tls, &p->events, why, sizeof(why));
	if (r < 0) {
		p->failed = true;
		return r;
	}
	if (r == 1) {
		FUZZ_ASSERT(tls_conn_export_key(p->tls, p->key.secret, sizeof(p->key.secret)) == 0);
		p->secured = true;
	}
	return r;
}

ssize_t fuzz_peer_write(struct fuzz_peer *p, const void *buf, size_t n)
{
	char err[256];
	short ev;
	if (n > PEER_WRITE_MAX)
		n = PEER_WRITE_MAX;
	if (p->tls) {
		/* after a would-block, OpenSSL wants the same call again */
		if (p->retry_len && n > p->retry_len)
			n = p->retry_len;
		ssize_t w = tls_conn_write(p->tls, buf, n, &ev, err, sizeof(err));
		p->retry_len = w == 0 ? n : 0;
		return w;
	}
	ssize_t w = send(p->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return w < 0 ? -errno : w;
}

ssize_t fuzz_peer_read(struct fuzz_peer *p, void *buf, size_t n)
{
	char err[256];
	short ev;
	if (p->tls)
		return tls_conn_read(p->tls, buf, n, &ev, err, sizeof(err));
	ssize_t r = recv(p->fd, buf, n, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return r == 0 ? -ECONNRESET : r < 0 ? -errno : r;
}

void fuzz_peer_free(struct fuzz_peer *p)
{
	tls_conn_free(p->tls);
	p->tls = NULL;
}

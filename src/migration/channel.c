/* SPDX-License-Identifier: MIT */
#include "migration/channel.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int chan_parse_uri(const char *uri, char *host, size_t hostlen, char *port, size_t portlen,
		   char *err, size_t errlen)
{
	const char *p, *colon;

	if (!uri || strncmp(uri, "tcp:", 4) != 0) {
		snprintf(err, errlen, "unsupported migration address '%s' (want tcp:HOST:PORT)",
			 uri ? uri : "");
		return -EINVAL;
	}
	p = uri + 4;
	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (!end || end[1] != ':')
			goto bad;
		if ((size_t)(end - p - 1) >= hostlen)
			goto bad;
		memcpy(host, p + 1, (size_t)(end - p - 1));
		host[end - p - 1] = 0;
		colon = end + 1;
	} else {
		colon = strrchr(p, ':');
		if (!colon || (size_t)(colon - p) >= hostlen)
			goto bad;
		memcpy(host, p, (size_t)(colon - p));
		host[colon - p] = 0;
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
		goto bad;
	for (const char *q = colon + 1; *q; q++)
		if (*q < '0' || *q > '9')
			goto bad;
	strcpy(port, colon + 1);
	return 0;
bad:
	snprintf(err, errlen, "malformed migration address '%s' (want tcp:HOST:PORT)", uri);
	return -EINVAL;
}

static int wait_fd(int fd, short events, int cancel_fd, int timeout_ms)
{
	struct pollfd pfd[2] = {{.fd = fd, .events = events}, {.fd = cancel_fd, .events = POLLIN}};
	for (;;) {
		int n = poll(pfd, cancel_fd >= 0 ? 2 : 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		if (cancel_fd >= 0 && (pfd[1].revents & POLLIN))
			return -ECANCELED;
		return 0;
	}
}

static void tune_socket(int fd, int io_timeout_ms)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* Unacknowledged data older than this fails the connection: a cut link
	 * is detected even while our send buffer still has room. */
	unsigned to = (unsigned)io_timeout_ms;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &to, sizeof(to));
	/* Big buffers: fewer wake-ups when sender and receiver share a core. */
	int buf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
}

int chan_connect(const char *uri, int timeout_ms, int cancel_fd, int *fd_out, char *err,
		 size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int r, fd = -1;

	if ((r = chan_parse_uri(uri, host, sizeof(host), port, sizeof(port), err, errlen)))
		return r;
	if ((r = getaddrinfo(host, port, &hints, &res))) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			r = 0;
			break;
		}
		if (errno == EINPROGRESS) {
			r = wait_fd(fd, POLLOUT, cancel_fd, timeout_ms);
			if (!r) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				r = -soerr;
			}
			if (!r)
				break;
		} else {
			r = -errno;
		}
		close(fd);
		fd = -1;
		if (r == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (r) {
		snprintf(err, errlen, "cannot connect to %s: %s", uri,
			 r == -ETIMEDOUT ? "timed out" : strerror(-r));
		return r;
	}
	tune_socket(fd, timeout_ms);
	*fd_out = fd;
	return 0;
}

int chan_listen(const char *uri, int *fd_out, char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
	int r, fd, one = 1;

	if ((r = chan_parse_uri(uri, host, sizeof(host), port, sizeof(port), err, errlen)))
		return r;
	if ((r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res))) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(res);
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A deep backlog: strangers connecting in a burst must not crowd the
	 * real source's connections out (the acceptor sorts them out). */
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		freeaddrinfo(res);
		close(fd);
		snprintf(err, errlen, "cannot listen on %s: %s", uri, strerror(-r));
		return r;
	}
	freeaddrinfo(res);
	*fd_out = fd;
	return 0;
}

void chan_init(struct channel *c, int fd, int cancel_fd, int io_timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cancel_fd = cancel_fd;
	c->io_timeout_ms = io_timeout_ms;
	tune_socket(fd, io_timeout_ms);
}

void chan_close(struct channel *c)
{
	tls_conn_free(c->tls);
	c->tls = NULL;
	free(c->tls_stage);
	c->tls_stage = NULL;
	memset(&c->key, 0, sizeof(c->key));
	c->keyed = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void chan_close_after_error(struct channel *c, int wait_ms)
{
	if (c->fd >= 0 && shutdown(c->fd, SHUT_WR) == 0) {
		uint64_t deadline = now_ns() + (uint64_t)wait_ms * 1000000ull;
		uint8_t sink[4096];
		for (uint64_t now = now_ns(); now < deadline; now = now_ns()) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
			int left_ms = (int)((deadline - now + 999999) / 1000000);
			if (poll(&pfd, 1, left_ms) <= 0)
				break;
			if (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
				break; /* the peer closed (0) or the link is gone */
		}
	}
	chan_close(c);
}

/* Bytes gathered per TLS write: a few full records, one call. */
#define TLS_STAGE_SIZE (64u << 10)

int chan_adopt_tls(struct channel *c, struct tls_conn *t, char *err, size_t errlen)
{
	c->tls = t; /* owned from here on, even on failure */
	c->tls_stage = malloc(TLS_STAGE_SIZE);
	if (!c->tls_stage) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (tls_conn_export_key(t, c->key.secret, sizeof(c->key.secret))) {
		snprintf(err, errlen, "TLS: cannot export the integrity key");
		return -EPROTO;
	}
	c->keyed = true;
	return 0;
}

int chan_start_tls(struct channel *c, struct tls_ctx *ctx, char *err, size_t errlen)
{
	struct tls_conn *t;
	char why[512];
	int r = tls_conn_new(ctx, c->fd, &t, err, errlen);
	if (r)
		return r;
	uint64_t end = now_ns() + (uint64_t)c->io_timeout_ms * 1000000ull;
	for (;;) {
		short events = POLLIN;
		r = tls_conn_handshake(t, &events, why, sizeof(why));
		if (r == 1)
			return chan_adopt_tls(c, t, err, errlen);
		if (r < 0) {
			snprintf(err, errlen, "TLS with the destination: %s", why);
			break;
		}
		uint64_t now = now_ns();
		r = now >= end ? -ETIMEDOUT
			       : wait_fd(c->fd, events, c->cancel_fd, (int)((end - now) / 1000000 + 1));
		if (r) {
			snprintf(err, errlen, "TLS handshake with the destination: %s",
				 r == -ETIMEDOUT ? "timed out" : r == -ECANCELED ? "cancelled" : strerror(-r));
			break;
		}
	}
	tls_conn_free(t);
	return r;
}

bool chan_pending(struct channel *c)
{
	return c->tls && tls_conn_pending(c->tls);
}

/*
 * Holds a send back to the channel's bandwidth cap. The wait is a poll on
 * the cancel eventfd, not a sleep: at a cap of a few bytes a second one
 * batch can be due hours ahead, and cancel or quit must still take effect
 * at once.
 */
static int rate_limit(struct channel *c, size_t len, char *err, size_t errlen)
{
	if (!c->max_bandwidth)
		return 0;
	uint64_t now = now_ns();
	if (!c->rate_start_ns || now - c->rate_start_ns > 1000000000ull) {
		c->rate_start_ns = now; /* restart the window every second */
		c->rate_bytes = 0;
	}
	c->rate_bytes += len;
	uint64_t due_ns = c->rate_start_ns + c->rate_bytes * 1000000000ull / c->max_bandwidth;
	while (due_ns > now) {
		uint64_t ms = (due_ns - now + 999999) / 1000000;
		struct pollfd p = {.fd = c->cancel_fd, .events = POLLIN};
		int n = poll(&p, c->cancel_fd >= 0 ? 1 : 0, ms > 1000 ? 1000 : (int)ms);
		if (n > 0) {
			snprintf(err, errlen, "cancelled");
			return -ECANCELED;
		}
		now = now_ns();
	}
	return 0;
}

int chan_send(struct channel *c, const void *buf, size_t len, char *err, size_t errlen)
{
	struct iovec iov = {(void *)buf, len};
	return chan_sendv(c, &iov, 1, err, errlen);
}

/* Waits until the channel can make progress; names the reason if not. */
static int wait_io(struct channel *c, short events, int timeout_ms, char *err, size_t errlen)
{
	int r = wait_fd(c->fd, events, c->cancel_fd, timeout_ms);
	if (r)
		snprintf(err, errlen, "%s",
			 r == -ECANCELED ? "cancelled"
			 : r != -ETIMEDOUT ? strerror(-r)
			 : events == POLLOUT ? "connection stalled: no progress sending"
					     : "connection stalled: nothing received");
	return r;
}

/* Drops n transferred bytes from the front of an iovec array. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (n && *cnt) {
		if (n >= (*iov)->iov_len) {
			n -= (*iov)->iov_len;
			(*iov)++;
			(*cnt)--;
		} else {
			(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			n = 0;
		}
	}
	while (*cnt && (*iov)->iov_len == 0) {
		(*iov)++;
		(*cnt)--;
	}
}

/* Writes n bytes through the TLS session, waiting as it asks. */
static int tls_write_all(struct channel *c, const uint8_t *buf, size_t n, char *err, size_t errlen)
{
	char why[256];
	size_t off = 0;
	while (off < n) {
		short events = POLLOUT;
		/* after a would-block, the same bytes go again (OpenSSL's rule) */
		ssize_t w = tls_conn_write(c->tls, buf + off, n - off, &events, why, sizeof(why));
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0) {
			snprintf(err, errlen, "connection lost while sending: %s", why);
			return (int)w;
		}
		int r = wait_io(c, events, c->io_timeout_ms, err, errlen);
		if (r)
			return r;
	}
	__atomic_fetch_add(&c->bytes_sent, (uint64_t)n, __ATOMIC_RELAXED);
	return 0;
}

/* Gathers iov into the stage so that small pieces (record headers) share
 * TLS records with what follows instead of costing a record each. */
static int tls_sendv(struct channel *c, struct iovec *iov, int iovcnt, char *err, size_t errlen)
{
	iov_advance(&iov, &iovcnt, 0);
	while (iovcnt) {
		size_t n = 0;
		while (iovcnt && n < TLS_STAGE_SIZE) {
			size_t k = iov->iov_len < TLS_STAGE_SIZE - n ? iov->iov_len : TLS_STAGE_SIZE - n;
			memcpy(c->tls_stage + n, iov->iov_base, k);
			n += k;
			iov_advance(&iov, &iovcnt, k);
		}
		int r = tls_write_all(c, c->tls_stage, n, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

int chan_sendv(struct channel *c, struct iovec *iov, int iovcnt, char *err, size_t errlen)
{
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	int r = rate_limit(c, total, err, errlen);
	if (r)
		return r;
	if (c->tls)
		return tls_sendv(c, iov, iovcnt, err, errlen);
	iov_advance(&iov, &iovcnt, 0);
	while (iovcnt) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)(iovcnt > 1024 ? 1024 : iovcnt)};
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n > 0) {
			__atomic_fetch_add(&c->bytes_sent, (uint64_t)n, __ATOMIC_RELAXED);
			iov_advance(&iov, &iovcnt, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			int e = errno;
			snprintf(err, errlen, "connection lost while sending: %s", strerror(e));
			return -e;
		}
		if ((r = wait_io(c, POLLOUT, c->io_timeout_ms, err, errlen)))
			return r;
	}
	return 0;
}

/* Receives what the TLS session has, into the first piece of iov. */
static int tls_recvv(struct channel *c, struct iovec *iov, int iovcnt, int timeout_ms, char *err,
		     size_t errlen)
{
	char why[256];
	iov_advance(&iov, &iovcnt, 0);
	while (iovcnt) {
		short events = POLLIN;
		ssize_t n = tls_conn_read(c->tls, iov->iov_base, iov->iov_len, &events, why, sizeof(why));
		if (n > 0) {
			__atomic_fetch_add(&c->bytes_received, (uint64_t)n, __ATOMIC_RELAXED);
			iov_advance(&iov, &iovcnt, (size_t)n);
			continue;
		}
		if (n < 0) {
			snprintf(err, errlen, n == -ECONNRESET ? "%s" : "connection lost while receiving: %s",
				 why);
			return (int)n;
		}
		int r = wait_io(c, events, timeout_ms, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

static int recvv_timeout(struct channel *c, struct iovec *iov, int iovcnt, int timeout_ms,
			 char *err, size_t errlen)
{
	if (c->tls)
		return tls_recvv(c, iov, iovcnt, timeout_ms, err, errlen);
	iov_advance(&iov, &iovcnt, 0);
	while (iovcnt) {
		ssize_t n = readv(c->fd, iov, iovcnt > 1024 ? 1024 : iovcnt);
		if (n > 0) {
			__atomic_fetch_add(&c->bytes_received, (uint64_t)n, __ATOMIC_RELAXED);
			iov_advance(&iov, &iovcnt, (size_t)n);
			continue;
		}
		if (n == 0) {
			snprintf(err, errlen, "connection closed by the peer");
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			int e = errno;
			snprintf(err, errlen, "connection lost while receiving: %s", strerror(e));
			return -e;
		}
		int r = wait_io(c, POLLIN, timeout_ms, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

int chan_recvv(struct channel *c, struct iovec *iov, int iovcnt, char *err, size_t errlen)
{
	return recvv_timeout(c, iov, iovcnt, c->io_timeout_ms, err, errlen);
}

static int recv_timeout(struct channel *c, void *buf, size_t len, int timeout_ms, char *err,
			size_t errlen)
{
	struct iovec iov = {buf, len};
	return recvv_timeout(c, &iov, 1, timeout_ms, err, errlen);
}

int chan_recv(struct channel *c, void *buf, size_t len, char *err, size_t errlen)
{
	return recv_timeout(c, buf, len, c->io_timeout_ms, err, errlen);
}

int chan_send_record(struct channel *c, uint32_t type, const void *payload, size_t len,
		     char *err, size_t errlen)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	wire_encode_hdr(hdr, type, len, wire_checksum_keyed(chan_key(c), payload, len));
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
	return chan_sendv(c, iov, 2, err, errlen);
}

int chan_recv_hdr(struct channel *c, struct wire_hdr *h, int timeout_ms, char *err, size_t errlen)
{
	uint8_t raw[WIRE_HDR_SIZE];
	int r = recv_timeout(c, raw, sizeof(raw), timeout_ms, err, errlen);
	if (r)
		return r;
	return wire_parse_hdr(raw, h, err, errlen);
}

int chan_recv_record(struct channel *c, struct wire_hdr *h, struct vbuf *payload,
		     int timeout_ms, char *err, size_t errlen)
{
	int r = chan_recv_hdr(c, h, timeout_ms, err, errlen);
	return r ? r : chan_recv_payload(c, h, payload, err, errlen);
}

int chan_recv_payload(struct channel *c, const struct wire_hdr *h, struct vbuf *payload, char *err,
		      size_t errlen)
{
	vbuf_reset(payload);
	uint8_t *p = vbuf_grow(payload, h->len);
	if (!p && h->len) {
		snprintf(err, errlen, "out of memory for a %u-byte record", h->len);
		return -ENOMEM;
	}
	int r = chan_recv(c, p, h->len, err, errlen);
	return r ? r : wire_check_payload_keyed(h, payload->data, chan_key(c), err, errlen);
}

void chan_send_error(struct channel *c, int code, const char *msg)
{
	struct vbuf b;
	char ign[64];
	vbuf_init(&b);
	wire_encode_error(&b, code, msg);
	/* Best effort and prompt: the peer may be gone, and a failure or a
	 * cancel must not wait on the bandwidth cap or the cancel itself. */
	c->io_timeout_ms = 200;
	c->max_bandwidth = 0;
	c->cancel_fd = -1;
	chan_send_record(c, REC_ERROR, b.data, b.len, ign, sizeof(ign));
	vbuf_free(&b);
}

bool chan_error_is_link_loss(int r)
{
	switch (-r) {
	case ECONNRESET: case EPIPE: case ETIMEDOUT: case ENOTCONN: case ESHUTDOWN:
	case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case ENETRESET: case ECONNREFUSED:
		return true;
	}
	return false;
}

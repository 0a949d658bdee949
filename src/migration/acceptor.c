/* SPDX-License-Identifier: MIT */
#include "migration/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

/* A connection that has not yet shown its first record. */
struct pending {
	int fd;                   /* -1: free slot */
	uint64_t accepted_ns;
	uint64_t deadline_ns;
	uint64_t seq;             /* arrival order: the oldest is evicted first */
	uint8_t raw[WIRE_HDR_SIZE];
	size_t got;               /* bytes of header + payload read so far */
	struct wire_hdr h;        /* valid once got >= WIRE_HDR_SIZE */
	uint8_t *payload;         /* h.len bytes, allocated once the header is valid */
	char peer[64];
	short events;             /* what to poll for: TLS may want to write */
	struct tls_conn *tls;     /* with TLS: the session, once the peer's first byte was one */
	bool secured;             /* TLS handshake done, peer authenticated */
	bool plaintext;           /* with TLS: the peer spoke plaintext */
	struct wire_key key;      /* secured: keys its first record's check */
};

struct acceptor {
	int lfd, cancel_fd, timeout_ms;
	uint64_t seq;
	char last_refusal[256];   /* why the last stranger was refused */
	struct tls_ctx *tls;      /* NULL: plaintext */
	struct pending p[ACCEPTOR_MAX_PENDING];
};

int acceptor_new(int lfd, int cancel_fd, int first_record_timeout_ms, struct acceptor **out)
{
	struct acceptor *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->lfd = lfd;
	a->cancel_fd = cancel_fd;
	/* accept_all takes connections until EAGAIN: the socket must not block
	 * (a caller's own listening socket may) */
	int fl = lfd >= 0 ? fcntl(lfd, F_GETFL) : 0;
	if (fl < 0 || (lfd >= 0 && fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		int e = errno;
		free(a);
		return -e;
	}
	a->timeout_ms = first_record_timeout_ms > 0 ? first_record_timeout_ms : 5000;
	for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++)
		a->p[i].fd = -1;
	*out = a;
	return 0;
}

static void peer_name(int fd, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[NI_MAXHOST], s[NI_MAXSERV];
	snprintf(peer, peerlen, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	/* getnameinfo() knows only IP; on a UNIX socket it printed stack bytes */
	if (ss.ss_family == AF_UNIX)
		snprintf(peer, peerlen, "a local socket");
	else if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
		 getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), s, sizeof(s),
			     NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(peer, peerlen, "%s:%s", h, s);
}

void acceptor_set_tls(struct acceptor *a, struct tls_ctx *ctx)
{
	a->tls = ctx;
}

static void pending_reset(struct pending *p)
{
	tls_conn_free(p->tls);
	free(p->payload);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

/*
 * Reads away what the peer sent and we did not read: closing a socket with
 * unread bytes sends a reset, which can overtake the refusal just written
 * and leave the peer with "connection reset" instead of the reason.
 */
#define DISCARD_MAX (256u << 10)

static void discard_unread(int fd)
{
	uint8_t sink[4096];
	for (size_t n = 0; n < DISCARD_MAX;) {
		ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (r <= 0)
			return;
		n += (size_t)r;
	}
}

/*
 * Tells a refused connection why (best effort, never blocks), closes it:
 * in plaintext to a plaintext peer, through the session to an
 * authenticated one, and not at all to a failed handshake (OpenSSL has
 * sent its alert).
 */
static void refuse(struct acceptor *a, struct pending *p, const char *why)
{
	struct vbuf pl, rec;
	vbuf_init(&pl);
	vbuf_init(&rec);
	wire_encode_error(&pl, -EPROTO, why);
	uint8_t *hdr = vbuf_grow(&rec, WIRE_HDR_SIZE);
	if (hdr)
		wire_encode_hdr(hdr, REC_ERROR, pl.len,
				wire_checksum_keyed(p->secured ? &p->key : NULL, pl.data, pl.len));
	vbuf_put(&rec, pl.data, pl.len);
	short ev;
	char ign[64];
	if (rec.oom) {
		/* nothing to say */
	} else if (p->secured) {
		tls_conn_write(p->tls, rec.data, rec.len, &ev, ign, sizeof(ign));
	} else if ((!a->tls || p->plaintext) &&
		   send(p->fd, rec.data, rec.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the stranger may be gone already: nothing more to do */
	}
	vbuf_free(&pl);
	vbuf_free(&rec);
	snprintf(a->last_refusal, sizeof(a->last_refusal), "%s", why);
	log_warn("incoming: refused a connection from %s: %s", p->peer, why);
	discard_unread(p->fd);
	close(p->fd);
	pending_reset(p);
}

/* Starts hearing fd, accepted at `now`. */
static void pending_start(struct acceptor *a, struct pending *p, int fd, uint64_t now)
{
	p->fd = fd;
	p->seq = ++a->seq;
	p->accepted_ns = now;
	p->deadline_ns = now + (uint64_t)a->timeout_ms * 1000000ull;
	p->events = POLLIN;
	peer_name(fd, p->peer, sizeof(p->peer));
	log_debug("incoming: connection from %s", p->peer);
}

/*
 * Refuses, with the reason, what waits in the kernel's backlog: a listener
 * closed over those connections resets them unexplained, and a source that
 * connected a moment too late would report "connection reset" instead of
 * "another migration is already incoming".
 */
static void refuse_backlog(struct acceptor *a, const char *why)
{
	for (unsigned n = 0; a->lfd >= 0 && n < ACCEPTOR_MAX_PENDING; n++) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct pending p;
		memset(&p, 0, sizeof(p));
		p.fd = fd;
		peer_name(fd, p.peer, sizeof(p.peer));
		refuse(a, &p, why);
	}
}

void acceptor_free(struct acceptor *a, const char *why)
{
	if (!a)
		return;
	for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++)
		if (a->p[i].fd >= 0)
			refuse(a, &a->p[i], why);
	refuse_backlog(a, why);
	free(a);
}


/*
 * A free slot, or the oldest stranger's, refused to make room, if it has
 * had EVICT_AFTER_MS to show its first record (a real source sends it at
 * once: under a burst of strangers it must not be evicted before it could
 * be read). NULL if every slot is younger: the newcomer waits in the
 * kernel's backlog, and *retry_ms says when a slot can be freed.
 */
#define EVICT_AFTER_MS 100

static struct pending *free_slot(struct acceptor *a, uint64_t now, int *retry_ms)
{
	struct pending *oldest = NULL;
	for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++) {
		if (a->p[i].fd < 0)
			return &a->p[i];
		if (!oldest || a->p[i].seq < oldest->seq)
			oldest = &a->p[i];
	}
	uint64_t ready = oldest->accepted_ns + EVICT_AFTER_MS * 1000000ull;
	if (ready > now) {
		*retry_ms = (int)((ready - now) / 1000000 + 1);
		return NULL;
	}
	refuse(a, oldest, "too many connections waiting: the oldest goes");
	return oldest;
}

/*
 * Takes the connections waiting on the listening socket while there is
 * room. Returns 0, or a negative errno if the listening socket failed;
 * *retry_ms >= 0 when the slots are full of young strangers (the rest
 * wait in the backlog until then).
 */
static int accept_all(struct acceptor *a, int *retry_ms, char *err, size_t errlen)
{
	*retry_ms = -1;
	for (;;) {
		uint64_t now = now_ns();
		struct pending *p = free_slot(a, now, retry_ms);
		if (!p)
			return 0;
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return 0;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("incoming: cannot accept a connection: %s", strerror(errno));
				*retry_ms = 100;
				return 0;
			}
			int e = errno;
			snprintf(err, errlen, "accept: %s", strerror(e));
			return -e;
		}
		pending_start(a, p, fd, now);
	}
}

int acceptor_adopt(struct acceptor *a, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++)
		if (a->p[i].fd < 0) {
			pending_start(a, &a->p[i], fd, now_ns());
			return 0;
		}
	close(fd);
	return -EMFILE;
}

/*
 * recv() on a non-blocking stranger: > 0 read, 0 nothing yet, < 0 with why
 * filled (closed_why when the peer closed).
 */
static ssize_t stranger_recv(int fd, void *dst, size_t want, int flags, const char *closed_why,
			     char *why, size_t whylen)
{
	ssize_t n = recv(fd, dst, want, flags);
	if (n == 0) {
		snprintf(why, whylen, "%s", closed_why);
		return -ECONNRESET;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		snprintf(why, whylen, "%s", strerror(errno));
		return -errno;
	}
	return n;
}

/* Reads up to want bytes: > 0 read, 0 nothing yet, < 0 why filled. */
static ssize_t pending_recv(struct pending *p, void *dst, size_t want, char *why, size_t whylen)
{
	if (p->tls) {
		ssize_t n = tls_conn_read(p->tls, dst, want, &p->events, why, whylen);
		if (n == -ECONNRESET)
			snprintf(why, whylen, "closed before its first record was complete");
		return n;
	}
	return stranger_recv(p->fd, dst, want, 0, "closed before its first record was complete", why,
			     whylen);
}

/*
 * With TLS, the handshake before anything else. Returns 1 once the peer
 * has authenticated, 0 while the handshake goes on, or a negative errno
 * with why naming the refusal: a plaintext peer, a wrong certificate, a
 * wrong PSK.
 */
static int pending_secure(struct acceptor *a, struct pending *p, char *why, size_t whylen)
{
	if (p->secured)
		return 1;
	if (!p->tls) {
		uint8_t first;
		ssize_t n = stranger_recv(p->fd, &first, 1, MSG_PEEK, "closed before the TLS handshake",
					  why, whylen);
		if (n <= 0)
			return (int)n;
		if (first != TLS_CONTENT_HANDSHAKE) {
			p->plaintext = true;
			snprintf(why, whylen, "plaintext source: this destination requires TLS");
			return -EACCES;
		}
		int r = tls_conn_new(a->tls, p->fd, &p->tls, why, whylen);
		if (r)
			return r;
	}
	int r = tls_conn_handshake(p->tls, &p->events, why, whylen);
	if (r <= 0)
		return r;
	if (tls_conn_export_key(p->tls, p->key.secret, sizeof(p->key.secret))) {
		snprintf(why, whylen, "TLS: cannot export the integrity key");
		return -EPROTO;
	}
	p->secured = true;
	p->events = POLLIN;
	char desc[128];
	tls_conn_describe(p->tls, desc, sizeof(desc));
	log_debug("incoming: %s authenticated (%s)", p->peer, desc);
	return 1;
}

/* A plaintext destination hears a TLS ClientHello: say so plainly. */
static bool looks_like_tls(const uint8_t raw[WIRE_HDR_SIZE])
{
	return raw[0] == TLS_CONTENT_HANDSHAKE && raw[1] == 3;
}

/*
 * Reads what has arrived of p's first record, never past its end (what
 * follows belongs to whoever takes the connection). Returns 1 once the
 * record is whole and checked, 0 while it is incomplete, or a negative
 * errno with why filled.
 */
static int read_first_record(struct pending *p, char *why, size_t whylen)
{
	for (;;) {
		uint8_t *dst;
		size_t want;
		if (p->got < WIRE_HDR_SIZE) {
			dst = p->raw + p->got;
			want = WIRE_HDR_SIZE - p->got;
		} else {
			if (p->got == WIRE_HDR_SIZE + p->h.len)
				return 1;
			dst = p->payload + (p->got - WIRE_HDR_SIZE);
			want = WIRE_HDR_SIZE + p->h.len - p->got;
		}
		ssize_t n = pending_recv(p, dst, want, why, whylen);
		if (n <= 0)
			return (int)n;
		p->got += (size_t)n;
		if (p->got != WIRE_HDR_SIZE)
			continue;
		if (!p->tls && looks_like_tls(p->raw)) {
			snprintf(why, whylen, "TLS source: this destination does not use TLS "
					      "(start it with --tls-creds or --tls-psk)");
			return -EPROTO;
		}
		int r = wire_parse_hdr(p->raw, &p->h, why, whylen);
		if (r)
			return r;
		if (p->h.len > ACCEPTOR_MAX_FIRST_RECORD) {
			snprintf(why, whylen, "first record (%s) of %u bytes is too large",
				 wire_type_name(p->h.type), p->h.len);
			return -EPROTO;
		}
		p->payload = malloc(p->h.len ? p->h.len : 1);
		if (!p->payload) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
	}
}

/* Reads from p; hands it over through the out arguments if its first
 * record passes check, refuses it if the record is bad. Returns 1 when
 * handed over. */
static int serve_pending(struct acceptor *a, struct pending *p, acceptor_check_fn check, void *opaque, int *fd_out,
			 struct tls_conn **tls_out, struct wire_hdr *h, struct vbuf *payload, char *peer, size_t peerlen)
{
	char why[512];
	int r = a->tls ? pending_secure(a, p, why, sizeof(why)) : 1;
	if (r > 0)
		r = read_first_record(p, why, sizeof(why));
	if (r == 0)
		return 0;
	if (r > 0 && (r = wire_check_payload_keyed(&p->h, p->payload, p->secured ? &p->key : NULL,
						   why, sizeof(why))) == 0)
		r = check(opaque, &p->h, p->payload, why, sizeof(why));
	if (r) {
		refuse(a, p, why);
		return 0;
	}
	vbuf_reset(payload);
	vbuf_put(payload, p->payload, p->h.len);
	*h = p->h;
	*fd_out = p->fd;
	*tls_out = p->tls;
	p->tls = NULL; /* handed over with the fd */
	if (peer && peerlen)
		snprintf(peer, peerlen, "%s", p->peer);
	pending_reset(p);
	return 1;
}

/* Refuses strangers past their deadline; returns the ms until the next one's. */
static int expire(struct acceptor *a, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++) {
		struct pending *p = &a->p[i];
		if (p->fd < 0)
			continue;
		if (p->deadline_ns <= now) {
			refuse(a, p, a->tls && !p->secured ? "TLS handshake incomplete: timed out"
				     : p->got		    ? "first record incomplete: timed out"
							    : "sent nothing: timed out");
			continue;
		}
		if (p->deadline_ns < next)
			next = p->deadline_ns;
	}
	return next == UINT64_MAX ? -1 : (int)((next - now) / 1000000 + 1);
}

static unsigned pending_count(const struct acceptor *a)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++)
		n += a->p[i].fd >= 0;
	return n;
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int acceptor_wait(struct acceptor *a, acceptor_check_fn check, void *opaque, int timeout_ms,
		  int *fd_out, struct tls_conn **tls_out, struct wire_hdr *h, struct vbuf *payload,
		  char *peer, size_t peerlen, char *err, size_t errlen)
{
	*tls_out = NULL;
	uint64_t end = timeout_ms < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint64_t listen_again = 0; /* slots full of young strangers: the backlog waits till then */
	struct pollfd pfd[2 + ACCEPTOR_MAX_PENDING];
	unsigned slot[ACCEPTOR_MAX_PENDING];

	for (;;) {
		uint64_t now = now_ns();
		if (now >= end) {
			snprintf(err, errlen, "waiting for the migration source: timed out");
			return -ETIMEDOUT;
		}
		int wait_ms = min_timeout(expire(a, now), end == UINT64_MAX ? -1
							: (int)((end - now) / 1000000 + 1));
		bool listening = now >= listen_again;
		if (!listening)
			wait_ms = min_timeout(wait_ms, (int)((listen_again - now) / 1000000 + 1));
		if (a->lfd < 0 && !pending_count(a)) {
			snprintf(err, errlen, "no connection left to hear (the last one: %s)",
				 a->last_refusal[0] ? a->last_refusal : "none given");
			return -ENOTCONN;
		}
		unsigned n = 0, np = 0;
		pfd[n++] = (struct pollfd){.fd = a->cancel_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = listening ? a->lfd : -1, .events = POLLIN};
		for (unsigned i = 0; i < ACCEPTOR_MAX_PENDING; i++)
			if (a->p[i].fd >= 0) {
				pfd[n++] = (struct pollfd){.fd = a->p[i].fd, .events = a->p[i].events};
				slot[np++] = i;
			}
		if (poll(pfd, n, wait_ms) < 0 && errno != EINTR) {
			int e = errno;
			snprintf(err, errlen, "poll: %s", strerror(e));
			return -e;
		}
		if (pfd[0].revents & POLLIN) {
			snprintf(err, errlen, "cancelled while waiting for the migration source");
			return -ECANCELED;
		}
		for (unsigned k = 0; k < np; k++)
			if (pfd[2 + k].revents &&
			    serve_pending(a, &a->p[slot[k]], check, opaque, fd_out, tls_out, h, payload, peer,
					  peerlen))
				return 0;
		int r, retry_ms;
		if ((pfd[1].revents & POLLIN) && (r = accept_all(a, &retry_ms, err, errlen)))
			return r;
		if ((pfd[1].revents & POLLIN) && retry_ms >= 0)
			listen_again = now_ns() + (uint64_t)retry_ms * 1000000ull;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a destination holding a session after a broken link, and
 * what reconnects to it. The real receiver (vmig_incoming_*, with
 * resume_timeout_ms) listens on a UNIX socket of its own (no TCP port);
 * a feeder thread connects each session's connections (fuzz_resume_input.h)
 * and writes their bytes, every complete record's check recomputed, then
 * hangs up: the first session's end is a broken link, and the next
 * session is the reconnect the destination hears (a RESUME HELLO with the
 * right or a wrong session, passes never sent, a resume after the pause,
 * another reconnect...). A session begins once the destination has closed
 * every connection of the one before; when the input has no session left
 * the feeder cancels the destination instead of letting it wait.
 *
 * Invariants checked besides the sanitizers (docs/fuzzing.md): the guest
 * runs only when the receiver reports success, and then the digest was
 * verified; a run ends within FUZZ_RESUME_RUN_LIMIT_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../unit/fake_guest.h"
#include "fuzz_checks.h"
#include "fuzz_seed_guest.h"
#include "fuzz_resume_input.h"
#include "fuzz_target.h"
#include "migration/wire.h"
#include "vmig/migration.h"

/* Every connection ends in a hang-up: only a stuck side gets near it. */
#define FUZZ_RESUME_IO_TIMEOUT_MS 2000
#define FUZZ_RESUME_WINDOW_MS 2000 /* the feeder cancels before it closes */
#define FUZZ_RESUME_RUN_LIMIT_MS 8000 /* below make fuzz's -timeout of 10 s */
#define FUZZ_RESUME_REDIALS 4	      /* per connection, see hear() */
#define MAX_CONNS (FUZZ_RESUME_MAX_SESSIONS * FUZZ_MAX_CONNS)

/* A destination still closing the last session's acceptor refuses a
 * reconnect that came too early with this (receiver.c): dial again. */
#define TOO_EARLY "waiting for its source to resume"

struct conn {
	const uint8_t *data;
	size_t len, sent;
	unsigned session;
	int fd;		/* -1: not dialled yet */
	unsigned redials;
	bool hung_up, heard_all, too_early;
};

struct feed {
	struct conn c[MAX_CONNS];
	unsigned n, sessions, opened; /* connections, sessions, sessions dialled */
	struct sockaddr_un addr;
	socklen_t addrlen;
	struct vmig_incoming *in;
	bool cancelled;
	int stop_fd;
};

static const uint8_t *find(const uint8_t *p, size_t n, const char *sep, size_t seplen)
{
	for (size_t i = 0; n >= seplen && i <= n - seplen; i++)
		if (memcmp(p + i, sep, seplen) == 0)
			return p + i;
	return NULL;
}

/* One session's connections, cut at FUZZ_CONN_SEP. */
static void split_session(struct feed *f, const uint8_t *d, size_t n)
{
	for (unsigned k = 0;; k++) {
		const uint8_t *sep = k + 1 < FUZZ_MAX_CONNS ? find(d, n, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN)
							    : NULL;
		size_t piece = sep ? (size_t)(sep - d) : n;
		f->c[f->n++] = (struct conn){.data = d, .len = piece, .session = f->sessions, .fd = -1};
		if (!sep)
			return;
		d = sep + FUZZ_CONN_SEP_LEN;
		n -= piece + FUZZ_CONN_SEP_LEN;
	}
}

static void split_input(struct feed *f, uint8_t *d, size_t n)
{
	for (;;) {
		const uint8_t *sep = f->sessions + 1 < FUZZ_RESUME_MAX_SESSIONS
					     ? find(d, n, FUZZ_SESSION_SEP, FUZZ_SESSION_SEP_LEN)
					     : NULL;
		size_t piece = sep ? (size_t)(sep - d) : n;
		unsigned first = f->n;
		split_session(f, d, piece);
		for (unsigned i = first; i < f->n; i++)
			fuzz_fix_checks((uint8_t *)f->c[i].data, f->c[i].len, NULL);
		f->sessions++;
		if (!sep)
			return;
		d += piece + FUZZ_SESSION_SEP_LEN;
		n -= piece + FUZZ_SESSION_SEP_LEN;
	}
}

static void dial(struct feed *f, struct conn *c)
{
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FUZZ_ASSERT(c->fd >= 0);
	/* a full backlog (EAGAIN) reads as a refusal: the destination's to make */
	if (connect(c->fd, (struct sockaddr *)&f->addr, f->addrlen) != 0)
		c->heard_all = c->hung_up = true;
	c->sent = 0;
	c->too_early = false;
	if (!c->len) {
		shutdown(c->fd, SHUT_WR);
		c->hung_up = true;
	}
}

static bool session_closed(const struct feed *f, unsigned s)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->c[i].session == s && !f->c[i].heard_all)
			return false;
	return true;
}

/* The next session once the destination closed all of the last one;
 * past the last, the destination is told to stop waiting. */
static void next_session(struct feed *f)
{
	if (f->opened && !session_closed(f, f->opened - 1))
		return;
	if (f->opened == f->sessions) {
		if (!f->cancelled)
			vmig_incoming_cancel(f->in);
		f->cancelled = true;
		return;
	}
	for (unsigned i = 0; i < f->n; i++)
		if (f->c[i].session == f->opened)
			dial(f, &f->c[i]);
	f->opened++;
}

static void hear(struct feed *f, struct conn *c)
{
	char sink[4096];
	ssize_t r = recv(c->fd, sink, sizeof(sink) - 1, MSG_DONTWAIT);
	if (r > 0) {
		sink[r] = 0;
		c->too_early |= memmem(sink, (size_t)r, TOO_EARLY, strlen(TOO_EARLY)) != NULL;
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close(c->fd);
	c->fd = -1;
	c->heard_all = c->hung_up = true;
	/* a reconnect that came before the destination listened again */
	if (c->too_early && c->session > 0 && c->redials < FUZZ_RESUME_REDIALS) {
		c->redials++;
		c->heard_all = c->hung_up = false;
		dial(f, c);
	}
}

static void send_some(struct conn *c)
{
	if (c->hung_up || c->fd < 0)
		return;
	ssize_t w = send(c->fd, c->data + c->sent, c->len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w > 0)
		c->sent += (size_t)w;
	else if (w < 0 && errno != EAGAIN && errno != EINTR)
		c->sent = c->len; /* the destination hung up */
	if (c->sent >= c->len) {
		shutdown(c->fd, SHUT_WR);
		c->hung_up = true;
	}
}

static void *feeder(void *arg)
{
	struct feed *f = arg;
	struct pollfd p[1 + MAX_CONNS];
	for (;;) {
		next_session(f);
		p[0] = (struct pollfd){.fd = f->stop_fd, .events = POLLIN};
		for (unsigned i = 0; i < f->n; i++) {
			struct conn *c = &f->c[i];
			short ev = c->fd >= 0 && !c->heard_all ? POLLIN : 0;
			if (ev && !c->hung_up)
				ev |= POLLOUT;
			p[1 + i] = (struct pollfd){.fd = ev ? c->fd : -1, .events = ev};
		}
		if (poll(p, 1 + f->n, 100) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents)
			return NULL;
		for (unsigned i = 0; i < f->n; i++) {
			struct conn *c = &f->c[i];
			if (p[1 + i].revents & POLLOUT)
				send_some(c);
			if (p[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
				hear(f, c);
		}
	}
}

/* The destination's own listening socket, in the abstract namespace. */
static int listen_here(struct feed *f)
{
	static unsigned runs;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_ASSERT(fd >= 0);
	f->addr.sun_family = AF_UNIX;
	int len = snprintf(f->addr.sun_path + 1, sizeof(f->addr.sun_path) - 1,
			   "vmig-fuzz-resume-%d-%u", (int)getpid(), runs++);
	f->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
	FUZZ_ASSERT(bind(fd, (struct sockaddr *)&f->addr, f->addrlen) == 0);
	FUZZ_ASSERT(listen(fd, MAX_CONNS) == 0);
	return fd;
}

static void quiet_log(void *opaque, enum vmig_log_level level, const char *line)
{
	if (getenv("FUZZ_RESUME_VERBOSE"))
		fprintf(stderr, "fuzz_resume: %s\n", line);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_guest *g = fuzz_destination_guest(quiet_log, VMIG_LOG_INFO);
	struct feed f = {.stop_fd = eventfd(0, EFD_CLOEXEC)};
	struct vmig_incoming_params p = VMIG_INCOMING_PARAMS_INIT;
	struct vmig_incoming_config cfg;
	struct vmig_incoming_stats st;
	char err[512];
	pthread_t t;
	FUZZ_ASSERT(f.stop_fd >= 0);
	uint8_t *copy = malloc(size ? size : 1);
	FUZZ_ASSERT(copy);
	memcpy(copy, data, size);
	split_input(&f, copy, size);
	p.listen_fd = listen_here(&f); /* the receiver's from here on */
	p.accept_timeout_ms = FUZZ_RESUME_IO_TIMEOUT_MS;
	p.io_timeout_ms = FUZZ_RESUME_IO_TIMEOUT_MS;
	p.resume_timeout_ms = FUZZ_RESUME_WINDOW_MS;
	p.max_ram_bytes = (uint64_t)FUZZ_GUEST_PAGES * VMIG_PAGE_SIZE;
	uint64_t t0 = now_ms();
	FUZZ_ASSERT(vmig_incoming_create(&p, &f.in, err, sizeof(err)) == 0);
	FUZZ_ASSERT(pthread_create(&t, NULL, feeder, &f) == 0);
	int r = vmig_incoming_accept(f.in, &cfg, err, sizeof(err));
	if (!r) {
		struct vmig_guest guest = {&fg_ops, g};
		r = vmig_incoming_run(f.in, &guest, &st, err, sizeof(err));
		FUZZ_ASSERT(r == 0 || !fg_was_resumed(g)); /* a bad stream never runs the guest */
		FUZZ_ASSERT(r != 0 || (fg_was_resumed(g) && st.verified));
	}
	if (getenv("FUZZ_RESUME_VERBOSE"))
		fprintf(stderr, "fuzz_resume: %s after %llu ms\n", r ? err : "resumed, digest verified",
			(unsigned long long)(now_ms() - t0));
	/* the feeder may cancel f.in: it stops first */
	uint64_t one = 1;
	FUZZ_ASSERT(write(f.stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(t, NULL);
	vmig_incoming_free(f.in);
	FUZZ_ASSERT(now_ms() - t0 < FUZZ_RESUME_RUN_LIMIT_MS);
	for (unsigned i = 0; i < f.n; i++)
		if (f.c[i].fd >= 0)
			close(f.c[i].fd);
	close(f.stop_fd);
	free(copy);
	return 0;
}

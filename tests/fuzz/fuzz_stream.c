/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the migration stream as a destination hears it. The input
 * is what a source sends on each connection (fuzz_stream_input.h); each
 * connection is a socketpair whose far end the real receiver adopts
 * (vmig_incoming_params.fds), so everything runs as in production: the
 * acceptor, HELLO, the data channel threads, PAGES with every codec and
 * XBZRLE, SYNC, STATE, DIGEST, COMPLETE, GO, into the TEST DOUBLE guest of
 * tests/unit/fake_guest.h with small RAM.
 *
 * A feeder thread writes each connection's bytes, then half-closes it, and
 * swallows whatever the receiver answers, so that neither side can block
 * the other: every run ends at the end of the input, never on a timeout.
 * Invariant checked besides the sanitizers: the guest runs only when the
 * receiver reports success.
 *
 * Built with FUZZ_STREAM_FIX_CHECKS (target stream_rechecked), every
 * complete record gets its check recomputed before it is sent, as a source
 * would compute it: a mutated payload then reaches the decoders behind the
 * check (PAGES metadata, codecs, XBZRLE, STATE, DIGEST) instead of ending
 * at "checksum mismatch", which the plain target covers.
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
#include <unistd.h>

#include "../unit/fake_guest.h"
#include "fuzz_checks.h"
#include "fuzz_seed_guest.h"
#include "fuzz_stream_input.h"
#include "fuzz_target.h"
#include "migration/wire.h"
#include "vmig/migration.h"

/* Only a stuck feeder or receiver would get near it: the input ends every run. */
#define FUZZ_IO_TIMEOUT_MS 2000

struct conn {
	const uint8_t *data;
	size_t len, sent;
	int ours, theirs; /* socketpair: we write ours, the receiver reads theirs */
	bool heard_all;	  /* the receiver closed its end */
};

struct feed {
	struct conn c[FUZZ_MAX_CONNS];
	unsigned n;
	int stop_fd; /* eventfd: the receiver is done */
};

/* Cuts the input at the separators into at most FUZZ_MAX_CONNS pieces. */
static unsigned split_input(const uint8_t *d, size_t n, struct conn *c)
{
	unsigned k = 0;
	c[0] = (struct conn){.data = d};
	for (size_t i = 0; i < n;) {
		if (k + 1 < FUZZ_MAX_CONNS && n - i >= FUZZ_CONN_SEP_LEN &&
		    memcmp(d + i, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN) == 0) {
			c[k].len = (size_t)(d + i - c[k].data);
			i += FUZZ_CONN_SEP_LEN;
			c[++k] = (struct conn){.data = d + i};
			continue;
		}
		i++;
	}
	c[k].len = (size_t)(d + n - c[k].data);
	return k + 1;
}

/* Writes what each connection still has to send and half-closes it when
 * done; reads and drops the receiver's answers; until stop_fd. */

static void *feeder(void *arg)
{
	struct feed *f = arg;
	struct pollfd p[1 + FUZZ_MAX_CONNS];
	char sink[4096];
	for (;;) {
		p[0] = (struct pollfd){.fd = f->stop_fd, .events = POLLIN};
		for (unsigned i = 0; i < f->n; i++) {
			struct conn *c = &f->c[i];
			short ev = c->heard_all ? 0 : POLLIN;
			if (c->sent < c->len)
				ev |= POLLOUT;
			p[1 + i] = (struct pollfd){.fd = ev ? c->ours : -1, .events = ev};
		}
		if (poll(p, 1 + f->n, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents)
			return NULL;
		for (unsigned i = 0; i < f->n; i++) {
			struct conn *c = &f->c[i];
			short rev = p[1 + i].revents;
			if (!c->heard_all && (rev & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t r = read(c->ours, sink, sizeof(sink));
				c->heard_all =
				    r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
			}
			if (c->sent < c->len && (rev & (POLLOUT | POLLHUP | POLLERR))) {
				ssize_t w = send(c->ours, c->data + c->sent, c->len - c->sent,
						 MSG_NOSIGNAL | MSG_DONTWAIT);
				if (w > 0)
					c->sent += (size_t)w;
				else if (w < 0 && errno != EAGAIN && errno != EINTR)
					c->sent = c->len; /* the receiver hung up */
				if (c->sent >= c->len)
					shutdown(c->ours, SHUT_WR);
			}
		}
	}
}

static int open_conns(struct feed *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -errno;
		f->c[i].ours = sv[0];
		f->c[i].theirs = sv[1];
		fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
		if (!f->c[i].len)
			shutdown(sv[0], SHUT_WR);
	}
	return 0;
}

static void quiet_log(void *opaque, enum vmig_log_level level, const char *line)
{
}

/* The destination's side of one run: accept, receive, resume or fail. */
static void receive(struct fake_guest *g, const int *fds, unsigned n)
{
	struct vmig_incoming_params p = VMIG_INCOMING_PARAMS_INIT;
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	struct vmig_incoming_stats st;
	char err[512];
	p.fds = fds;
	p.nr_fds = n;
	p.accept_timeout_ms = FUZZ_IO_TIMEOUT_MS;
	p.io_timeout_ms = FUZZ_IO_TIMEOUT_MS;
	p.max_ram_bytes = (uint64_t)FUZZ_GUEST_PAGES * VMIG_PAGE_SIZE;
	if (vmig_incoming_create(&p, &in, err, sizeof(err)))
		return;
	int r = vmig_incoming_accept(in, &cfg, err, sizeof(err));
	if (!r) {
		struct vmig_guest guest = {&fg_ops, g};
		r = vmig_incoming_run(in, &guest, &st, err, sizeof(err));
		FUZZ_ASSERT(r == 0 || !fg_was_resumed(g)); /* a bad stream never runs the guest */
		FUZZ_ASSERT(r != 0 || (fg_was_resumed(g) && st.verified));
	}
	if (getenv("FUZZ_STREAM_VERBOSE")) /* what each input did, when building seeds by hand */
		fprintf(stderr, "fuzz_stream: %s\n", r ? err : "resumed, digest verified");
	vmig_incoming_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_guest *g = fuzz_destination_guest(quiet_log, VMIG_LOG_ERROR);
	struct feed f = {.stop_fd = eventfd(0, EFD_CLOEXEC)};
	int theirs[FUZZ_MAX_CONNS];
	pthread_t t;
	FUZZ_ASSERT(f.stop_fd >= 0);
#ifdef FUZZ_STREAM_FIX_CHECKS
	uint8_t *copy = malloc(size ? size : 1);
	FUZZ_ASSERT(copy);
	memcpy(copy, data, size);
	data = copy;
	f.n = split_input(data, size, f.c);
	for (unsigned i = 0; i < f.n; i++)
		fuzz_fix_checks(copy + (f.c[i].data - copy), f.c[i].len, NULL);
#else
	f.n = split_input(data, size, f.c);
#endif
	for (unsigned i = 0; i < f.n; i++)
		f.c[i].ours = f.c[i].theirs = -1;
	FUZZ_ASSERT(open_conns(&f) == 0);
	for (unsigned i = 0; i < f.n; i++)
		theirs[i] = f.c[i].theirs; /* owned by the receiver from here on */
	FUZZ_ASSERT(pthread_create(&t, NULL, feeder, &f) == 0);
	receive(g, theirs, f.n);
	uint64_t one = 1;
	FUZZ_ASSERT(write(f.stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(t, NULL);
	for (unsigned i = 0; i < f.n; i++)
		close(f.c[i].ours);
	close(f.stop_fd);
#ifdef FUZZ_STREAM_FIX_CHECKS
	free(copy);
#endif
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a destination that requires TLS (X.509 or a PSK) hearing
 * strangers. The real receiver (vmig_incoming_*, its acceptor, tls.c)
 * takes socketpairs as the caller's connections; on the far ends a feeder
 * thread speaks as the input says (fuzz_tls_input.h): raw bytes before
 * any handshake, or after a real handshake by an in-process source with
 * good credentials, the input as application data (checks keyed with the
 * session's secret, or as given) or as bytes beside the session. A good
 * source waits on one more connection and begins its handshake only once
 * the destination has closed the first stranger.
 *
 * Invariants checked besides the sanitizers (docs/fuzzing.md):
 *  - vmig_incoming_accept always takes a connection: the good source if
 *    every stranger was refused (the listener carries on serving);
 *  - a stranger that never authenticated (raw mode) is never taken;
 *  - every refusal is logged with a reason;
 *  - a stranger that authenticated and was taken runs the stream through
 *    the keyed receiver: the guest runs only on success, digest verified.
 * In session mode a DIGEST of the seed guest's RAM (fuzz_seed_guest.h) is
 * keyed as the session's source would send it, so that the recorded seed
 * migrations reach the handover.
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
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/fake_guest.h"
#include "fuzz_checks.h"
#include "fuzz_seed_guest.h"
#include "fuzz_target.h"
#include "fuzz_tls_creds.h"
#include "fuzz_tls_input.h"
#include "fuzz_tls_peer.h"
#include "migration/wire.h"
#include "vmig/migration.h"

/* Every section ends in a hang-up: only a stuck side gets near it. */
#define FUZZ_TLS_IO_TIMEOUT_MS 2000
#define GOOD_MARK_LEN 32 /* the good source's VM config: random per run */

struct conn {
	struct fuzz_peer peer;
	uint8_t *data;	   /* what it sends (its own copy: checks get fixed) */
	size_t len, sent;
	bool started;	   /* speaking: handshake begun, or raw bytes going */
	bool beside;	   /* bytes on the socket, not through the session */
	bool hung_up;	   /* our writing side shut */
	bool heard_all;	   /* the destination closed its end */
};

struct feed {
	struct conn c[FUZZ_MAX_CONNS + 1]; /* the strangers, then the good source */
	unsigned n;			   /* strangers */
	enum fuzz_tls_mode mode;
	struct tls_ctx *client;
	bool stranger_taken; /* atomic: accept took a stranger, the good source may go */
	int stop_fd;
};

/* What the log said: refusals, and whether each had a reason. */
static unsigned refusals, refusals_without_reason;

static void count_refusals(void *opaque, enum vmig_log_level level, const char *line)
{
	const char *r = strstr(line, "refused a connection from ");
	if (getenv("FUZZ_TLS_VERBOSE"))
		fprintf(stderr, "fuzz_tls_destination: %s\n", line);
	if (!r)
		return;
	__atomic_fetch_add(&refusals, 1, __ATOMIC_RELAXED);
	const char *why = strstr(r + strlen("refused a connection from "), ": ");
	if (!why || strlen(why + 2) < 4)
		__atomic_fetch_add(&refusals_without_reason, 1, __ATOMIC_RELAXED);
}

static void split_input(const uint8_t *d, size_t n, struct feed *f)
{
	f->n = 0;
	for (;;) {
		const uint8_t *sep = NULL;
		for (size_t i = 0; f->n + 1 < FUZZ_MAX_CONNS && n >= FUZZ_CONN_SEP_LEN &&
				   i <= n - FUZZ_CONN_SEP_LEN && !sep; i++)
			if (memcmp(d + i, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN) == 0)
				sep = d + i;
		size_t piece = sep ? (size_t)(sep - d) : n;
		struct conn *c = &f->c[f->n++];
		c->data = malloc(piece ? piece : 1);
		FUZZ_ASSERT(c->data);
		memcpy(c->data, d, piece);
		c->len = piece;
		if (!sep)
			return;
		d = sep + FUZZ_CONN_SEP_LEN;
		n -= piece + FUZZ_CONN_SEP_LEN;
	}
}

/* The good source's HELLO: a small VM whose config is mark. */
static void good_hello(struct conn *c, const uint8_t *mark)
{
	struct wire_hello h = {.magic = WIRE_MAGIC, .version = WIRE_VERSION,
			       .page_size = VMIG_PAGE_SIZE, .nr_regions = 1,
			       .vmm_config = mark, .vmm_config_len = GOOD_MARK_LEN};
	h.regions[0] = (struct wire_region){0, 64 * VMIG_PAGE_SIZE};
	FUZZ_ASSERT(getrandom(&h.session, sizeof(h.session), 0) == sizeof(h.session));
	struct vbuf pl, rec;
	vbuf_init(&pl);
	vbuf_init(&rec);
	wire_encode_hello(&pl, &h);
	wire_put_record(&rec, REC_HELLO, pl.data, pl.len);
	FUZZ_ASSERT(!pl.oom && !rec.oom);
	c->data = malloc(rec.len);
	FUZZ_ASSERT(c->data);
	memcpy(c->data, rec.data, rec.len);
	c->len = rec.len;
	vbuf_free(&pl);
	vbuf_free(&rec);
}

static bool is_good(const struct feed *f, const struct conn *c)
{
	return c == &f->c[f->n];
}

/* Begins speaking on c: a handshake first unless the mode says raw. */
static void start(struct feed *f, struct conn *c)
{
	c->started = true;
	if (f->mode != FUZZ_TLS_MODE_RAW || is_good(f, c))
		fuzz_peer_start_tls(&c->peer, f->client);
}

/* The seed guest's DIGEST as this session sends it (fuzz_seed_guest.h),
 * so that a recorded migration gets past the keyed digest check. */
static void key_digests(uint8_t *d, size_t n, const struct wire_key *k)
{
	for (size_t off = 0; n - off >= WIRE_HDR_SIZE;) {
		struct wire_hdr h;
		struct wire_digest dg;
		char err[128];
		wire_decode_hdr(d + off, &h);
		if (h.len > n - off - WIRE_HDR_SIZE)
			return;
		uint8_t *p = d + off + WIRE_HDR_SIZE;
		if (h.type == REC_DIGEST && !wire_decode_digest(p, h.len, &dg, err, sizeof(err)) &&
		    fuzz_seed_digest_keyed(&dg, k))
			wire_encode_digest(p, &dg);
		off += WIRE_HDR_SIZE + h.len;
	}
}

/* The handshake went through: the session's key fixes the checks. */
static void secured(struct feed *f, struct conn *c)
{
	if (!is_good(f, c) && f->mode == FUZZ_TLS_MODE_SESSION)
		key_digests(c->data, c->len, &c->peer.key);
	if (is_good(f, c) || f->mode == FUZZ_TLS_MODE_SESSION)
		fuzz_fix_checks(c->data, c->len, &c->peer.key);
	c->beside = !is_good(f, c) && f->mode == FUZZ_TLS_MODE_AFTER_HANDSHAKE;
}

static bool may_send(const struct conn *c)
{
	return c->started && (!c->peer.tls || c->peer.secured) && !c->hung_up;
}

static void send_some(struct feed *f, struct conn *c)
{
	if (!may_send(c))
		return;
	ssize_t w;
	if (c->sent < c->len) {
		if (c->beside) {
			w = send(c->peer.fd, c->data + c->sent, c->len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				w = 0;
		} else {
			w = fuzz_peer_write(&c->peer, c->data + c->sent, c->len - c->sent);
		}
		if (w > 0)
			c->sent += (size_t)w;
		else if (w < 0)
			c->sent = c->len; /* the destination hung up */
	}
	/* the good source keeps its connection open: it wants to migrate */
	if (c->sent >= c->len && !is_good(f, c)) {
		shutdown(c->peer.fd, SHUT_WR);
		c->hung_up = true;
	}
}

/* Reads and drops what the destination says; notes when it closed. */
static void hear(struct conn *c)
{
	uint8_t sink[16384];
	if (c->peer.tls && !c->peer.secured) {
		fuzz_peer_handshake(&c->peer); /* a refusal marks it failed */
		return;
	}
	for (int i = 0; i < 64; i++) {
		ssize_t r;
		if (c->peer.tls && !c->beside) {
			r = fuzz_peer_read(&c->peer, sink, sizeof(sink));
		} else { /* raw, or bytes beside the session: its state is no longer ours */
			r = recv(c->peer.fd, sink, sizeof(sink), MSG_DONTWAIT);
			if (r == 0)
				r = -ECONNRESET;
			else if (r < 0)
				r = errno == EAGAIN || errno == EINTR ? 0 : -errno;
		}
		if (r > 0)
			continue;
		c->heard_all = r < 0;
		return;
	}
}

static short wanted(const struct conn *c)
{
	if (!c->started || c->heard_all)
		return 0;
	if (c->peer.tls && !c->peer.secured && !c->peer.failed)
		return c->peer.events;
	short ev = POLLIN;
	if (may_send(c) && c->sent < c->len)
		ev |= POLLOUT;
	return ev;
}

static void *feeder(void *arg)
{
	struct feed *f = arg;
	struct pollfd p[2 + FUZZ_MAX_CONNS];
	for (unsigned i = 0; i < f->n; i++)
		start(f, &f->c[i]);
	for (;;) {
		struct conn *good = &f->c[f->n];
		/* the first stranger refused: the good source's turn; a stranger
		 * taken: it hangs up (no run waits on its deadline) */
		if (!good->started && __atomic_load_n(&f->stranger_taken, __ATOMIC_ACQUIRE)) {
			shutdown(good->peer.fd, SHUT_RDWR);
			good->started = good->heard_all = good->hung_up = true;
		} else if (!good->started && f->c[0].heard_all) {
			start(f, good);
		}
		p[0] = (struct pollfd){.fd = f->stop_fd, .events = POLLIN};
		for (unsigned i = 0; i <= f->n; i++) {
			if (f->c[i].started && !f->c[i].heard_all)
				send_some(f, &f->c[i]); /* an empty section hangs up at once */
			short ev = wanted(&f->c[i]);
			p[1 + i] = (struct pollfd){.fd = ev ? f->c[i].peer.fd : -1, .events = ev};
		}
		if (poll(p, 2 + f->n, 100) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents)
			return NULL;
		for (unsigned i = 0; i <= f->n; i++) {
			struct conn *c = &f->c[i];
			if (!c->started || c->heard_all)
				continue;
			bool was_secured = c->peer.secured;
			if (p[1 + i].revents || (c->peer.tls && !c->peer.secured))
				hear(c);
			if (c->peer.failed) /* refused during the handshake */
				c->heard_all = c->hung_up = true;
			if (!was_secured && c->peer.secured)
				secured(f, c);
			send_some(f, c);
		}
	}
}

static void open_conns(struct feed *f, int *theirs)
{
	for (unsigned i = 0; i <= f->n; i++) {
		int sv[2];
		FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
		fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
		f->c[i].peer.fd = sv[0];
		theirs[i] = sv[1];
	}
}

static struct tls_ctx *client_ctx(bool psk)
{
	static struct tls_ctx *ctx[2];
	char err[512];
	if (!ctx[psk]) {
		struct tls_opts o = fuzz_tls_opts(psk, TLS_CLIENT);
		FUZZ_ASSERT(tls_ctx_new(&o, TLS_CLIENT, &ctx[psk], err, sizeof(err)) == 0);
	}
	return ctx[psk];
}

/* The destination's side: accept, and run what a stranger got in with. */
static void receive(struct feed *f, const int *fds, bool psk, const uint8_t *mark)
{
	struct vmig_incoming_params p = VMIG_INCOMING_PARAMS_INIT;
	struct tls_opts o = fuzz_tls_opts(psk, TLS_SERVER);
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	char err[512];
	p.fds = fds;
	p.nr_fds = f->n + 1;
	p.accept_timeout_ms = FUZZ_TLS_IO_TIMEOUT_MS;
	p.io_timeout_ms = FUZZ_TLS_IO_TIMEOUT_MS;
	p.max_ram_bytes = (uint64_t)FUZZ_GUEST_PAGES * VMIG_PAGE_SIZE;
	p.tls_creds_dir = o.creds_dir;
	p.tls_psk_file = o.psk_file;
	FUZZ_ASSERT(vmig_incoming_create(&p, &in, err, sizeof(err)) == 0);
	int r = vmig_incoming_accept(in, &cfg, err, sizeof(err));
	if (getenv("FUZZ_TLS_VERBOSE"))
		fprintf(stderr, "fuzz_tls_destination: accept: %s\n", r ? err : "taken");
	FUZZ_ASSERT(r == 0); /* the good source at least */
	bool good = cfg.vmm_config_len == GOOD_MARK_LEN &&
		    memcmp(cfg.vmm_config, mark, GOOD_MARK_LEN) == 0;
	FUZZ_ASSERT(good || f->mode != FUZZ_TLS_MODE_RAW);
	FUZZ_ASSERT(!good || __atomic_load_n(&refusals, __ATOMIC_RELAXED) > 0);
	if (!good) {
		struct fake_guest *g = fuzz_destination_guest(count_refusals, VMIG_LOG_WARN);
		__atomic_store_n(&f->stranger_taken, true, __ATOMIC_RELEASE);
		struct vmig_guest guest = {&fg_ops, g};
		struct vmig_incoming_stats st;
		r = vmig_incoming_run(in, &guest, &st, err, sizeof(err));
		if (getenv("FUZZ_TLS_VERBOSE"))
			fprintf(stderr, "fuzz_tls_destination: %s\n", r ? err : "resumed, digest verified");
		FUZZ_ASSERT(r == 0 || !fg_was_resumed(g));
		FUZZ_ASSERT(r != 0 || (fg_was_resumed(g) && st.verified));
	}
	vmig_incoming_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	fuzz_destination_guest(count_refusals, VMIG_LOG_WARN);
	struct feed f = {.stop_fd = eventfd(0, EFD_CLOEXEC)};
	uint8_t mark[GOOD_MARK_LEN];
	int theirs[FUZZ_MAX_CONNS + 1];
	pthread_t t;
	bool psk = data[0] & FUZZ_TLS_OPT_PSK;
	FUZZ_ASSERT(f.stop_fd >= 0);
	FUZZ_ASSERT(getrandom(mark, sizeof(mark), 0) == sizeof(mark));
	f.mode = FUZZ_TLS_OPT_MODE(data[0]);
	f.client = client_ctx(psk);
	split_input(data + 1, size - 1, &f);
	good_hello(&f.c[f.n], mark);
	open_conns(&f, theirs); /* theirs: the receiver's from here on */
	__atomic_store_n(&refusals, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&refusals_without_reason, 0, __ATOMIC_RELAXED);
	FUZZ_ASSERT(pthread_create(&t, NULL, feeder, &f) == 0);
	receive(&f, theirs, psk, mark);
	uint64_t one = 1;
	FUZZ_ASSERT(write(f.stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(t, NULL);
	FUZZ_ASSERT(__atomic_load_n(&refusals_without_reason, __ATOMIC_RELAXED) == 0);
	for (unsigned i = 0; i <= f.n; i++) {
		fuzz_peer_free(&f.c[i].peer);
		close(f.c[i].peer.fd);
		free(f.c[i].data);
	}
	close(f.stop_fd);
	return 0;
}

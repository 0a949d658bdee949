/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the source of a migration hearing a hostile destination.
 * The real engine (vmig_migration_start: setup, pre-copy, handover, with
 * data channels) migrates a small TEST DOUBLE guest (tests/unit/fake_guest.h)
 * over socketpairs it takes as the caller's connections
 * (vmig_migrate_params.fds), or, in resume mode, over loopback TCP to a
 * port the kernel picks, so that it can dial again after a break and
 * resume the session (reconnect.c); a fake destination on the other ends answers
 * with the input, chunk by chunk as the source reaches each turn
 * (fuzz_source_input.h): HELLO_ACK, SYNC_ACK, READY, RESUMED, ALIVE, ERROR
 * or anything else. Unless the input asks for its checks as given, every
 * complete record gets its check recomputed, so that mutated payloads
 * reach the decoders behind it.
 *
 * Invariants checked besides the sanitizers (docs/fuzzing.md):
 *  - the migration ends, in failed, completed or unconfirmed;
 *  - completed or unconfirmed only after the source sent GO, and then the
 *    guest stays paused here; completed only with the digest verified;
 *  - failed: the guest runs here (not paused), dirty tracking is off and
 *    no throttle is left on; after GO only if the destination sent an
 *    ERROR record; completed only if it sent RESUMED;
 *  - a run ends within FUZZ_SRC_RUN_LIMIT_MS.
 *
 * Built with FUZZ_SOURCE_TLS (target source_tls), the source migrates
 * under TLS (X.509, or a PSK: FUZZ_SRC_OPT_TLS_PSK) and the fake
 * destination does a real handshake on each connection before its first
 * chunk, then answers through the session, every check keyed with that
 * session's secret; or, with FUZZ_SRC_OPT_TLS_RAW, answers the source's
 * ClientHello with the input's bytes as they are, and then the migration
 * must fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../unit/fake_guest.h"
#include "fuzz_source_input.h"
#include "fuzz_target.h"
#ifdef FUZZ_SOURCE_TLS
#include "fuzz_tls_creds.h"
#include "fuzz_tls_peer.h"
#endif
#include "migration/hotpages.h"
#include "migration/wire.h"
#include "vmig/migration.h"

#define FUZZ_SRC_IO_TIMEOUT_MS 500
#define FUZZ_SRC_RUN_LIMIT_MS 8000 /* below make fuzz's -timeout of 10 s */
#define FUZZ_SRC_MAX_CHUNKS 64	   /* chunks per connection; more stay in the last */

/* One connection as the fake destination sees it. */
struct peer {
	uint8_t *replies; /* the section without its separators; checks fixed */
	size_t len;
	size_t chunk_end[FUZZ_SRC_MAX_CHUNKS]; /* where each chunk ends in replies */
	unsigned nr_chunks, released;	       /* chunks in all, chunks let go */
	size_t sent;			       /* bytes of replies written */
	int ours;			       /* the source has the other end */
	struct turn_walker walk;
	bool hung_up;	    /* we shut down our writing side */
	bool source_closed; /* the source closed its end */
	bool go_seen;	    /* the source sent GO here */
#ifdef FUZZ_SOURCE_TLS
	struct fuzz_peer tp; /* the destination's session; tp.tls NULL: raw bytes */
#endif
};

struct fake_dest {
	struct peer c[FUZZ_SRC_MAX_SECTIONS];
	unsigned n;	  /* sections in the input */
	unsigned opened;  /* connections the source opened so far */
	int lfd;	  /* resume mode: the loopback listener the source dials; else -1 */
	char uri[64];	  /* its address */
	int stop_fd;	  /* eventfd: the migration ended */
	uint64_t last_activity_ms; /* the source's last bytes or connection */
#ifdef FUZZ_SOURCE_TLS
	struct tls_ctx *tls;	   /* the destination's credentials; NULL: raw bytes */
	bool raw_checks;	   /* checks as given, not keyed */
#endif
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const uint8_t *find_sep(const uint8_t *p, size_t n, const char *sep, size_t seplen)
{
	for (size_t i = 0; n >= seplen && i <= n - seplen; i++)
		if (p[i] == (uint8_t)sep[0] && memcmp(p + i, sep, seplen) == 0)
			return p + i;
	return NULL;
}

/* Rewrites the check of every complete record in d[0, n), as a
 * destination computes it, keyed by k if set (no PAGES come this way:
 * whole payloads). */
static void fix_checks(uint8_t *d, size_t n, const struct wire_key *k)
{
	for (size_t off = 0; n - off >= WIRE_HDR_SIZE;) {
		struct wire_hdr h;
		wire_decode_hdr(d + off, &h);
		if (h.len > n - off - WIRE_HDR_SIZE)
			return;
		wire_encode_hdr(d + off, h.type, h.len,
				wire_checksum_keyed(k, d + off + WIRE_HDR_SIZE, h.len));
		off += WIRE_HDR_SIZE + h.len;
	}
}

/* One connection's section: its chunks, joined, with their ends noted. */
static void take_section(struct peer *c, const uint8_t *p, size_t n, bool raw_checks)
{
	c->replies = malloc(n ? n : 1);
	FUZZ_ASSERT(c->replies);
	for (;;) {
		const uint8_t *sep = c->nr_chunks + 1 < FUZZ_SRC_MAX_CHUNKS
					 ? find_sep(p, n, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN)
					 : NULL;
		size_t piece = sep ? (size_t)(sep - p) : n;
		memcpy(c->replies + c->len, p, piece);
		c->len += piece;
		c->chunk_end[c->nr_chunks++] = c->len;
		if (!sep)
			break;
		p = sep + FUZZ_TURN_SEP_LEN;
		n -= piece + FUZZ_TURN_SEP_LEN;
	}
	if (!raw_checks)
		fix_checks(c->replies, c->len, NULL);
}

/* Cuts the input (after the options byte) into at most max connections. */
static unsigned split_conns(const uint8_t *d, size_t n, struct peer *c, unsigned max,
			    bool raw_checks)
{
	unsigned k = 0;
	for (;;) {
		const uint8_t *sep = k + 1 < max
					 ? find_sep(d, n, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN)
					 : NULL;
		size_t piece = sep ? (size_t)(sep - d) : n;
		take_section(&c[k++], d, piece, raw_checks);
		if (!sep)
			return k;
		d = sep + FUZZ_CONN_SEP_LEN;
		n -= piece + FUZZ_CONN_SEP_LEN;
	}
}

static size_t released_bytes(const struct peer *c)
{
	return c->released ? c->chunk_end[c->released - 1] : 0;
}

/* Whether the replies let go so far end inside a record, walking them as
 * the source reads them. */
static bool ends_mid_record(const struct peer *c)
{
	size_t end = released_bytes(c), off = 0;
	while (end - off >= WIRE_HDR_SIZE) {
		struct wire_hdr h;
		wire_decode_hdr(c->replies + off, &h);
		if (h.len > end - off - WIRE_HDR_SIZE)
			return true;
		off += WIRE_HDR_SIZE + h.len;
	}
	return off != end;
}

/* Lets the next chunk go, and the ones after it while a record is cut
 * short (the source waits for the rest: no turn would come), or hangs
 * up after the last one. */
static void release_next(struct peer *c)
{
	if (c->released < c->nr_chunks)
		c->released++;
	while (c->released < c->nr_chunks && ends_mid_record(c))
		c->released++;
	if (c->released == c->nr_chunks && !c->hung_up && c->sent == c->len) {
		shutdown(c->ours, SHUT_WR);
		c->hung_up = true;
	}
}

/* n bytes the source sent on c: each turn it took lets a chunk of the
 * answer go. GO is the last record it sends before it reads the answer. */
static void heard(struct peer *c, const uint8_t *buf, size_t n)
{
	unsigned turns = turn_walker_feed(&c->walk, buf, n);
	if (turns && c->walk.last_turn == REC_GO)
		c->go_seen = true;
	while (turns--)
		release_next(c);
}

#ifdef FUZZ_SOURCE_TLS
/* Whether c speaks: in raw bytes, or through a session whose handshake is done. */
static bool speaking(const struct peer *c)
{
	return !c->tp.tls || c->tp.secured;
}

/* The handshake on c goes on; once done, c's checks are keyed and its
 * first chunk goes. A failed one ends c, as the destination would. */
static void shake(struct fake_dest *f, struct peer *c)
{
	int r = fuzz_peer_handshake(&c->tp);
	if (r < 0) {
		shutdown(c->ours, SHUT_WR);
		c->hung_up = c->source_closed = true;
	} else if (r == 1) {
		if (!f->raw_checks)
			fix_checks(c->replies, c->len, &c->tp.key);
		release_next(c);
	}
}

/* Through the session: everything it has now. */
static void hear_source_tls(struct peer *c, bool draining)
{
	uint8_t buf[16384];
	for (;;) {
		ssize_t r = fuzz_peer_read(&c->tp, buf, sizeof(buf));
		if (r == 0 && !draining)
			return;
		if (r <= 0) {
			c->source_closed = true;
			return;
		}
		heard(c, buf, (size_t)r);
	}
}
#endif

/* The source's bytes on c: dropped, but each turn lets a chunk go. */
static void hear_source(struct peer *c, bool draining)
{
	uint8_t buf[65536];
#ifdef FUZZ_SOURCE_TLS
	if (c->tp.tls) {
		if (c->tp.secured)
			hear_source_tls(c, draining);
		else if (draining)
			c->source_closed = true;
		return;
	}
#endif
	ssize_t r = read(c->ours, buf, sizeof(buf));
	if (r < 0 && (errno == EINTR || (errno == EAGAIN && !draining)))
		return;
	if (r <= 0) { /* draining, EAGAIN: the engine left it open, nothing more comes */
		c->source_closed = true;
		return;
	}
	heard(c, buf, (size_t)r);
}

static void write_released(struct peer *c)
{
	size_t upto = released_bytes(c);
	if (c->sent < upto) {
#ifdef FUZZ_SOURCE_TLS
		ssize_t w = fuzz_peer_write(&c->tp, c->replies + c->sent, upto - c->sent);
		errno = w == 0 ? EAGAIN : EPIPE; /* as send() would say */
		if (w == 0)
			w = -1;
#else
		ssize_t w = send(c->ours, c->replies + c->sent, upto - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
#endif
		if (w > 0)
			c->sent += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			c->sent = c->len; /* the source is gone: nothing more to say */
	}
	/* All said, or the source ended its stream (a failed source waits for
	 * the destination's end before it closes): hang up, as a destination does. */
	bool all_said = c->released == c->nr_chunks && c->sent >= upto;
	if ((all_said || c->source_closed) && !c->hung_up) {
		shutdown(c->ours, SHUT_WR);
		c->hung_up = true;
	}
}

/* Whether the source has read everything sent on c. */
static bool all_read(const struct peer *c)
{
	int unread = 0;
	return c->sent == released_bytes(c) && ioctl(c->ours, SIOCOUTQ, &unread) == 0 && !unread;
}

/* Whether a thread of this process other than the caller is running or
 * about to (a source computing a plan, compressing, sampling, faulting
 * pages in), not asleep waiting for something. */
static bool others_running(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool running = false;
	pid_t me = gettid();
	while (d && !running && (e = readdir(d))) {
		char path[64], stat[512];
		if (e->d_name[0] == '.' || atoi(e->d_name) == me)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		FILE *fp = fopen(path, "r");
		size_t n = fp ? fread(stat, 1, sizeof(stat) - 1, fp) : 0;
		if (fp)
			fclose(fp);
		stat[n] = 0;
		const char *state = strrchr(stat, ')'); /* "pid (comm) S ..." */
		running = state && state[1] == ' ' && state[2] != 'S'; /* R, or D in a fault */
	}
	if (d)
		closedir(d);
	return running;
}

/* Quiet: on no connection has the source sent anything for a while, it
 * has read all we sent and none of its threads ran when looked at: it waits for what
 * only a later chunk holds. Every connection then gets its next chunk
 * (or the hang-up). One connection alone going quiet says nothing: a
 * data channel is, while the main one works, and the other way round;
 * nor does time alone, on a loaded host. */
static void release_if_quiet(struct fake_dest *f, uint64_t now)
{
	if (others_running()) /* looked at every FUZZ_SRC_QUIET_MS / 4: all must see none */
		f->last_activity_ms = now;
	if (now - f->last_activity_ms < FUZZ_SRC_QUIET_MS)
		return;
	for (unsigned i = 0; i < f->opened; i++)
		if (!f->c[i].hung_up && !f->c[i].source_closed && !all_read(&f->c[i]))
			return;
	for (unsigned i = 0; i < f->opened; i++)
#ifdef FUZZ_SOURCE_TLS
		if (!f->c[i].hung_up && !f->c[i].source_closed && speaking(&f->c[i]))
#else
		if (!f->c[i].hung_up && !f->c[i].source_closed)
#endif
			release_next(&f->c[i]);
	f->last_activity_ms = now;
}

/* Connection number f->opened begins: its section's chunk 0 goes at once. */
static void begin_conn(struct fake_dest *f, int fd, uint64_t now)
{
	struct peer *c = &f->c[f->opened++];
	c->ours = fd;
	f->last_activity_ms = now;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
#ifdef FUZZ_SOURCE_TLS
	c->tp.fd = fd;
	if (f->tls) { /* chunk 0 after the handshake */
		fuzz_peer_start_tls(&c->tp, f->tls);
		return;
	}
#endif
	release_next(c);
}

/* Resume mode: the source dialled (again); a connection past the
 * input's sections is closed at once, as by a destination gone. */
static void take_connection(struct fake_dest *f, uint64_t now)
{
	int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (f->opened < f->n)
		begin_conn(f, fd, now);
	else
		close(fd);
}

/* Socketpair mode: every connection at once, theirs for the engine. */
static int open_pairs(struct fake_dest *f, int *theirs)
{
	uint64_t now = now_ms();
	while (f->opened < f->n) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -errno;
		theirs[f->opened] = sv[1];
		begin_conn(f, sv[0], now);
	}
	return 0;
}

/* Resume mode: a loopback listener on a port the kernel picks. */
static int open_listener(struct fake_dest *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(f->lfd, FUZZ_SRC_MAX_SECTIONS) ||
	    getsockname(f->lfd, (struct sockaddr *)&a, &alen))
		return -errno;
	snprintf(f->uri, sizeof(f->uri), "tcp:127.0.0.1:%u", ntohs(a.sin_port));
	return 0;
}

static void *fake_dest_thread(void *arg)
{
	struct fake_dest *f = arg;
	struct pollfd p[2 + FUZZ_SRC_MAX_SECTIONS];
	for (;;) {
		p[0] = (struct pollfd){.fd = f->stop_fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
		for (unsigned i = 0; i < f->opened; i++) {
			struct peer *c = &f->c[i];
			short ev = c->source_closed ? 0 : POLLIN;
			if (c->sent < released_bytes(c))
				ev |= POLLOUT;
#ifdef FUZZ_SOURCE_TLS
			if (!c->source_closed && !speaking(c))
				ev = c->tp.events;
#endif
			p[2 + i] = (struct pollfd){.fd = ev ? c->ours : -1, .events = ev};
		}
		if (poll(p, 2 + f->opened, FUZZ_SRC_QUIET_MS / 4) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents) {
			/* the engine closed every connection: hear its last words */
			for (unsigned i = 0; i < f->opened; i++)
				while (!f->c[i].source_closed)
					hear_source(&f->c[i], true);
			return NULL;
		}
		uint64_t now = now_ms();
		if (p[1].revents)
			take_connection(f, now);
		for (unsigned i = 0; i < f->opened; i++) {
			struct peer *c = &f->c[i];
			short rev = p[2 + i].revents;
#ifdef FUZZ_SOURCE_TLS
			if (!c->source_closed && !speaking(c)) {
				if (rev)
					f->last_activity_ms = now;
				shake(f, c);
				continue;
			}
#endif
			if (rev & (POLLIN | POLLHUP | POLLERR)) {
				hear_source(c, false);
				f->last_activity_ms = now;
			}
			write_released(c);
		}
		release_if_quiet(f, now);
		for (unsigned i = 0; i < f->opened; i++)
			write_released(&f->c[i]);
	}
}

/* Whether c's replies hold a whole record of that type, walking them as
 * the source reads them. */
static bool has_record(const struct peer *c, uint32_t type)
{
	for (size_t off = 0; c->len - off >= WIRE_HDR_SIZE;) {
		struct wire_hdr h;
		wire_decode_hdr(c->replies + off, &h);
		if (h.len > c->len - off - WIRE_HDR_SIZE)
			return false;
		if (h.type == type)
			return true;
		off += WIRE_HDR_SIZE + h.len;
	}
	return false;
}

static void quiet_log(void *opaque, enum vmig_log_level level, const char *line)
{
}

static struct fake_guest *guest_once(void)
{
	static struct fake_guest g;
	static bool ready;
	if (!ready) {
		fg_init_pages(&g, FUZZ_SRC_GUEST_PAGES, false);
		/* a few pages with data, the rest zero: both kinds go */
		for (unsigned p = 1; p < FUZZ_SRC_GUEST_PAGES; p += 9)
			snprintf((char *)g.mem + (size_t)p * 4096, 64, "page %u of the source", p);
		snprintf(g.state, sizeof(g.state), "cpu state of the source");
		vmig_set_log_handler(quiet_log, NULL, VMIG_LOG_ERROR);
		sender_hot_probe_ms = 0; /* its guest never writes: nothing to watch for */
		ready = true;
	}
	g.paused = g.resumed = g.tracking = false;
	g.throttle_pct = 0;
	return &g;
}

struct outcome {
	struct vmig_migrate_stats st;
	bool done;
	uint64_t took_ms;
};

static void on_done(void *opaque, const struct vmig_migrate_stats *st)
{
	struct outcome *o = opaque;
	o->st = *st;
	o->done = true;
}

/* The source's side of one run: start, wait for the end. */
static void migrate(struct fake_guest *g, const struct fake_dest *f, const int *fds,
		    uint8_t options, struct outcome *o)
{
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	struct vmig_guest guest = {&fg_ops, g};
	struct vmig_migration *m;
	char err[512];
	if (options & FUZZ_SRC_OPT_RESUME) {
		p.uri = f->uri;
		p.channels = FUZZ_SRC_OPT_CHANNELS(options);
		p.resume_timeout_ms = FUZZ_SRC_RESUME_MS;
	} else {
		p.fds = fds;
		p.nr_fds = f->n;
	}
	p.io_timeout_ms = FUZZ_SRC_IO_TIMEOUT_MS;
#ifdef FUZZ_SOURCE_TLS
	struct tls_opts tls = fuzz_tls_opts(options & FUZZ_SRC_OPT_TLS_PSK, TLS_CLIENT);
	p.tls_creds_dir = tls.creds_dir;
	p.tls_psk_file = tls.psk_file;
	p.tls_hostname = tls.hostname;
#endif
	p.timeout_ms = FUZZ_SRC_RUN_LIMIT_MS / 2; /* passes that never converge end too */
	p.policy = options & FUZZ_SRC_OPT_POLICY_AUTO ? VMIG_POLICY_AUTO : VMIG_POLICY_FIXED;
	p.compress_threads = 1;
	p.done = on_done;
	p.opaque = o;
	uint64_t t0 = now_ms();
	if (vmig_migration_start(&guest, &p, &m, err, sizeof(err))) {
		FUZZ_ASSERT(!"vmig_migration_start refused a valid start");
		return;
	}
	vmig_migration_free(m); /* waits for the migration thread */
	o->took_ms = now_ms() - t0;
}

/* After the fake destination heard all the source sent. */
static void check(struct fake_guest *g, const struct fake_dest *f, const struct outcome *o,
		  uint8_t options)
{
	if (getenv("FUZZ_SOURCE_VERBOSE"))
		fprintf(stderr, "fuzz_source: %s after %llu ms, %llu passes, %llu resumes%s%s\n",
			vmig_mig_status_name(o->st.status), (unsigned long long)o->took_ms,
			(unsigned long long)o->st.iterations, (unsigned long long)o->st.resumes,
			o->st.error[0] ? ": " : "", o->st.error);
	FUZZ_ASSERT(o->done);
	FUZZ_ASSERT(o->took_ms < FUZZ_SRC_RUN_LIMIT_MS);
	enum vmig_mig_status s = o->st.status;
	FUZZ_ASSERT(s == VMIG_MIG_FAILED || s == VMIG_MIG_COMPLETED || s == VMIG_MIG_UNCONFIRMED);
#ifdef FUZZ_SOURCE_TLS
	/* without a handshake, nobody authenticated: nothing may go */
	FUZZ_ASSERT(!(options & FUZZ_SRC_OPT_TLS_RAW) || s == VMIG_MIG_FAILED);
#else
	(void)options;
#endif
	/* GO goes on the main connection of the last session */
	const struct peer *main_conn = &f->c[0];
	for (unsigned i = 0; i < f->opened; i++)
		if (f->c[i].go_seen)
			main_conn = &f->c[i];
	if (s == VMIG_MIG_FAILED) {
		/* the guest is ours again, at full speed */
		FUZZ_ASSERT(!fg_is_paused(g));
		FUZZ_ASSERT(!g->tracking && g->throttle_pct == 0);
		/* after GO, only the destination's word that it failed */
		FUZZ_ASSERT(!main_conn->go_seen || has_record(main_conn, REC_ERROR));
	} else {
		FUZZ_ASSERT(main_conn->go_seen && fg_is_paused(g));
		FUZZ_ASSERT(s != VMIG_MIG_COMPLETED ||
			    (o->st.verified && has_record(main_conn, REC_RESUMED)));
	}
}

#ifdef FUZZ_SOURCE_TLS
static struct tls_ctx *server_ctx(bool psk)
{
	static struct tls_ctx *ctx[2];
	char err[512];
	if (!ctx[psk]) {
		struct tls_opts o = fuzz_tls_opts(psk, TLS_SERVER);
		FUZZ_ASSERT(tls_ctx_new(&o, TLS_SERVER, &ctx[psk], err, sizeof(err)) == 0);
	}
	return ctx[psk];
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct fake_guest *g = guest_once();
	struct fake_dest f = {.stop_fd = eventfd(0, EFD_CLOEXEC)};
	int theirs[FUZZ_MAX_CONNS];
	pthread_t t;
	uint8_t options = data[0];
	bool resume = options & FUZZ_SRC_OPT_RESUME;
	FUZZ_ASSERT(f.stop_fd >= 0);
	bool raw_checks = options & FUZZ_SRC_OPT_RAW_CHECKS;
#ifdef FUZZ_SOURCE_TLS
	if (!(options & FUZZ_SRC_OPT_TLS_RAW))
		f.tls = server_ctx(options & FUZZ_SRC_OPT_TLS_PSK);
	f.raw_checks = raw_checks;
	raw_checks |= f.tls != NULL; /* keyed once each handshake is done */
#endif
	f.n = split_conns(data + 1, size - 1, f.c, resume ? FUZZ_SRC_MAX_SECTIONS : FUZZ_MAX_CONNS,
			  raw_checks);
	f.lfd = -1;
	if (resume)
		FUZZ_ASSERT(open_listener(&f) == 0);
	else
		FUZZ_ASSERT(open_pairs(&f, theirs) == 0); /* theirs: the engine's from here on */
	FUZZ_ASSERT(pthread_create(&t, NULL, fake_dest_thread, &f) == 0);
	struct outcome o = {.st.size = sizeof(o.st)};
	migrate(g, &f, theirs, options, &o);
	uint64_t one = 1;
	FUZZ_ASSERT(write(f.stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(t, NULL);
	check(g, &f, &o, options);
	for (unsigned i = 0; i < f.n; i++) {
		if (i < f.opened)
			close(f.c[i].ours);
#ifdef FUZZ_SOURCE_TLS
		fuzz_peer_free(&f.c[i].tp);
#endif
		free(f.c[i].replies);
	}
	if (f.lfd >= 0)
		close(f.lfd);
	close(f.stop_fd);
	return 0;
}

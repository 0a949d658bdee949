/* SPDX-License-Identifier: MIT */
/*
 * Seed corpora for the fuzz targets, made by the code under test so that
 * they follow the wire format whenever it changes:
 *
 *   fuzz_seeds OUTDIR   writes OUTDIR/TARGET/NAME
 *
 * stream: real migrations of a TEST DOUBLE guest (fake_guest.h, shrunk to
 * the fuzz target's layout) by the real sender to the real receiver,
 * through a relay that records what the source sends on each connection
 * (every codec, XBZRLE, data channels), and every bad stream
 * tests/tools/hostile_streams.c builds, for the same layout.
 * source: what the destination answered in those migrations, cut at the
 * source's turns (fuzz_source_input.h), and variants of it: a refusal, an
 * ERROR in place of each answer, no answer to GO.
 * wire: each record's payload from its encoder, compressed batches from
 * each codec, an XBZRLE delta. vm_state: valid blobs (vm_state_encode).
 * control: request lines of every shape. control_client: what a VMM
 * answers `vmig migrate`, and answers that do not fit. tls_psk and
 * cli_values: PSK files and command-line values, good and bad. Exits
 * non-zero if a seed that
 * should be valid is refused by its own decoder.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tools/hostile_streams.h"
#include "../unit/fake_guest.h"
#include "codec/codec.h"
#include "codec/xbzrle.h"
#include "fuzz_control_client_input.h"
#include "fuzz_resume_input.h"
#include "fuzz_seed_guest.h"
#include "fuzz_source_input.h"
#include "fuzz_state_host.h"
#include "fuzz_tls_creds.h"
#include "fuzz_tls_input.h"
#include "fuzz_stream_input.h"
#include "fuzz_wire_ops.h"
#include "migration/wire.h"
#include "vmig/migration.h"

#define MIGRATION_TRIES 5 /* runs of a case whose passes depend on timing */

static const char *outdir;
static int failures;

static void write_seed(const char *target, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "fuzz_seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_seeds: %s: %s\n", what, why);
	failures++;
}

/* ---- stream: recorded migrations ---- */

/* One connection through the relay: the source's end, the destination's. */
struct leg {
	int src[2], dst[2]; /* socketpairs: [0] for the engine, [1] the relay's */
	struct vbuf sent;   /* what the source sent */
	struct vbuf replies; /* what the destination answered */
	bool src_eof, dst_eof;
};

struct relay {
	struct leg leg[FUZZ_MAX_CONNS];
	unsigned n;
};

/* Copies what from has; rec records it. */
static bool copy_once(int from, int to, struct vbuf *rec)
{
	uint8_t buf[65536];
	ssize_t r = read(from, buf, sizeof(buf));
	if (r <= 0) {
		shutdown(to, SHUT_WR);
		return false;
	}
	vbuf_put(rec, buf, (size_t)r);
	for (ssize_t off = 0; off < r;) {
		ssize_t w = send(to, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
		if (w <= 0)
			return true; /* that side left; its EOF comes by the other way */
		off += w;
	}
	return true;
}

/* Copies both ways, recording the source's bytes, until every end closed. */
static void *relay_thread(void *arg)
{
	struct relay *r = arg;
	for (;;) {
		struct pollfd p[2 * FUZZ_MAX_CONNS];
		unsigned open = 0;
		for (unsigned i = 0; i < r->n; i++) {
			struct leg *l = &r->leg[i];
			p[2 * i] =
			    (struct pollfd){.fd = l->src_eof ? -1 : l->src[1], .events = POLLIN};
			p[2 * i + 1] =
			    (struct pollfd){.fd = l->dst_eof ? -1 : l->dst[1], .events = POLLIN};
			open += !l->src_eof + !l->dst_eof;
		}
		if (!open || poll(p, 2 * r->n, 20000) <= 0)
			return NULL;
		for (unsigned i = 0; i < r->n; i++) {
			struct leg *l = &r->leg[i];
			if (p[2 * i].revents)
				l->src_eof = !copy_once(l->src[1], l->dst[1], &l->sent);
			if (p[2 * i + 1].revents)
				l->dst_eof = !copy_once(l->dst[1], l->src[1], &l->replies);
		}
	}
}

struct dest {
	struct fake_guest g;
	int fds[FUZZ_MAX_CONNS];
	unsigned n;
	int result;
	char err[512];
	struct vmig_incoming_stats st;
};

static void *dest_thread(void *arg)
{
	struct dest *d = arg;
	struct vmig_incoming_params p = VMIG_INCOMING_PARAMS_INIT;
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	p.fds = d->fds;
	p.nr_fds = d->n;
	p.accept_timeout_ms = 10000;
	if ((d->result = vmig_incoming_create(&p, &in, d->err, sizeof(d->err))))
		return NULL;
	if (!(d->result = vmig_incoming_accept(in, &cfg, d->err, sizeof(d->err)))) {
		struct vmig_guest g = {&fg_ops, &d->g};
		d->result = vmig_incoming_run(in, &g, &d->st, d->err, sizeof(d->err));
	}
	vmig_incoming_free(in);
	return NULL;
}

struct migration_case {
	const char *name;
	const char *codec;
	unsigned channels;
	bool xbzrle; /* and a writer dirtying a few pages, so that pages go again */
	/* also a seed of fuzz_source from the destination's answers (only
	 * for a guest that does not write, as fuzz_source's), and its options */
	bool source_seed;
	uint8_t source_options;
};

/* ---- source: the destination's answers ---- */

/*
 * source_tls: a few of the source's seeds through an X.509 and a PSK
 * session, and without a handshake (in place of a ServerHello): each run
 * of that target costs 50 to 500 ms, and the option bits are the
 * mutator's to flip for the others.
 */
static void put_source_tls_seeds(const char *name, struct vbuf *b)
{
	static const struct {
		const char *seed;
		uint8_t bits;
		const char *suffix;
	} tls[] = {
	    {"migrate-none", 0, "x509"},
	    {"migrate-none", FUZZ_SRC_OPT_TLS_PSK, "psk"},
	    {"migrate-none", FUZZ_SRC_OPT_TLS_RAW, "no-handshake"},
	    {"migrate-zstd-2ch", FUZZ_SRC_OPT_TLS_PSK, "psk"},
	    {"migrate-none-refused", 0, "x509"},
	    {"migrate-none-error-at-turn-3", FUZZ_SRC_OPT_TLS_PSK, "psk"},
	    {"resume-from-pass-1", 0, "x509"},
	    {"resume-from-pass-0-2ch", FUZZ_SRC_OPT_TLS_PSK, "psk"},
	};
	uint8_t options = b->data[0];
	char tls_name[160];
	for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++) {
		if (strcmp(name, tls[i].seed))
			continue;
		b->data[0] = options | tls[i].bits;
		snprintf(tls_name, sizeof(tls_name), "%s-%s", name, tls[i].suffix);
		write_seed("source_tls", tls_name, b->data, b->len);
	}
	b->data[0] = options;
}

static void put_source_seed(const char *name, uint8_t options, const struct vbuf *conns,
			    unsigned n)
{
	struct vbuf b;
	vbuf_init(&b);
	vbuf_put_u8(&b, options);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			vbuf_put(&b, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN);
		vbuf_put(&b, conns[i].data, conns[i].len);
	}
	write_seed("source", name, b.data, b.len);
	put_source_tls_seeds(name, &b);
	vbuf_free(&b);
}

/* The main connection's answers with chunk k replaced by the record
 * (type, payload) (none: type 0), or cut after chunk k - 1 (cut). */
static void vary_chunk(const struct vbuf *main, unsigned k, uint32_t type, const void *payload,
		       size_t len, bool cut, struct vbuf *out)
{
	const uint8_t *p = main->data, *end = main->data + main->len;
	vbuf_init(out);
	for (unsigned i = 0; p <= end; i++) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
		const uint8_t *chunk_end = sep ? sep : end;
		if (i == k && cut)
			return;
		if (i)
			vbuf_put(out, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
		if (i != k)
			vbuf_put(out, p, (size_t)(chunk_end - p));
		else if (type)
			wire_put_record(out, type, payload, len);
		if (!sep)
			return;
		p = sep + FUZZ_TURN_SEP_LEN;
	}
}

/* A destination's answers cut into chunks, one per turn of the source
 * (fuzz_source_input.h): each answer (HELLO_ACK, SYNC_ACK, READY,
 * RESUMED, ERROR) starts one; ALIVE follows RESUMED unasked. Cut by
 * records, not by when they came: what the relay read of the source at
 * once may hold two turns. */
static void cut_at_answers(const struct vbuf *replies, struct vbuf *out)
{
	vbuf_init(out);
	for (size_t off = 0; replies->len - off >= WIRE_HDR_SIZE;) {
		struct wire_hdr h;
		wire_decode_hdr(replies->data + off, &h);
		size_t rec = WIRE_HDR_SIZE + h.len;
		if (rec > replies->len - off)
			rec = replies->len - off;
		if (h.type != REC_ALIVE)
			vbuf_put(out, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
		vbuf_put(out, replies->data + off, rec);
		off += rec;
	}
}

/* The recorded answers, and variants of the main connection's that a
 * destination could send: a refusal, an ERROR instead of each answer
 * (after GO too), no answer to GO. */
static void source_seeds(const struct migration_case *mc, const struct relay *r)
{
	struct vbuf conns[FUZZ_MAX_CONNS];
	char name[128];
	for (unsigned i = 0; i < r->n; i++)
		cut_at_answers(&r->leg[i].replies, &conns[i]);
	snprintf(name, sizeof(name), "%s", mc->name);
	put_source_seed(name, mc->source_options, conns, r->n);
	if (mc->channels > 1) { /* the variants of the others are enough */
		for (unsigned i = 0; i < r->n; i++)
			vbuf_free(&conns[i]);
		return;
	}
	struct vbuf refusal, error;
	vbuf_init(&refusal);
	vbuf_init(&error);
	struct wire_hello_ack a = {.version = WIRE_VERSION, .status = 1};
	snprintf(a.message, sizeof(a.message), "not enough memory for this guest");
	wire_encode_hello_ack(&refusal, &a);
	wire_encode_error(&error, -EIO, "the destination failed");
	unsigned turns = 0;
	for (const uint8_t *p = conns[0].data;
	     (p = memmem(p, conns[0].len - (size_t)(p - conns[0].data), FUZZ_TURN_SEP,
			 FUZZ_TURN_SEP_LEN));
	     p += FUZZ_TURN_SEP_LEN)
		turns++;
	struct vbuf varied[FUZZ_MAX_CONNS];
	memcpy(varied, conns, sizeof(varied));
	vary_chunk(&conns[0], 1, REC_HELLO_ACK, refusal.data, refusal.len, false, &varied[0]);
	snprintf(name, sizeof(name), "%s-refused", mc->name);
	put_source_seed(name, mc->source_options, varied, r->n);
	vbuf_free(&varied[0]);
	for (unsigned k = 2; k <= turns; k++) {
		vary_chunk(&conns[0], k, REC_ERROR, error.data, error.len, false, &varied[0]);
		snprintf(name, sizeof(name), "%s-error-at-turn-%u", mc->name, k);
		put_source_seed(name, mc->source_options, varied, r->n);
		vbuf_free(&varied[0]);
	}
	vary_chunk(&conns[0], turns, 0, NULL, 0, true, &varied[0]);
	snprintf(name, sizeof(name), "%s-no-answer-to-go", mc->name);
	put_source_seed(name, mc->source_options, varied, r->n);
	vbuf_free(&varied[0]);
	vbuf_free(&refusal);
	vbuf_free(&error);
	for (unsigned i = 0; i < r->n; i++)
		vbuf_free(&conns[i]);
}

/* Resume mode (FUZZ_SRC_OPT_RESUME): a first session that breaks after
 * HELLO_ACK (the destination hangs up: the source hears it when it reads
 * pass 1's acknowledgement), and a second that resumes from pass held,
 * with progress pages of the next pass arrived on each stream, acknowledges
 * each pass after it and hands over. Answers built by the wire encoders. */
static void resume_seed(const char *name, unsigned channels, uint64_t held, uint64_t progress,
			unsigned passes_after)
{
	struct vbuf conns[2 * (1 + 3)], ack;
	struct wire_hello_ack a = {.version = WIRE_VERSION};
	unsigned n = 0, streams = channels ? channels : 1;
	vbuf_init(&ack);
	wire_encode_hello_ack(&ack, &a);
	vbuf_init(&conns[n]); /* session 1, main: HELLO_ACK, then gone */
	vbuf_put(&conns[n], FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
	wire_put_record(&conns[n++], REC_HELLO_ACK, ack.data, ack.len);
	for (unsigned i = 0; i < channels; i++)
		vbuf_init(&conns[n++]); /* its data channels: gone at once */
	a.resume_pass = held;
	a.nr_progress = streams;
	for (unsigned i = 0; i < streams; i++)
		a.progress[i] = progress;
	vbuf_reset(&ack);
	wire_encode_hello_ack(&ack, &a);
	struct vbuf *main2 = &conns[n++];
	vbuf_init(main2);
	vbuf_put(main2, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
	wire_put_record(main2, REC_HELLO_ACK, ack.data, ack.len);
	for (unsigned i = 0; i <= channels; i++) {
		struct vbuf *c = i ? &conns[n++] : main2; /* SYNC_ACKs go where the pages went */
		if (i)
			vbuf_init(c);
		for (unsigned k = 1; (i || !channels) && k <= passes_after; k++) {
			uint8_t sa[WIRE_SYNC_ACK_SIZE];
			struct wire_sync_ack s = {.pass = held + k};
			wire_encode_sync_ack(sa, &s);
			vbuf_put(c, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
			wire_put_record(c, REC_SYNC_ACK, sa, sizeof(sa));
		}
	}
	uint8_t alive[WIRE_ALIVE_SIZE];
	wire_encode_alive(alive, &(struct wire_alive){0, 0});
	vbuf_put(main2, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
	wire_put_record(main2, REC_READY, NULL, 0);
	vbuf_put(main2, FUZZ_TURN_SEP, FUZZ_TURN_SEP_LEN);
	wire_put_record(main2, REC_RESUMED, NULL, 0);
	wire_put_record(main2, REC_ALIVE, alive, sizeof(alive));
	/* sessions in the order the source opens their connections */
	put_source_seed(name, FUZZ_SRC_OPT_RESUME | (uint8_t)(channels << 4), conns, n);
	for (unsigned i = 0; i < n; i++)
		vbuf_free(&conns[i]);
	vbuf_free(&ack);
}

static void resume_seeds(void)
{
	resume_seed("resume-from-pass-0", 0, 0, 64, 2);
	resume_seed("resume-from-pass-1", 0, 1, UINT64_MAX, 2);
	resume_seed("resume-from-pass-0-2ch", 2, 0, 100, 2);
}

/* ---- resume: what a destination hears after a broken link ---- */

/* Where the n-th record (from 1) of type (0: any) ends in b; 0 if none. */
static size_t record_end(const struct vbuf *b, uint32_t type, unsigned n)
{
	for (size_t off = 0; b->len - off >= WIRE_HDR_SIZE;) {
		struct wire_hdr h;
		wire_decode_hdr(b->data + off, &h);
		if (h.len > b->len - off - WIRE_HDR_SIZE)
			return 0;
		off += WIRE_HDR_SIZE + h.len;
		if ((!type || h.type == type) && !--n)
			return off;
	}
	return 0;
}

/* The source's HELLO (the first record of main) made a reconnect's:
 * resuming session + session_delta (flag false: a plain HELLO again). */
static void put_resume_hello(struct vbuf *out, const struct vbuf *main, bool flag,
			     uint64_t session_delta)
{
	struct wire_hdr h;
	struct wire_hello hello;
	char err[256];
	wire_decode_hdr(main->data, &h);
	if (wire_decode_hello(main->data + WIRE_HDR_SIZE, h.len, &hello, err, sizeof(err))) {
		fail("resume seed HELLO", err);
		return;
	}
	hello.features = flag ? WIRE_FEATURE_RESUME : 0;
	hello.session += session_delta;
	struct vbuf pl;
	vbuf_init(&pl);
	wire_encode_hello(&pl, &hello);
	wire_put_record(out, REC_HELLO, pl.data, pl.len);
	vbuf_free(&pl);
}

/* One session's connections: conns[k][from[k], to[k]), each after a
 * first record of its own (main: a reconnect's HELLO when resuming). */
static void put_session(struct vbuf *out, const struct relay *r, const size_t *from,
			const size_t *to, bool resuming, bool flag, uint64_t session_delta)
{
	for (unsigned k = 0; k < r->n; k++) {
		const struct vbuf *b = &r->leg[k].sent;
		size_t first = record_end(b, 0, 1);
		if (k)
			vbuf_put(out, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN);
		if (resuming && k == 0)
			put_resume_hello(out, b, flag, session_delta);
		else if (resuming)
			vbuf_put(out, b->data, first); /* CHANNEL_HELLO again */
		size_t lo = from[k] > first || !resuming ? from[k] : first;
		vbuf_put(out, b->data + lo, to[k] - lo);
	}
}

/*
 * Sessions cut from a recorded migration: the first ends at each
 * connection's cut (the link breaks), each later one resumes from where
 * the one before broke. cut[s][k]: where session s ends on connection k
 * (the last session runs to the end). Variants: the reconnects' HELLO
 * not flagged as a resume, or quoting another session.
 */
static void resume_dest_seed(const char *name, const struct relay *r, size_t cut[][FUZZ_MAX_CONNS],
			     unsigned sessions, bool flag, uint64_t session_delta)
{
	struct vbuf all;
	size_t from[FUZZ_MAX_CONNS] = {0}, to[FUZZ_MAX_CONNS] = {0};
	vbuf_init(&all);
	for (unsigned s = 0; s < sessions; s++) {
		for (unsigned k = 0; k < r->n; k++)
			to[k] = s + 1 < sessions ? cut[s][k] : r->leg[k].sent.len;
		if (s)
			vbuf_put(&all, FUZZ_SESSION_SEP, FUZZ_SESSION_SEP_LEN);
		put_session(&all, r, from, to, s > 0, flag, session_delta);
		memcpy(from, to, sizeof(from));
	}
	write_seed("resume", name, all.data, all.len);
	vbuf_free(&all);
}

static void resume_dest_seeds(const struct migration_case *mc, const struct relay *r)
{
	size_t cut[3][FUZZ_MAX_CONNS];
	char name[128];
	/* each stream broken after its first or second closed pass (the main
	 * connection with data channels: after its HELLO) */
	for (unsigned s = 0; s < 2; s++)
		for (unsigned k = 0; k < r->n; k++) {
			size_t at = record_end(&r->leg[k].sent, REC_SYNC, s + 1);
			cut[s][k] = at ? at : record_end(&r->leg[k].sent, 0, 1);
		}
	snprintf(name, sizeof(name), "%s-after-pass-1", mc->name);
	resume_dest_seed(name, r, cut, 2, true, 0);
	snprintf(name, sizeof(name), "%s-twice", mc->name);
	resume_dest_seed(name, r, cut, 3, true, 0);
	snprintf(name, sizeof(name), "%s-not-a-resume", mc->name);
	resume_dest_seed(name, r, cut, 2, false, 0);
	snprintf(name, sizeof(name), "%s-another-session", mc->name);
	resume_dest_seed(name, r, cut, 2, true, 1);
	if (r->n > 1)
		return;
	/* one connection: broken in the middle of pass 1, and after the pause
	 * (STATE: no resume) */
	cut[0][0] = record_end(&r->leg[0].sent, 0, 3);
	snprintf(name, sizeof(name), "%s-mid-pass", mc->name);
	resume_dest_seed(name, r, cut, 2, true, 0);
	cut[0][0] = record_end(&r->leg[0].sent, REC_STATE, 1);
	snprintf(name, sizeof(name), "%s-after-the-pause", mc->name);
	resume_dest_seed(name, r, cut, 2, true, 0);
}

/* ---- tls_destination: strangers at a destination requiring TLS ---- */

static void put_tls_seed(const char *name, bool psk, enum fuzz_tls_mode mode, const void *p,
			 size_t n)
{
	struct vbuf b;
	char full[160];
	uint8_t opt = FUZZ_TLS_OPTIONS(psk, mode);
	vbuf_init(&b);
	vbuf_put(&b, &opt, 1);
	vbuf_put(&b, p, n);
	snprintf(full, sizeof(full), "%s-%s", name, psk ? "psk" : "x509");
	write_seed("tls_destination", full, b.data, b.len);
	vbuf_free(&b);
}

/* A recorded migration as an authenticated stranger sends it. */
static void tls_stream_seeds(const struct migration_case *mc, const struct vbuf *all)
{
	char name[128];
	snprintf(name, sizeof(name), "session-%s", mc->name);
	put_tls_seed(name, false, FUZZ_TLS_MODE_SESSION, all->data, all->len);
	put_tls_seed(name, true, FUZZ_TLS_MODE_SESSION, all->data, all->len);
	if (mc->channels)
		return;
	/* replayed into another session: its plain checks; and beside it */
	snprintf(name, sizeof(name), "replayed-%s", mc->name);
	put_tls_seed(name, false, FUZZ_TLS_MODE_SESSION_RAW_CHECKS, all->data, all->len);
	size_t hello = record_end(all, REC_HELLO, 1);
	put_tls_seed("plaintext-hello-after-handshake", true, FUZZ_TLS_MODE_AFTER_HANDSHAKE,
		     all->data, hello);
	put_tls_seed("plaintext-hello", false, FUZZ_TLS_MODE_RAW, all->data, hello);
}

/* What a real source sends first: its ClientHello. */
static void client_hello(bool psk, struct vbuf *out)
{
	struct tls_opts o = fuzz_tls_opts(psk, TLS_CLIENT);
	struct tls_ctx *ctx;
	struct tls_conn *t;
	char err[512];
	int sv[2];
	short ev;
	uint8_t buf[16384];
	if (tls_ctx_new(&o, TLS_CLIENT, &ctx, err, sizeof(err)) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)) {
		fail("ClientHello", err);
		return;
	}
	if (tls_conn_new(ctx, sv[0], &t, err, sizeof(err)) == 0) {
		tls_conn_handshake(t, &ev, err, sizeof(err)); /* writes it, then wants an answer */
		ssize_t n = read(sv[1], buf, sizeof(buf));
		if (n > 0)
			vbuf_put(out, buf, (size_t)n);
		tls_conn_free(t);
	}
	if (!out->len)
		fail("ClientHello", "nothing sent");
	close(sv[0]);
	close(sv[1]);
	tls_ctx_free(ctx);
}

/* Strangers that never authenticate: ClientHellos whole, cut short and
 * for the other credentials; TLS records that are not a handshake; noise. */
static void tls_stranger_seeds(void)
{
	static const uint8_t huge_record[] = {0x16, 0x03, 0x03, 0xff, 0xff, 0x01};
	static const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
	static const uint8_t sslv2[] = {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15};
	for (int psk = 0; psk < 2; psk++) {
		struct vbuf ch;
		char name[64];
		vbuf_init(&ch);
		client_hello(psk, &ch);
		put_tls_seed("client-hello", psk, FUZZ_TLS_MODE_RAW, ch.data, ch.len);
		put_tls_seed("client-hello-other-creds", !psk, FUZZ_TLS_MODE_RAW, ch.data, ch.len);
		size_t cuts[] = {1, 5, 9, ch.len / 2, ch.len - 1};
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			snprintf(name, sizeof(name), "client-hello-cut-%zu", cuts[i]);
			put_tls_seed(name, psk, FUZZ_TLS_MODE_RAW, ch.data, cuts[i]);
		}
		/* a second ClientHello where the session's records go */
		put_tls_seed("client-hello-after-handshake", psk, FUZZ_TLS_MODE_AFTER_HANDSHAKE,
			     ch.data, ch.len);
		vbuf_free(&ch);
		put_tls_seed("huge-record", psk, FUZZ_TLS_MODE_RAW, huge_record, sizeof(huge_record));
		put_tls_seed("alert", psk, FUZZ_TLS_MODE_RAW, alert, sizeof(alert));
		put_tls_seed("sslv2-hello", psk, FUZZ_TLS_MODE_RAW, sslv2, sizeof(sslv2));
		put_tls_seed("garbage", psk, FUZZ_TLS_MODE_RAW, "GET / HTTP/1.0\r\n\r\n", 18);
		put_tls_seed("garbage-after-handshake", psk, FUZZ_TLS_MODE_AFTER_HANDSHAKE,
			     huge_record, sizeof(huge_record));
		put_tls_seed("silent", psk, FUZZ_TLS_MODE_SESSION, "", 0);
		put_tls_seed("nothing", psk, FUZZ_TLS_MODE_RAW, "", 0);
	}
}

/* Migrates once, recording; false (nothing written) when the run did not
 * show what the case is for. */
static bool record_migration(const struct migration_case *mc, bool last_try)
{
	struct relay r = {.n = 1 + mc->channels};
	struct dest d = {.n = r.n};
	struct fake_guest src;
	int src_fds[FUZZ_MAX_CONNS];
	pthread_t rt, dt;
	fuzz_seed_guest(&src, true);
	fuzz_seed_guest(&d.g, false);
	for (unsigned i = 0; i < r.n; i++) {
		struct leg *l = &r.leg[i];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, l->src) ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, l->dst)) {
			fail(mc->name, strerror(errno));
			exit(1);
		}
		vbuf_init(&l->sent);
		vbuf_init(&l->replies);
		src_fds[i] = l->src[0];
		d.fds[i] = l->dst[0];
	}
	pthread_create(&rt, NULL, relay_thread, &r);
	pthread_create(&dt, NULL, dest_thread, &d);

	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	struct vmig_guest guest = {&fg_ops, &src};
	struct vmig_migration *m;
	char err[512];
	p.fds = src_fds;
	p.nr_fds = r.n;
	p.channels = mc->channels;
	p.codec = mc->codec;
	p.compress_threads = 1;
	p.timeout_ms = 20000;
	if (mc->source_options & FUZZ_SRC_OPT_POLICY_AUTO)
		p.policy = VMIG_POLICY_AUTO;
	if (mc->xbzrle) {
		p.xbzrle_cache_bytes = 1 << 20;
		/* XBZRLE starts with pass 3 (the cache fills from pass 2): a writer
		 * dirtying 64 pages for 300 ms, a link slow enough and a downtime
		 * limit low enough that passes go on while it writes. */
		src.hot = 64;
		src.write_ms = 300;
		p.max_bandwidth = 1 << 20;
		p.downtime_limit_ms = 1;
		fg_start_writer(&src);
	}
	if (vmig_migration_start(&guest, &p, &m, err, sizeof(err))) {
		fail(mc->name, err);
		exit(1);
	}
	wait_final(m, &st);
	vmig_migration_free(m);
	if (mc->xbzrle)
		fg_stop_writer(&src);
	pthread_join(dt, NULL);
	pthread_join(rt, NULL);
	bool ok = st.status == VMIG_MIG_COMPLETED && !d.result;
	if (!ok)
		fail(mc->name, d.err[0] ? d.err : st.error);
	if (getenv("FUZZ_SEEDS_VERBOSE"))
		fprintf(stderr, "%s: %llu iterations, %llu ms, writes %llu, xbzrle hits %llu\n",
			mc->name, (unsigned long long)st.iterations,
			(unsigned long long)st.total_ms, (unsigned long long)src.writes,
			(unsigned long long)st.xbzrle_hits);
	/* Whether the passes went on long enough depends on timing: try again. */
	bool retry = ok && mc->xbzrle && !d.st.pages_xbzrle && !last_try;
	if (ok && mc->xbzrle && !d.st.pages_xbzrle && last_try) /* still a valid stream */
		fprintf(stderr,
			"fuzz_seeds: %s: no page went as XBZRLE in %d runs (a loaded host?)\n",
			mc->name, MIGRATION_TRIES);

	if (ok && mc->source_seed)
		source_seeds(mc, &r);
	if (ok && !retry && mc->source_seed && !(mc->source_options & FUZZ_SRC_OPT_POLICY_AUTO))
		resume_dest_seeds(mc, &r);
	struct vbuf all;
	vbuf_init(&all);
	for (unsigned i = 0; i < r.n; i++) {
		if (i)
			vbuf_put(&all, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN);
		vbuf_put(&all, r.leg[i].sent.data, r.leg[i].sent.len);
		vbuf_free(&r.leg[i].sent);
		vbuf_free(&r.leg[i].replies);
		close(r.leg[i].src[1]);
		close(r.leg[i].dst[1]);
	}
	if (!retry) {
		printf("stream/%s: %zu bytes, %llu passes, pages: %llu normal, %llu zero, %llu "
		       "xbzrle\n",
		       mc->name, all.len, (unsigned long long)d.st.passes,
		       (unsigned long long)d.st.pages_normal, (unsigned long long)d.st.pages_zero,
		       (unsigned long long)d.st.pages_xbzrle);
		write_seed("stream", mc->name, all.data, all.len);
		if (mc->source_seed && !(mc->source_options & FUZZ_SRC_OPT_POLICY_AUTO))
			tls_stream_seeds(mc, &all);
	}
	vbuf_free(&all);
	fg_free(&src);
	fg_free(&d.g);
	return !retry;
}

static const struct migration_case migrations[] = {
    {"migrate-none", "none", 0, false, true, 0},
    {"migrate-lz4", "lz4", 0, false, false, 0},
    {"migrate-zstd-2ch", "zstd", 2, false, true, 0},
    {"migrate-deflate-1ch", "deflate", 1, false, true, 0},
    /* --policy auto: host figures from the destination drive its plans */
    {"migrate-auto", "none", 0, false, true, FUZZ_SRC_OPT_POLICY_AUTO},
    {"migrate-auto-3ch", "none", 3, false, true, FUZZ_SRC_OPT_POLICY_AUTO},
    {"migrate-zstd-xbzrle", "zstd", 0, true, false, 0},
    {"migrate-lz4-xbzrle-3ch", "lz4", 3, true, false, 0},
};

/* Every bad stream of hostile_streams.c, laid out for the fuzz guest. */
static void hostile_seeds(void)
{
	static const char state[64] = "state from a hostile source (any 64 bytes load)";
	struct hostile_layout l = {.nr_regions = 2};
	uint64_t half = (uint64_t)FUZZ_GUEST_PAGES / 2 * 4096;
	l.regions[0] = (struct wire_region){0, half};
	l.regions[1] = (struct wire_region){1ull << 32, half};
	l.state = (const uint8_t *)state;
	l.state_len = sizeof(state);
	const char *name;
	for (unsigned i = 0; (name = hostile_case_name(i)); i++) {
		struct hostile_stream s;
		char err[256], file[128];
		if (hostile_stream_build(name, &l, &s, err, sizeof(err))) {
			fprintf(stderr, "fuzz_seeds: hostile case %s left out: %s\n", name, err);
			hostile_stream_free(&s);
			continue; /* a case this small layout cannot hold */
		}
		struct vbuf all;
		vbuf_init(&all);
		vbuf_put(&all, s.main.now.data, s.main.now.len);
		vbuf_put(&all, s.main.after_ready.data, s.main.after_ready.len);
		for (unsigned c = 0; c < s.nr_chan && c + 1 < FUZZ_MAX_CONNS; c++) {
			vbuf_put(&all, FUZZ_CONN_SEP, FUZZ_CONN_SEP_LEN);
			vbuf_put(&all, s.chan[c].now.data, s.chan[c].now.len);
			vbuf_put(&all, s.chan[c].after_ready.data, s.chan[c].after_ready.len);
		}
		snprintf(file, sizeof(file), "hostile-%s", name);
		write_seed("stream", file, all.data, all.len);
		vbuf_free(&all);
		hostile_stream_free(&s);
	}
}

/* ---- wire ---- */

static void wire_seed(const char *name, enum wire_fuzz_op op, const void *p, size_t n)
{
	struct vbuf b;
	vbuf_init(&b);
	vbuf_put_u8(&b, (uint8_t)op);
	vbuf_put(&b, p, n);
	write_seed("wire", name, b.data, b.len);
	vbuf_free(&b);
}

static const struct wire_host_info some_host = {.ncpus = 4,
						.usable_cpus_milli = 3500,
						.cpu_idle_permille = 900,
						.flags = WIRE_HOST_IDLE | WIRE_HOST_CPU_QUOTA,
						.mem_free_bytes = 1ull << 30,
						.mem_total_bytes = 4ull << 30};

static void wire_records(void)
{
	struct vbuf b;
	uint8_t fixed[64];
	vbuf_init(&b);
	struct wire_hello h = {.magic = WIRE_MAGIC,
			       .version = WIRE_VERSION,
			       .nr_channels = 2,
			       .session = 42,
			       .host = some_host,
			       .page_size = WIRE_PAGE_SIZE,
			       .nr_regions = 2,
			       .vmm_config = (const uint8_t *)"cfg",
			       .vmm_config_len = 3};
	h.regions[0] = (struct wire_region){0, 1 << 20};
	h.regions[1] = (struct wire_region){1ull << 32, 1 << 20};
	wire_encode_hello(&b, &h);
	wire_seed("hello", WF_HELLO, b.data, b.len);
	vbuf_reset(&b);
	struct wire_hello_ack a = {.version = WIRE_VERSION, .host = some_host};
	snprintf(a.message, sizeof(a.message), "ok");
	wire_encode_hello_ack(&b, &a);
	wire_seed("hello_ack", WF_HELLO_ACK, b.data, b.len);
	vbuf_reset(&b);
	wire_encode_error(&b, -EPROTO, "protocol error: \x01 not printable");
	wire_seed("error", WF_ERROR, b.data, b.len);
	vbuf_reset(&b);
	wire_encode_channel_hello(fixed, &(struct wire_channel_hello){42, 1});
	wire_seed("channel_hello", WF_CHANNEL_HELLO, fixed, WIRE_CHANNEL_HELLO_SIZE);
	wire_encode_sync(fixed, &(struct wire_sync){.pass = 3});
	wire_seed("sync", WF_SYNC, fixed, WIRE_SYNC_SIZE);
	wire_encode_sync_ack(fixed, &(struct wire_sync_ack){3, some_host});
	wire_seed("sync_ack", WF_SYNC_ACK, fixed, WIRE_SYNC_ACK_SIZE);
	wire_encode_digest(fixed, &(struct wire_digest){0x1234, 512, 3});
	wire_seed("digest", WF_DIGEST, fixed, WIRE_DIGEST_SIZE);
	wire_encode_alive(fixed, &(struct wire_alive){1, 2});
	wire_seed("alive", WF_ALIVE, fixed, WIRE_ALIVE_SIZE);
	wire_encode_host_info(fixed, &some_host);
	wire_seed("host_info", WF_HOST_INFO, fixed, WIRE_HOST_INFO_SIZE);
	wire_encode_pages_fixed(fixed, &(struct wire_pages_fixed){1, 3, CODEC_LZ4});
	wire_seed("pages_fixed", WF_PAGES_FIXED, fixed, WIRE_PAGES_FIXED_SIZE);
	uint64_t v[3] = {wire_page_entry(5, WIRE_KIND_NORMAL), wire_page_entry(6, WIRE_KIND_ZERO),
			 wire_page_entry(7, WIRE_KIND_XBZRLE)};
	uint8_t u64s[2 + sizeof(v)] = {3, 0};
	wire_encode_pages_entries(u64s + 2, v, 3);
	wire_seed("pages_entries", WF_PAGES_ENTRIES, u64s, sizeof(u64s));
	wire_seed("pages_hashes", WF_PAGES_HASHES, u64s, sizeof(u64s));
	wire_encode_pages_len(fixed, 4096);
	wire_seed("pages_len", WF_PAGES_LEN, fixed, WIRE_PAGES_LEN_SIZE);
	wire_encode_xbz_delta_len(fixed, 17);
	wire_seed("xbz_delta_len", WF_XBZ_DELTA_LEN, fixed, WIRE_XBZ_DELTA_HDR_SIZE);
	uint8_t sync[WIRE_SYNC_SIZE];
	wire_encode_sync(sync, &(struct wire_sync){.pass = 1});
	wire_put_record(&b, REC_SYNC, sync, sizeof(sync));
	wire_seed("record_sync", WF_RECORD, b.data, b.len);
	vbuf_free(&b);
}

/* Two pages of text, compressed by each codec. */
static void wire_codecs(void)
{
	static uint8_t pages[2 * 4096], out[3 * 4096 + 2];
	struct codec_ctx *ctx = codec_ctx_new();
	for (unsigned i = 0; i < sizeof(pages); i += 32)
		snprintf((char *)pages + i, 32, "line %u of two pages", i / 32);
	for (int id = 0; id < CODEC_COUNT; id++) {
		size_t n = sizeof(pages);
		int r = 0;
		if (id == CODEC_NONE)
			memcpy(out + 2, pages, n);
		int lo, hi, def;
		codec_levels((enum codec_id)id, &lo, &hi, &def);
		if (id != CODEC_NONE)
			r = codec_compress(ctx, (enum codec_id)id, def, pages, sizeof(pages),
					   out + 2, sizeof(out) - 2, &n);
		if (r) {
			fail(codec_name((enum codec_id)id), "cannot compress");
			continue;
		}
		out[0] = (uint8_t)id;
		out[1] = 1; /* two pages */
		char name[64];
		snprintf(name, sizeof(name), "decompress_%s", codec_name((enum codec_id)id));
		wire_seed(name, WF_DECOMPRESS, out, n + 2);
	}
	codec_ctx_free(ctx);
	/* The fuzz target's page: bytes 0, 1, 2, ...; a few changed. */
	static uint8_t old[4096], new[4096], delta[4096];
	for (unsigned i = 0; i < 4096; i++)
		old[i] = new[i] = (uint8_t)i;
	memcpy(new + 100, "changed", 7);
	new[4000] ^= 0xff;
	int n = xbzrle_encode(old, new, 4096, delta, sizeof(delta));
	if (n <= 0)
		fail("xbzrle", "cannot encode");
	else
		wire_seed("xbzrle", WF_XBZRLE, delta, (size_t)n);
}

/* ---- vm_state ---- */

static void vm_state_seeds(void)
{
	for (unsigned nr = 1; nr <= FUZZ_STATE_MAX_VCPUS; nr++) {
		struct vmm_state st;
		uint8_t *blob;
		size_t len;
		char err[512], name[64];
		if (vm_state_init(&st, nr) ||
		    (fuzz_state_fill(&st), vm_state_encode(&st, &blob, &len))) {
			fail("vm_state", "out of memory");
			return;
		}
		if (vm_state_validate(&st, &fuzz_state_host, err, sizeof(err)))
			fail("vm_state seed does not validate", err);
		uint8_t *seed = malloc(len + 1);
		seed[0] = (uint8_t)(nr - 1); /* the target's vCPU count: 1 + this */
		memcpy(seed + 1, blob, len);
		snprintf(name, sizeof(name), "valid-%u-vcpu", nr);
		write_seed("vm_state", name, seed, len + 1);
		free(seed);
		free(blob);
		vm_state_free(&st);
	}
}

/* ---- control ---- */

static void control_seeds(void)
{
	static const char *const lines[] = {
	    "{\"execute\":\"all-kinds\",\"arguments\":{\"name\":\"x\",\"count\":5,\"offset\":-5,"
	    "\"flag\":true},\"id\":{\"a\": [1, 2.5, \"s p\"]}}\n",
	    "{\"execute\": \"big\", \"arguments\": {\"bytes\": 18446744073709551615}, \"id\": 7}\n",
	    "{\"execute\":\"big\",\"arguments\":{\"bytes\":9223372036854775807},"
	    "\"id\":123456789012345678901234567890}\n",
	    "{\"execute\":\"no-args\",\"arguments\":{}}\n{\"execute\":\"fail\"}\n",
	    "{\"execute\":\"query-commands\",\"id\":\"q\"}\n",
	    "{\"execute\":\"nope\",\"extra\":1}\n[1,2]\n{\"execute\":\"all-kinds\",\"arguments\":[]"
	    "}\n",
	    "{\"execute\":\"all-kinds\",\"arguments\":{\"name\":1,\"count\":0,\"bogus\":null}}\n",
	    "  \t "
	    "\n{\"execute\":\"all-kinds\",\"arguments\":{\"name\":\"\\u00e9\\\"\"},\"id\":\"\\\\\"}"
	    "\n",
	    "{not json\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "requests-%zu", i);
		write_seed("control", name, lines[i], strlen(lines[i]));
	}
}

/* ---- control_client ---- */

#define ID FUZZ_CTL_ID
#define TURN FUZZ_TURN_SEP
#define QUERY_ACTIVE                                                                              \
	"{\"return\": {\"status\": \"active\", \"iterations\": 1, \"pass_pages\": 512, "        \
	"\"pass_pages_done\": 100, \"ram_bytes\": 2097152, \"pages\": {\"normal\": 5, "         \
	"\"zero\": 95}, \"throughput_mibs\": 12.5}, \"id\": " ID "}\n"
#define QUERY_COMPLETED                                                                           \
	"{\"return\": {\"status\": \"completed\", \"total_ms\": 120, \"setup_ms\": 2, "         \
	"\"downtime_ms\": 9, \"guest_downtime_ms\": -1, \"iterations\": 2, \"ram_bytes\": "      \
	"2097152, \"wire_bytes\": 30000, \"pages\": {\"normal\": 5, \"compressed\": 5, "        \
	"\"zero\": 507, \"xbzrle\": 0}, \"codec\": \"zstd\", \"accelerator\": \"cpu\", "      \
	"\"xbzrle\": {\"cache_hits\": 0, \"cache_misses\": 0}, \"policy\": {\"strategy\": "    \
	"\"auto\", \"decisions\": [{\"pass\": 1, \"t_ms\": 0, \"change\": \"codec zstd\", "   \
	"\"reason\": \"idle CPU\"}]}, \"channels\": [{\"index\": 0, \"bytes\": 30000, "        \
	"\"throughput_mibs\": 1.5}], \"verified\": true}, \"id\": " ID "}\n"

static void control_client_seeds(void)
{
	static const char *const replies[] = {
	    /* a whole migration as `vmig migrate` follows it */
	    "{\"return\": {}, \"id\": " ID "}\n" TURN QUERY_ACTIVE TURN QUERY_COMPLETED,
	    /* refused, each error class */
	    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"a migration is already "
	    "running\"}, \"id\": " ID "}\n",
	    "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no such command\"}, "
	    "\"id\": " ID "}\n",
	    "{\"error\": {\"class\": \"InvalidRequest\", \"desc\": \"bad arguments\"}}\n",
	    /* events before replies, replies in pieces */
	    "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}\n{\"return\": {}, "
	    "\"id\": " ID "}\n" TURN "{\"event\": \"X\"}\n" TURN QUERY_COMPLETED,
	    "{\"return\": {}, \"id\": " ID "}\n" TURN "{\"return\": {\"status\": " TURN
	    "\"failed\", \"error\": \"link lost\"}, \"id\": " ID "}\n",
	    /* answers that do not fit: another id, no id, neither return nor error, not JSON */
	    "{\"return\": {}, \"id\": 1}\n",
	    "{\"return\": {}}\n",
	    "{\"id\": " ID ", \"something\": [1, 2.5, null, true]}\n",
	    "[\"return\", " ID "]\n",
	    "{\"return\": {}, \"return\": {}, \"id\": " ID "}\n",
	    "not json at all\n",
	    "{\"return\": {\"status\": 7}, \"id\": " ID "}\n" TURN "{\"return\": \"done\", \"id\": "
	    "18446744073709551616}\n",
	    "{\"return\": {}, \"id\": " ID "}",
	};
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "replies-%zu", i);
		write_seed("control_client", name, replies[i], strlen(replies[i]));
	}
}

/* ---- tls_psk and cli_values: what an operator writes ---- */

static void operator_seeds(void)
{
	static const char *const psk_files[] = {
	    "client:0123456789abcdef0123456789abcdef\n",
	    /* one line, its 32-byte key split in two */
	    ("# made by scripts/make-certs.sh\n\n  \nvmig-migration:00112233445566778899AABBCCDDEEFF"
	     "00112233445566778899aabbccddeeff\r\n"),
	    "a:b:0123456789abcdef0123456789abcdef\nsecond:line\n",
	    "no colon here\n",
	    ":0123456789abcdef0123456789abcdef\n",
	    "id:0123456789abcdef0123456789abcdeg\n",
	};
	for (size_t i = 0; i < sizeof(psk_files) / sizeof(psk_files[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "psk-%zu", i);
		write_seed("tls_psk", name, psk_files[i], strlen(psk_files[i]));
	}
	/* the target's first byte: 0, 1 sizes (bytes, MiB); 2, 3 counts */
	static const char *const values[] = {
	    "\x00" "1G", "\x00" "1.5GiB", "\x00" "64k", "\x00" "100MB", "\x00" "0.25T",
	    "\x01" "512", "\x01" "2.5", "\x00" "18446744073709551615",
	    "\x02" "4", "\x03" "86400", "\x03" "0",
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "value-%zu", i);
		/* "\x00" is the first byte: strlen stops there, so count it in */
		write_seed("cli_values", name, values[i], 1 + strlen(values[i] + 1));
	}
}

static void quiet_log(void *opaque, enum vmig_log_level level, const char *line)
{
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr,
			"usage: %s OUTDIR (writes OUTDIR/TARGET/)\n",
			argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", outdir, strerror(errno));
		return 1;
	}
	vmig_set_log_handler(quiet_log, NULL, VMIG_LOG_ERROR);
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++)
		for (int tries = 1; !record_migration(&migrations[i], tries == MIGRATION_TRIES);
		     tries++)
			;
	hostile_seeds();
	resume_seeds();
	tls_stranger_seeds();
	wire_records();
	wire_codecs();
	vm_state_seeds();
	control_seeds();
	control_client_seeds();
	operator_seeds();
	if (failures)
		fprintf(stderr, "fuzz_seeds: %d seed(s) failed\n", failures);
	return failures ? 1 : 0;
}

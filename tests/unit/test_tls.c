/* SPDX-License-Identifier: MIT */
/*
 * TLS on migration channels, without KVM: the TLS layer and the acceptor
 * on socket pairs, and whole migrations of the TEST DOUBLE guest
 * (fake_guest.h) over real loopback sockets with X.509 and with a PSK.
 * Each refusal is checked from both ends: the source fails with its guest
 * still running and an error that names the reason, and the destination
 * stays up and then takes the right source.
 *
 * Credentials come from scripts/make-certs.sh, run once per case into a
 * temporary directory: two unrelated CAs (a, b), a directory mixing a's
 * CA with b's client certificate, and PSK files.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "fake_guest.h"
#include "migration/acceptor.h"
#include "migration/ram.h"
#include "migration/tls.h"
#include "migration/wire.h"
#include "unittest.h"

#define IO_TIMEOUT_MS 1500
#define PSK_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PSK_OTHER_HEX "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

struct creds {
	char root[128];
	bool own;                              /* root is this case's to remove */
	char a[256], b[256], mixed[256];       /* X.509 directories */
	char expired[256];                     /* a's, with both certificates expired yesterday */
	char psk[256], psk_wrong_key[256], psk_wrong_id[256];
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Paths of a credentials set under root. */
static void creds_paths(struct creds *c)
{
	snprintf(c->a, sizeof(c->a), "%s/a", c->root);
	snprintf(c->b, sizeof(c->b), "%s/b", c->root);
	snprintf(c->mixed, sizeof(c->mixed), "%s/mixed", c->root);
	snprintf(c->expired, sizeof(c->expired), "%s/expired", c->root);
	snprintf(c->psk, sizeof(c->psk), "%s/psk", c->root);
	snprintf(c->psk_wrong_key, sizeof(c->psk_wrong_key), "%s/psk-wrong-key", c->root);
	snprintf(c->psk_wrong_id, sizeof(c->psk_wrong_id), "%s/psk-wrong-id", c->root);
}

/* Two CAs with their certificates, a mixed and an expired set, PSK files:
 * about a second of openssl. */
static int generate_creds(struct creds *c)
{
	char cmd[1024];
	creds_paths(c);
	snprintf(cmd, sizeof(cmd),
		 "%s/scripts/make-certs.sh %s >/dev/null && %s/scripts/make-certs.sh %s >/dev/null && "
		 /* mixed: a's CA (trusts the destination), b's client certificate */
		 "mkdir %s && cp %s/ca-cert.pem %s/client-cert.pem %s/client-key.pem %s/",
		 VMIG_SOURCE_ROOT, c->a, VMIG_SOURCE_ROOT, c->b, c->mixed, c->a, c->b, c->b, c->mixed);
	if (system(cmd) != 0)
		return -1;
	/* -days -1: valid until a day ago */
	snprintf(cmd, sizeof(cmd),
		 "cp -r %s %s && cd %s && echo subjectAltName=DNS:localhost,IP:127.0.0.1 > san.ext && "
		 "openssl req -new -key server-key.pem -subj /CN=localhost | openssl x509 -req -CA "
		 "ca-cert.pem -CAkey ca-key.pem -days -1 -extfile san.ext -out server-cert.pem "
		 "2>/dev/null && "
		 "openssl req -new -key client-key.pem -subj /CN=vmig-source | openssl x509 -req -CA "
		 "ca-cert.pem -CAkey ca-key.pem -days -1 -out client-cert.pem 2>/dev/null",
		 c->a, c->expired, c->expired);
	if (system(cmd) != 0)
		return -1;
	return write_file(c->psk, "# test key\nvmig:" PSK_HEX "\n") ||
	       write_file(c->psk_wrong_key, "vmig:" PSK_OTHER_HEX "\n") ||
	       write_file(c->psk_wrong_id, "intruder:" PSK_HEX "\n");
}

/*
 * The credentials every case reads: made once per build directory and day
 * (each case runs in a process of its own, and 2 x 19 cases paid a second
 * of openssl each), in a temporary directory renamed into place, so that
 * cases running at once never see a half-made set. Read only: a case that
 * changes files takes own_creds.
 */
static int make_creds(struct creds *c)
{
	char exe[100], tmp[sizeof(c->root)];
	time_t now = time(NULL);
	if (test_binary_dir(exe, sizeof(exe)))
		return -1;
	memset(c, 0, sizeof(*c));
	snprintf(c->root, sizeof(c->root), "%s/tls-creds-%ld", exe, (long)(now / 86400));
	creds_paths(c);
	if (access(c->psk_wrong_id, R_OK) == 0)
		return 0;
	struct creds fresh = {0};
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", c->root);
	snprintf(fresh.root, sizeof(fresh.root), "%s", tmp);
	if (!mkdtemp(fresh.root) || generate_creds(&fresh))
		return -1;
	if (rename(fresh.root, c->root) != 0) {
		/* another case got there first: its set is as good */
		char cmd[sizeof(fresh.root) + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", fresh.root);
		if (system(cmd) != 0)
			return -1;
	}
	return access(c->psk_wrong_id, R_OK);
}

/* A private copy of the shared set, for a case that changes files. */
static int own_creds(struct creds *c)
{
	struct creds shared;
	char cmd[256];
	if (make_creds(&shared))
		return -1;
	memset(c, 0, sizeof(*c));
	snprintf(c->root, sizeof(c->root), "/tmp/vmig-tls-XXXXXX");
	if (!mkdtemp(c->root))
		return -1;
	c->own = true;
	creds_paths(c);
	snprintf(cmd, sizeof(cmd), "cp -r %s/. %s/", shared.root, c->root);
	return system(cmd) == 0 ? 0 : -1;
}

static void free_creds(struct creds *c)
{
	char cmd[128];
	if (!c->own)
		return; /* the shared set stays for the next case */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", c->root);
	if (c->root[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", c->root);
}

/* ---- the TLS layer alone, on a socket pair ---- */

/* Drives both ends' handshakes in turn until both are done or one fails. */
static int handshake_pair(struct tls_conn *cl, struct tls_conn *sv, char *why, size_t whylen)
{
	int rc = 0, rs = 0;
	for (int i = 0; i < 1000 && (rc != 1 || rs != 1); i++) {
		short ev;
		if (rc != 1 && (rc = tls_conn_handshake(cl, &ev, why, whylen)) < 0)
			return rc;
		if (rs != 1 && (rs = tls_conn_handshake(sv, &ev, why, whylen)) < 0)
			return rs;
		poll(NULL, 0, 1);
	}
	return rc == 1 && rs == 1 ? 0 : -ETIMEDOUT;
}

struct tls_pair {
	int sv_fd[2];
	struct tls_ctx *cctx, *sctx;
	struct tls_conn *cl, *sv;
};

static int pair_open(struct tls_pair *p, const struct tls_opts *client, const struct tls_opts *server,
		     char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->sv_fd))
		return -errno;
	int r;
	if ((r = tls_ctx_new(client, TLS_CLIENT, &p->cctx, err, errlen)) ||
	    (r = tls_ctx_new(server, TLS_SERVER, &p->sctx, err, errlen)) ||
	    (r = tls_conn_new(p->cctx, p->sv_fd[0], &p->cl, err, errlen)) ||
	    (r = tls_conn_new(p->sctx, p->sv_fd[1], &p->sv, err, errlen)))
		return r;
	return handshake_pair(p->cl, p->sv, err, errlen);
}

static void pair_close(struct tls_pair *p)
{
	tls_conn_free(p->cl);
	tls_conn_free(p->sv);
	tls_ctx_free(p->cctx);
	tls_ctx_free(p->sctx);
	close(p->sv_fd[0]);
	close(p->sv_fd[1]);
}

TEST(both_ends_export_one_key_and_each_session_its_own)
{
	struct creds c;
	struct tls_pair p1, p2;
	char err[512];
	uint8_t k1c[WIRE_KEY_SIZE], k1s[WIRE_KEY_SIZE], k2c[WIRE_KEY_SIZE];
	CHECK_EQ_INT(make_creds(&c), 0);
	struct tls_opts cl = {.creds_dir = c.a, .hostname = "localhost"}, sv = {.creds_dir = c.a};
	CHECK_EQ_INT(pair_open(&p1, &cl, &sv, err, sizeof(err)), 0);
	CHECK_EQ_INT(pair_open(&p2, &cl, &sv, err, sizeof(err)), 0);
	CHECK_EQ_INT(tls_conn_export_key(p1.cl, k1c, sizeof(k1c)), 0);
	CHECK_EQ_INT(tls_conn_export_key(p1.sv, k1s, sizeof(k1s)), 0);
	CHECK_EQ_INT(tls_conn_export_key(p2.cl, k2c, sizeof(k2c)), 0);
	CHECK(memcmp(k1c, k1s, sizeof(k1c)) == 0);
	CHECK(memcmp(k1c, k2c, sizeof(k1c)) != 0);
	char desc[128];
	tls_conn_describe(p1.cl, desc, sizeof(desc));
	CHECK(strstr(desc, "TLSv1.3") && strstr(desc, "x509"));
	pair_close(&p1);
	pair_close(&p2);
	free_creds(&c);
}

TEST(destination_named_source_only)
{
	struct creds c;
	struct tls_pair p;
	char err[512];
	CHECK_EQ_INT(make_creds(&c), 0);
	struct tls_opts cl = {.creds_dir = c.a, .hostname = "localhost"};
	struct tls_opts named = {.creds_dir = c.a, .hostname = "vmig-source"};
	struct tls_opts other = {.creds_dir = c.a, .hostname = "another-source"};
	CHECK_EQ_INT(pair_open(&p, &cl, &named, err, sizeof(err)), 0);
	pair_close(&p);
	CHECK(pair_open(&p, &cl, &other, err, sizeof(err)) < 0);
	CHECK(strstr(err, "wrong certificate: the source's certificate rejected: hostname mismatch"));
	pair_close(&p);
	free_creds(&c);
}

TEST(keyed_checks_differ_from_plain_ones_and_between_sessions)
{
	struct wire_key k1, k2;
	uint64_t hashes[64];
	for (unsigned i = 0; i < sizeof(k1.secret); i++) {
		k1.secret[i] = (uint8_t)(i * 7 + 1);
		k2.secret[i] = (uint8_t)(i * 7 + 2);
	}
	for (unsigned i = 0; i < 64; i++)
		hashes[i] = i * 0x9e3779b97f4a7c15ull;
	const char rec[] = "a record payload";
	CHECK(wire_checksum_keyed(NULL, rec, sizeof(rec)) == wire_checksum(rec, sizeof(rec)));
	CHECK(wire_checksum_keyed(&k1, rec, sizeof(rec)) != wire_checksum(rec, sizeof(rec)));
	CHECK(wire_checksum_keyed(&k1, rec, sizeof(rec)) != wire_checksum_keyed(&k2, rec, sizeof(rec)));
	CHECK(ram_digest_of_keyed(hashes, 64, NULL) == ram_digest_of(hashes, 64));
	CHECK(ram_digest_of_keyed(hashes, 64, &k1) != ram_digest_of(hashes, 64));
	CHECK(ram_digest_of_keyed(hashes, 64, &k1) != ram_digest_of_keyed(hashes, 64, &k2));
	/* a record checked under one session fails under another */
	struct wire_hdr h = {.type = REC_COMPLETE, .len = sizeof(rec),
			     .check = wire_checksum_keyed(&k1, rec, sizeof(rec))};
	char err[256];
	CHECK_EQ_INT(wire_check_payload_keyed(&h, (const uint8_t *)rec, &k1, err, sizeof(err)), 0);
	CHECK_EQ_INT(wire_check_payload_keyed(&h, (const uint8_t *)rec, &k2, err, sizeof(err)), -EBADMSG);
	CHECK_EQ_INT(wire_check_payload(&h, (const uint8_t *)rec, err, sizeof(err)), -EBADMSG);
}

TEST(missing_or_bad_credentials_are_named)
{
	struct creds c;
	struct tls_ctx *ctx = NULL;
	char err[512], path[256];
	CHECK_EQ_INT(own_creds(&c), 0); /* it removes and rewrites files */
	CHECK(tls_ctx_new(&(struct tls_opts){.creds_dir = "/nonexistent"}, TLS_SERVER, &ctx, err,
			  sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/ca-cert.pem") != NULL);
	snprintf(path, sizeof(path), "%s/client-key.pem", c.a);
	CHECK_EQ_INT(unlink(path), 0);
	CHECK(tls_ctx_new(&(struct tls_opts){.creds_dir = c.a, .hostname = "h"}, TLS_CLIENT, &ctx,
			  err, sizeof(err)) < 0);
	CHECK(strstr(err, "client-key.pem") != NULL);
	CHECK(tls_ctx_new(&(struct tls_opts){.psk_file = "/nonexistent.psk"}, TLS_SERVER, &ctx, err,
			  sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent.psk") != NULL);
	CHECK_EQ_INT(write_file(c.psk, "vmig:abc\n"), 0);
	CHECK(tls_ctx_new(&(struct tls_opts){.psk_file = c.psk}, TLS_SERVER, &ctx, err, sizeof(err)) < 0);
	CHECK(strstr(err, "IDENTITY:HEXKEY") != NULL);
	CHECK(ctx == NULL);
	free_creds(&c);
}

/* ---- the acceptor with TLS required ---- */

static int always_ok(void *opaque, const struct wire_hdr *h, const uint8_t *payload, char *why,
		     size_t whylen)
{
	return 0;
}

/* Offers the acceptor, requiring TLS with `server`, one connection whose
 * peer writes `bytes` (then hangs up if hang_up); returns acceptor_wait's
 * result, its message in err. */
static int acceptor_hears_tls(const struct tls_opts *server, const void *bytes, size_t n,
			      bool hang_up, char *err, size_t errlen)
{
	struct tls_ctx *ctx;
	struct acceptor *a;
	struct vbuf payload;
	struct wire_hdr h;
	struct tls_conn *t;
	int sv[2], fd;
	if (tls_ctx_new(server, TLS_SERVER, &ctx, err, errlen) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -EINVAL;
	acceptor_new(-1, -1, 300, &a);
	acceptor_set_tls(a, ctx);
	acceptor_adopt(a, sv[1]);
	if (n && write(sv[0], bytes, n) != (ssize_t)n)
		return -EIO;
	if (hang_up)
		shutdown(sv[0], SHUT_WR);
	vbuf_init(&payload);
	int r = acceptor_wait(a, always_ok, NULL, 3000, &fd, &t, &h, &payload, NULL, 0, err, errlen);
	vbuf_free(&payload);
	acceptor_free(a, "test over");
	tls_ctx_free(ctx);
	close(sv[0]);
	return r;
}

static int acceptor_hears(const char *creds_dir, const void *bytes, size_t n, char *err,
			  size_t errlen)
{
	return acceptor_hears_tls(&(struct tls_opts){.creds_dir = creds_dir}, bytes, n, false, err,
				  errlen);
}

TEST(acceptor_refuses_a_plaintext_source_by_name)
{
	struct creds c;
	char err[512];
	struct vbuf rec;
	CHECK_EQ_INT(make_creds(&c), 0);
	vbuf_init(&rec);
	wire_put_record(&rec, REC_COMPLETE, NULL, 0);
	CHECK_EQ_INT(acceptor_hears(c.a, rec.data, rec.len, err, sizeof(err)), -ENOTCONN);
	CHECK(strstr(err, "plaintext source: this destination requires TLS") != NULL);
	vbuf_free(&rec);
	free_creds(&c);
}

TEST(acceptor_ends_a_stalled_handshake_at_its_deadline)
{
	struct creds c;
	char err[512];
	const uint8_t start[] = {TLS_CONTENT_HANDSHAKE, 3, 1}; /* a ClientHello that never ends */
	CHECK_EQ_INT(make_creds(&c), 0);
	uint64_t t0 = mono_ms();
	CHECK_EQ_INT(acceptor_hears(c.a, start, sizeof(start), err, sizeof(err)), -ENOTCONN);
	CHECK(strstr(err, "TLS handshake incomplete: timed out") != NULL);
	CHECK(mono_ms() - t0 < 2000);
	free_creds(&c);
}

/* Found by fuzzing (tls_destination): a PSK destination named a peer that
 * hung up in the middle of its ClientHello a source "with certificates". */
TEST(psk_acceptor_names_a_hello_cut_short_as_a_hang_up)
{
	struct creds c;
	char err[512];
	const uint8_t start[] = {TLS_CONTENT_HANDSHAKE, 3, 1, 0, 0x80, 1}; /* 128 bytes promised */
	CHECK_EQ_INT(make_creds(&c), 0);
	CHECK_EQ_INT(acceptor_hears_tls(&(struct tls_opts){.psk_file = c.psk}, start, sizeof(start),
					true, err, sizeof(err)),
		     -ENOTCONN);
	fprintf(stderr, "refused: %s\n", err);
	CHECK(strstr(err, "the peer closed the connection") != NULL);
	CHECK(strstr(err, "wrong PSK") == NULL);
	free_creds(&c);
}

/* ---- whole migrations ---- */

struct side {
	const char *creds, *psk, *hostname;
};

/* A destination requiring `dest` (all NULL: plaintext), on its own thread. */
static void dest_begin(struct dest_run *d, struct fake_guest *g, const struct side *dest, char *uri,
		       size_t urilen)
{
	memset(d, 0, sizeof(*d));
	fg_init(g, false);
	d->g = g;
	d->io_timeout_ms = IO_TIMEOUT_MS;
	d->tls_creds_dir = dest->creds;
	d->tls_psk_file = dest->psk;
	if (listen_any(&d->lfd, uri, urilen) == 0)
		dest_start(d);
}

/* Migrates a fresh source guest with `src` credentials to uri; its final
 * figures in st, its guest in g (the caller frees it). */
static int source_run(struct fake_guest *g, const char *uri, const struct side *src,
		      unsigned channels, const char *codec, struct vmig_migrate_stats *st,
		      char *err, size_t errlen)
{
	struct vmig_migration *m;
	fg_init(g, true);
	g->write_ms = 200; /* dirties pages for a while: several passes */
	struct vmig_guest vg = {&fg_ops, g};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = uri;
	p.channels = channels;
	p.codec = codec;
	p.io_timeout_ms = IO_TIMEOUT_MS;
	p.downtime_limit_ms = 50;
	p.tls_creds_dir = src->creds;
	p.tls_psk_file = src->psk;
	p.tls_hostname = src->hostname;
	fg_start_writer(g);
	int r = vmig_migration_start(&vg, &p, &m, err, errlen);
	if (!r) {
		wait_final(m, st);
		vmig_migration_free(m);
	}
	fg_stop_writer(g);
	return r;
}

/* The right source reaches the destination: everything checked. */
static void good_source(struct ut_state *ut_, struct dest_run *d, struct fake_guest *dst,
			const char *uri, const struct side *src, unsigned channels,
			const char *codec, const char *mode)
{
	struct fake_guest g;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	char err[512];
	CHECK_EQ_INT(source_run(&g, uri, src, channels, codec, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(dest_join(d), 0);
	if (st.status != VMIG_MIG_COMPLETED)
		fprintf(stderr, "source: %s\ndestination: %s\n", st.error, d->err);
	CHECK_EQ_INT(st.status, VMIG_MIG_COMPLETED);
	CHECK(st.verified && d->st.verified);
	CHECK(g.paused && dst->resumed);
	CHECK(memcmp(g.mem, dst->mem, (size_t)PAGES * 4096) == 0);
	CHECK(st.iterations >= 2);
	if (mode) {
		CHECK(strstr(st.tls, "TLSv1.3") && strstr(st.tls, mode));
		CHECK(strstr(st.tls, "userspace") || strstr(st.tls, "kernel TLS"));
	} else {
		CHECK_STR(st.tls, "");
	}
	fg_free(&g);
}

TEST(x509_migration_over_data_channels_with_compression)
{
	struct creds c;
	struct dest_run d;
	struct fake_guest dst;
	char uri[64];
	CHECK_EQ_INT(make_creds(&c), 0);
	dest_begin(&d, &dst, &(struct side){.creds = c.a}, uri, sizeof(uri));
	/* no hostname given: the URI's host, 127.0.0.1, must be in the certificate */
	good_source(ut_, &d, &dst, uri, &(struct side){.creds = c.a}, 2, "lz4", "x509");
	fg_free(&dst);
	free_creds(&c);
}

TEST(psk_migration)
{
	struct creds c;
	struct dest_run d;
	struct fake_guest dst;
	char uri[64];
	CHECK_EQ_INT(make_creds(&c), 0);
	dest_begin(&d, &dst, &(struct side){.psk = c.psk}, uri, sizeof(uri));
	good_source(ut_, &d, &dst, uri, &(struct side){.psk = c.psk}, 0, NULL, "psk");
	fg_free(&dst);
	free_creds(&c);
}

/*
 * A source with `bad` credentials is refused: it fails with its guest
 * running and an error containing want; the destination (`dest`) stays
 * up and then takes a source with `good` ones.
 */
static void refused(struct ut_state *ut_, const char *uri, const struct side *bad,
		    const char *want)
{
	struct fake_guest g;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	char err[512];
	CHECK_EQ_INT(source_run(&g, uri, bad, 0, NULL, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	fprintf(stderr, "source refused: %s\n", st.error);
	if (!strstr(st.error, want))
		fprintf(stderr, "source error: %s\nwanted: %s\n", st.error, want);
	CHECK(strstr(st.error, want) != NULL);
	CHECK(!g.paused); /* the guest never stopped running at the source */
	fg_free(&g);
}

static void refused_then_served(struct ut_state *ut_, const struct side *dest,
				const struct side *bad, const char *want, const struct side *good)
{
	struct dest_run d;
	struct fake_guest dst;
	char uri[64];
	dest_begin(&d, &dst, dest, uri, sizeof(uri));
	refused(ut_, uri, bad, want);
	good_source(ut_, &d, &dst, uri, good, 0, NULL, good->creds ? "x509" : good->psk ? "psk" : NULL);
	fg_free(&dst);
}

TEST(tls_destination_refuses_a_plaintext_source)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.creds = c.a}, &(struct side){0},
			    "plaintext source: this destination requires TLS",
			    &(struct side){.creds = c.a});
	free_creds(&c);
}

TEST(plaintext_destination_refuses_a_tls_source)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){0}, &(struct side){.creds = c.a},
			    "does not speak TLS", &(struct side){0});
	free_creds(&c);
}

TEST(destination_refuses_a_certificate_of_another_ca)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.creds = c.a}, &(struct side){.creds = c.mixed},
			    "refused", &(struct side){.creds = c.a});
	free_creds(&c);
}

TEST(source_refuses_a_destination_of_another_ca)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.creds = c.a}, &(struct side){.creds = c.b},
			    "wrong certificate: the destination's certificate rejected",
			    &(struct side){.creds = c.a});
	free_creds(&c);
}

TEST(source_refuses_a_destination_under_another_name)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.creds = c.a},
			    &(struct side){.creds = c.a, .hostname = "migration.example"},
			    "hostname mismatch", &(struct side){.creds = c.a, .hostname = "localhost"});
	free_creds(&c);
}

TEST(source_refuses_an_expired_destination_certificate)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	struct dest_run d;
	struct fake_guest dst;
	char uri[64];
	dest_begin(&d, &dst, &(struct side){.creds = c.expired}, uri, sizeof(uri));
	refused(ut_, uri, &(struct side){.creds = c.a},
		"the destination's certificate rejected: certificate has expired");
	/* nobody can be served by it: it waits on until cancelled */
	CHECK(dest_cancel(&d));
	CHECK_EQ_INT(dest_join(&d), -ECANCELED);
	fg_free(&dst);
	free_creds(&c);
}

TEST(destination_refuses_an_expired_source_certificate)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.creds = c.a}, &(struct side){.creds = c.expired},
			    "refused by the peer", &(struct side){.creds = c.a});
	free_creds(&c);
}

TEST(destination_refuses_a_wrong_psk)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.psk = c.psk}, &(struct side){.psk = c.psk_wrong_key},
			    "refused", &(struct side){.psk = c.psk});
	free_creds(&c);
}

TEST(destination_refuses_an_unknown_psk_identity)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.psk = c.psk}, &(struct side){.psk = c.psk_wrong_id},
			    "refused", &(struct side){.psk = c.psk});
	free_creds(&c);
}

TEST(x509_source_is_refused_by_a_psk_destination)
{
	struct creds c;
	CHECK_EQ_INT(make_creds(&c), 0);
	refused_then_served(ut_, &(struct side){.psk = c.psk}, &(struct side){.creds = c.a},
			    "refused", &(struct side){.psk = c.psk});
	free_creds(&c);
}

TEST(missing_credentials_fail_the_start)
{
	struct fake_guest g;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	char err[512];
	CHECK(source_run(&g, "tcp:127.0.0.1:1", &(struct side){.psk = "/nonexistent/keys.psk"}, 0,
			 NULL, &st, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/keys.psk") != NULL);
	CHECK(!g.paused);
	fg_free(&g);
	struct vmig_incoming *in;
	struct vmig_incoming_params p = VMIG_INCOMING_PARAMS_INIT;
	int lfd;
	char uri[64];
	CHECK_EQ_INT(listen_any(&lfd, uri, sizeof(uri)), 0);
	p.listen_fd = lfd;
	p.tls_creds_dir = "/nonexistent";
	CHECK(vmig_incoming_create(&p, &in, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/ca-cert.pem") != NULL);
}

RUN_TESTS("tls", UT(both_ends_export_one_key_and_each_session_its_own),
	  UT(destination_named_source_only),
	  UT(keyed_checks_differ_from_plain_ones_and_between_sessions),
	  UT(missing_or_bad_credentials_are_named), UT(acceptor_refuses_a_plaintext_source_by_name),
	  UT(acceptor_ends_a_stalled_handshake_at_its_deadline),
	  UT(psk_acceptor_names_a_hello_cut_short_as_a_hang_up),
	  UT(x509_migration_over_data_channels_with_compression), UT(psk_migration),
	  UT(tls_destination_refuses_a_plaintext_source),
	  UT(plaintext_destination_refuses_a_tls_source),
	  UT(destination_refuses_a_certificate_of_another_ca),
	  UT(source_refuses_a_destination_of_another_ca),
	  UT(source_refuses_a_destination_under_another_name),
	  UT(source_refuses_an_expired_destination_certificate),
	  UT(destination_refuses_an_expired_source_certificate), UT(destination_refuses_a_wrong_psk),
	  UT(destination_refuses_an_unknown_psk_identity),
	  UT(x509_source_is_refused_by_a_psk_destination), UT(missing_credentials_fail_the_start))

/* SPDX-License-Identifier: MIT */
#include "migration/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_ctx {
	SSL_CTX *ssl;
	enum tls_role role;
	bool psk;
	char hostname[256];
	char psk_identity[TLS_MAX_PSK_IDENTITY + 1];
	uint8_t psk_key[TLS_MAX_PSK_KEY];
	size_t psk_key_len;
};

struct tls_conn {
	struct tls_ctx *ctx;
	SSL *ssl;
	pthread_mutex_t lock;     /* one SSL object, a reader and a writer thread */
	char unknown_identity[TLS_MAX_PSK_IDENTITY + 1]; /* server: a PSK identity we do not hold */
	bool psk_offered_unknown;
	bool psk_offered;         /* server: the client offered some PSK */
};

/* TLS 1.3 suite whose hash (SHA-256) a PSK session is bound to. */
static const unsigned char PSK_CIPHER_ID[2] = {0x13, 0x01}; /* TLS_AES_128_GCM_SHA256 */
#define PSK_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"

bool tls_opts_enabled(const struct tls_opts *o)
{
	return o && ((o->creds_dir && *o->creds_dir) || (o->psk_file && *o->psk_file));
}

/* The most recent OpenSSL error as text, the queue emptied. */
static const char *ssl_err_text(char *buf, size_t len)
{
	unsigned long e, last = 0;
	while ((e = ERR_get_error()))
		last = e;
	if (!last)
		return "unknown error";
	ERR_error_string_n(last, buf, len);
	const char *reason = ERR_reason_error_string(last);
	if (reason)
		snprintf(buf, len, "%s", reason);
	return buf;
}

static int readable_file(const char *dir, const char *name, char *path, size_t pathlen, char *err,
			 size_t errlen)
{
	snprintf(path, pathlen, "%s/%s", dir, name);
	if (access(path, R_OK) != 0) {
		int e = errno;
		snprintf(err, errlen, "TLS credentials: cannot read %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* X.509: our certificate and key for the role, the CA, and mandatory peer checks. */
static int load_x509(struct tls_ctx *c, const char *dir, char *err, size_t errlen)
{
	bool server = c->role == TLS_SERVER;
	char ca[4096], cert[4096], key[4096], e[256];
	int r;
	if ((r = readable_file(dir, TLS_FILE_CA, ca, sizeof(ca), err, errlen)) ||
	    (r = readable_file(dir, server ? TLS_FILE_SERVER_CERT : TLS_FILE_CLIENT_CERT, cert,
			       sizeof(cert), err, errlen)) ||
	    (r = readable_file(dir, server ? TLS_FILE_SERVER_KEY : TLS_FILE_CLIENT_KEY, key,
			       sizeof(key), err, errlen)))
		return r;
	if (SSL_CTX_load_verify_locations(c->ssl, ca, NULL) != 1) {
		snprintf(err, errlen, "TLS credentials: bad CA certificate %s: %s", ca,
			 ssl_err_text(e, sizeof(e)));
		return -EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert) != 1) {
		snprintf(err, errlen, "TLS credentials: bad certificate %s: %s", cert,
			 ssl_err_text(e, sizeof(e)));
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ssl) != 1) {
		snprintf(err, errlen, "TLS credentials: bad key %s (or not the key of %s): %s", key,
			 cert, ssl_err_text(e, sizeof(e)));
		return -EINVAL;
	}
	/* Mutual: the destination wants the source's certificate too. */
	SSL_CTX_set_verify(c->ssl,
			   SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	return 0;
}

static int hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "IDENTITY:HEXKEY" on the first line that is neither blank nor a comment. */
static int parse_psk_line(struct tls_ctx *c, char *line, const char *path, char *err,
			  size_t errlen)
{
	line[strcspn(line, "\r\n")] = 0;
	char *colon = strrchr(line, ':');
	size_t idlen = colon ? (size_t)(colon - line) : 0;
	const char *hex = colon ? colon + 1 : "";
	size_t hexlen = strlen(hex);
	if (!colon || !idlen || idlen > TLS_MAX_PSK_IDENTITY || hexlen % 2 ||
	    hexlen / 2 < TLS_MIN_PSK_KEY || hexlen / 2 > TLS_MAX_PSK_KEY) {
		snprintf(err, errlen,
			 "TLS PSK file %s: want one line IDENTITY:HEXKEY (identity 1..%d chars, key "
			 "%d..%d bytes in hex)", path, TLS_MAX_PSK_IDENTITY, TLS_MIN_PSK_KEY,
			 TLS_MAX_PSK_KEY);
		return -EINVAL;
	}
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "TLS PSK file %s: the key is not hexadecimal", path);
			return -EINVAL;
		}
		c->psk_key[i] = (uint8_t)(hi << 4 | lo);
	}
	c->psk_key_len = hexlen / 2;
	memcpy(c->psk_identity, line, idlen);
	c->psk_identity[idlen] = 0;
	return 0;
}

static int load_psk_file(struct tls_ctx *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "TLS PSK file: cannot read %s: %s", path, strerror(e));
		return -e;
	}
	char line[1024];
	int r = -EINVAL;
	snprintf(err, errlen, "TLS PSK file %s holds no IDENTITY:HEXKEY line", path);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0)
			continue;
		r = parse_psk_line(c, line, path, err, errlen);
		break;
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return r;
}

/* An SSL_SESSION carrying the external PSK, bound to PSK_CIPHER_ID. */
static SSL_SESSION *psk_session(SSL *ssl, const struct tls_ctx *c)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, PSK_CIPHER_ID);
	SSL_SESSION *s = cipher ? SSL_SESSION_new() : NULL;
	if (!s)
		return NULL;
	if (!SSL_SESSION_set1_master_key(s, c->psk_key, c->psk_key_len) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

static int psk_use_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
		      SSL_SESSION **sess)
{
	struct tls_conn *t = SSL_get_app_data(ssl);
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, PSK_CIPHER_ID);
	*sess = NULL;
	/* md set: a HelloRetryRequest fixed the hash; ours must match it */
	if (md && cipher && md != SSL_CIPHER_get_handshake_digest(cipher))
		return 1;
	if (!(*sess = psk_session(ssl, t->ctx)))
		return 0;
	*id = (const unsigned char *)t->ctx->psk_identity;
	*idlen = strlen(t->ctx->psk_identity);
	return 1;
}

static int psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
	struct tls_conn *t = SSL_get_app_data(ssl);
	const char *mine = t->ctx->psk_identity;
	*sess = NULL;
	t->psk_offered = true;
	if (idlen != strlen(mine) || memcmp(id, mine, idlen) != 0) {
		/* Not ours: the handshake fails for want of a certificate. */
		size_t n = idlen < TLS_MAX_PSK_IDENTITY ? idlen : TLS_MAX_PSK_IDENTITY;
		for (size_t i = 0; i < n; i++)
			t->unknown_identity[i] = id[i] >= 0x20 && id[i] < 0x7f ? (char)id[i] : '?';
		t->unknown_identity[n] = 0;
		t->psk_offered_unknown = true;
		return 1;
	}
	*sess = psk_session(ssl, t->ctx);
	return *sess ? 1 : 0;
}

static int load_psk(struct tls_ctx *c, const char *path, char *err, size_t errlen)
{
	int r = load_psk_file(c, path, err, errlen);
	if (r)
		return r;
	c->psk = true;
	/* The server takes a PSK only under a suite of the PSK's hash
	 * (SHA-256): offer no other, or it picks SHA-384 and drops the key. */
	if (SSL_CTX_set_ciphersuites(c->ssl, PSK_SUITES) != 1) {
		snprintf(err, errlen, "TLS: cannot restrict the cipher suites for a PSK");
		return -EINVAL;
	}
	if (c->role == TLS_CLIENT) {
		SSL_CTX_set_psk_use_session_callback(c->ssl, psk_use_cb);
		/* No CA: should a server answer with a certificate instead of
		 * our key, it cannot be verified and the handshake fails. */
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_psk_find_session_callback(c->ssl, psk_find_cb);
	}
	return 0;
}

int tls_ctx_new(const struct tls_opts *o, enum tls_role role, struct tls_ctx **out, char *err,
		size_t errlen)
{
	bool x509 = o->creds_dir && *o->creds_dir, psk = o->psk_file && *o->psk_file;
	if (x509 == psk) {
		snprintf(err, errlen, x509 ? "TLS: give X.509 credentials or a PSK file, not both"
					   : "TLS: no credentials given");
		return -EINVAL;
	}
	struct tls_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->role = role;
	c->ssl = SSL_CTX_new(role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
	if (!c->ssl) {
		char e[256];
		snprintf(err, errlen, "TLS: cannot create a context: %s", ssl_err_text(e, sizeof(e)));
		free(c);
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(c->ssl, TLS1_3_VERSION);
	/* Kernel TLS where the kernel has it: one copy fewer on send. No
	 * tickets: every migration authenticates from scratch. */
	SSL_CTX_set_options(c->ssl, SSL_OP_ENABLE_KTLS | SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(c->ssl, 0);
	SSL_CTX_set_read_ahead(c->ssl, 1); /* fewer syscalls on a bulk stream */
	if (role == TLS_CLIENT && x509 && (!o->hostname || !*o->hostname)) {
		snprintf(err, errlen, "TLS: X.509 needs the destination's host name (--tls-hostname)");
		tls_ctx_free(c);
		return -EINVAL;
	}
	if (o->hostname)
		snprintf(c->hostname, sizeof(c->hostname), "%s", o->hostname);
	int r = x509 ? load_x509(c, o->creds_dir, err, errlen) : load_psk(c, o->psk_file, err, errlen);
	if (r) {
		tls_ctx_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void tls_ctx_free(struct tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ssl);
	OPENSSL_cleanse(c->psk_key, sizeof(c->psk_key));
	free(c);
}

/* X.509: the peer's certificate must carry this name (DNS or IP entry).
 * Client: the host it meant to reach (and SNI); server: if the operator
 * named the one source allowed in. */
static int expect_host(SSL *ssl, const char *host, bool client)
{
	unsigned char addr[16];
	bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (ip)
		return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : -EINVAL;
	if (client && SSL_set_tlsext_host_name(ssl, host) != 1)
		return -EINVAL;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -EINVAL;
}

int tls_conn_new(struct tls_ctx *ctx, int fd, struct tls_conn **out, char *err, size_t errlen)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	char e[256];
	if (!t || !(t->ssl = SSL_new(ctx->ssl))) {
		snprintf(err, errlen, "TLS: cannot create a session: %s", ssl_err_text(e, sizeof(e)));
		free(t);
		return -ENOMEM;
	}
	t->ctx = ctx;
	pthread_mutex_init(&t->lock, NULL);
	SSL_set_app_data(t->ssl, t);
	if (SSL_set_fd(t->ssl, fd) != 1 ||
	    (!ctx->psk && ctx->hostname[0] &&
	     expect_host(t->ssl, ctx->hostname, ctx->role == TLS_CLIENT))) {
		snprintf(err, errlen, "TLS: cannot set up a session for '%s': %s", ctx->hostname,
			 ssl_err_text(e, sizeof(e)));
		tls_conn_free(t);
		return -EINVAL;
	}
	if (ctx->role == TLS_SERVER)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	*out = t;
	return 0;
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/*
 * OpenSSL writes to the socket with plain write(): a peer that has gone
 * would raise SIGPIPE and kill the embedder. The signal is blocked on this
 * thread for the call, and one raised meanwhile is taken back.
 */
struct sigpipe_guard {
	sigset_t set, old;
	bool was_pending; /* one the caller had blocked and pending is theirs */
};

static bool sigpipe_pending(void)
{
	sigset_t p;
	return sigpending(&p) == 0 && sigismember(&p, SIGPIPE);
}

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigemptyset(&g->set);
	sigaddset(&g->set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &g->set, &g->old);
	g->was_pending = sigpipe_pending();
}

/*
 * Takes back a SIGPIPE raised during the call, whatever OpenSSL made of
 * the error (EPIPE can come back as SSL_ERROR_SSL, or be raised by an
 * alert sent from inside a read), unless the caller had it blocked.
 */
static void sigpipe_restore(struct sigpipe_guard *g, bool epipe)
{
	(void)epipe;
	if (!sigismember(&g->old, SIGPIPE) && !g->was_pending && sigpipe_pending()) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&g->set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Why the handshake failed, as an operator wants to read it. */
static void handshake_why(struct tls_conn *t, int ssl_err, int sys_errno, char *why, size_t whylen)
{
	bool server = t->ctx->role == TLS_SERVER;
	const char *peer_cert = server ? "the source's certificate" : "the destination's certificate";
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);
	long vr = SSL_get_verify_result(t->ssl);
	char text[256];
	/* A peer gone mid-handshake, or one that is no TLS 1.3 peer, is named
	 * as such before any judgement of credentials it never fully showed
	 * (a ClientHello cut short has offered no PSK either). */
	bool closed = ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN || !e ||
		      reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
	bool not_tls13 = reason == SSL_R_WRONG_VERSION_NUMBER ||
			 reason == SSL_R_PACKET_LENGTH_TOO_LONG || reason == SSL_R_UNEXPECTED_RECORD;

	if (closed) {
		snprintf(why, whylen, "TLS handshake: the peer closed the connection%s%s",
			 sys_errno ? ": " : " (did it refuse our credentials?)",
			 sys_errno ? strerror(sys_errno) : "");
	} else if (not_tls13) {
		snprintf(why, whylen, "the peer does not speak TLS 1.3 (%s): is it started without TLS?",
			 ssl_err_text(text, sizeof(text)));
	} else if (server && t->ctx->psk && !t->psk_offered) {
		snprintf(why, whylen, "wrong PSK: the source offered none (does it use certificates?)");
	} else if (t->psk_offered_unknown) {
		snprintf(why, whylen, "wrong PSK: unknown identity '%s'", t->unknown_identity);
	} else if (reason == SSL_R_BINDER_DOES_NOT_VERIFY) {
		snprintf(why, whylen, "wrong PSK: the source's key does not match ours");
	} else if (vr != X509_V_OK && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		snprintf(why, whylen, "wrong certificate: %s rejected: %s%s", peer_cert,
			 X509_verify_cert_error_string(vr), t->ctx->psk ? " (the peer does not use our PSK)" : "");
	} else if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
		snprintf(why, whylen, "wrong certificate: the source sent none");
	} else if (reason >= SSL_AD_REASON_OFFSET) {
		snprintf(why, whylen, "TLS handshake: the peer refused us (%s)%s",
			 ssl_err_text(text, sizeof(text)),
			 t->ctx->psk ? ": wrong PSK?" : ": is our certificate signed by its CA?");
	} else {
		snprintf(why, whylen, "TLS handshake failed: %s", ssl_err_text(text, sizeof(text)));
	}
	ERR_clear_error();
}

/* Translates a non-positive SSL_* return into 0 (+ events) or -errno. */
static int io_result(struct tls_conn *t, int ret, short *events, int *ssl_err, int *sys_errno)
{
	int e = SSL_get_error(t->ssl, ret);
	*ssl_err = e;
	*sys_errno = 0;
	if (e == SSL_ERROR_WANT_READ) {
		*events = POLLIN;
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		*events = POLLOUT;
		return 0;
	}
	if (e == SSL_ERROR_SYSCALL && errno) {
		*sys_errno = errno;
		return -errno;
	}
	/* OpenSSL 3 reports a peer that closed mid-record as SSL_ERROR_SSL: a
	 * broken link (a resume retries it), not a protocol failure. */
	if (e == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return -ECONNRESET;
	return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? -ECONNRESET : -EPROTO;
}

int tls_conn_handshake(struct tls_conn *t, short *events, char *why, size_t whylen)
{
	struct sigpipe_guard g;
	int ssl_err, sys_errno;
	ERR_clear_error();
	errno = 0;
	sigpipe_block(&g);
	int ret = SSL_do_handshake(t->ssl);
	int r = ret == 1 ? 1 : io_result(t, ret, events, &ssl_err, &sys_errno);
	sigpipe_restore(&g, r == -EPIPE);
	if (r < 0) {
		handshake_why(t, ssl_err, sys_errno, why, whylen);
		return r == -ECONNRESET || r == -EPIPE ? -ECONNREFUSED : -EACCES;
	}
	/* External PSK: the session must really rest on it, never on a
	 * certificate the peer happened to offer instead. */
	if (r == 1 && t->ctx->psk && !SSL_session_reused(t->ssl)) {
		snprintf(why, whylen, "wrong PSK: the peer did not use our pre-shared key");
		return -EACCES;
	}
	return r;
}

/*
 * One SSL_read_ex or SSL_write_ex under the connection's lock and the
 * SIGPIPE guard (a read may write too: an alert, a key update). Returns
 * 0 with *done set, or as io_result.
 */
static int tls_conn_io(struct tls_conn *t, bool writing, void *buf, size_t n, size_t *done,
		       short *events, int *ssl_err, int *sys_errno)
{
	struct sigpipe_guard g;
	pthread_mutex_lock(&t->lock);
	ERR_clear_error();
	errno = 0;
	sigpipe_block(&g);
	int ret = writing ? SSL_write_ex(t->ssl, buf, n, done) : SSL_read_ex(t->ssl, buf, n, done);
	int r = ret == 1 ? 0 : io_result(t, ret, events, ssl_err, sys_errno);
	sigpipe_restore(&g, r == -EPIPE);
	pthread_mutex_unlock(&t->lock);
	return r;
}

ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t n, short *events, char *err,
		      size_t errlen)
{
	size_t got = 0;
	int ssl_err, sys_errno;
	char text[256];
	int r = tls_conn_io(t, false, buf, n, &got, events, &ssl_err, &sys_errno);
	/* TLS 1.3: the server judges the client's certificate after the
	 * client's handshake is over, so its refusal comes as an alert here.
	 * (OpenSSL's error queue is per thread: still ours after the unlock.) */
	bool alert = r < 0 && ERR_GET_REASON(ERR_peek_last_error()) >= SSL_AD_REASON_OFFSET;
	if (r < 0)
		snprintf(err, errlen, alert ? "refused by the peer (%s)" : "%s",
			 alert ? ssl_err_text(text, sizeof(text))
			 : r == -ECONNRESET ? "connection closed by the peer"
			 : sys_errno ? strerror(sys_errno) : ssl_err_text(text, sizeof(text)));
	return r < 0 ? r : (ssize_t)got;
}

ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t n, short *events, char *err,
		       size_t errlen)
{
	size_t done = 0;
	int ssl_err, sys_errno;
	char text[256];
	int r = tls_conn_io(t, true, (void *)buf, n, &done, events, &ssl_err, &sys_errno);
	if (r < 0)
		snprintf(err, errlen, "%s",
			 sys_errno ? strerror(sys_errno) : ssl_err_text(text, sizeof(text)));
	return r < 0 ? r : (ssize_t)done;
}

bool tls_conn_pending(struct tls_conn *t)
{
	pthread_mutex_lock(&t->lock);
	bool p = SSL_has_pending(t->ssl) == 1;
	pthread_mutex_unlock(&t->lock);
	return p;
}

int tls_conn_export_key(struct tls_conn *t, uint8_t *out, size_t len)
{
	pthread_mutex_lock(&t->lock);
	int ok = SSL_export_keying_material(t->ssl, out, len, TLS_INTEGRITY_LABEL,
					    strlen(TLS_INTEGRITY_LABEL), NULL, 0, 0);
	pthread_mutex_unlock(&t->lock);
	return ok == 1 ? 0 : -EPROTO;
}

void tls_conn_describe(struct tls_conn *t, char *out, size_t outlen)
{
	pthread_mutex_lock(&t->lock);
	bool ktls = BIO_get_ktls_send(SSL_get_wbio(t->ssl));
	snprintf(out, outlen, "%s %s %s, send: %s", SSL_get_version(t->ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)), t->ctx->psk ? "psk" : "x509",
		 ktls ? "kernel TLS" : "userspace");
	pthread_mutex_unlock(&t->lock);
}

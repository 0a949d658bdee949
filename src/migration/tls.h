/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 for migration channels (OpenSSL 3), one session per connection.
 *
 * Two ways to authenticate, both mutual:
 *  - X.509 from a directory in QEMU's layout (TLS_FILE_* below): the
 *    destination is the TLS server and wants a client certificate signed
 *    by the same CA; the source checks the destination's certificate
 *    against the host name it dialled (or the one it was told);
 *  - a TLS 1.3 external pre-shared key from a file holding one line
 *    "IDENTITY:HEXKEY" (QEMU's keys.psk format).
 *
 * Everything here is non-blocking: the caller owns the fd, polls it for
 * the events a call asks for, and calls again. Kernel TLS is asked for;
 * tls_conn_describe() says whether the kernel took the send path.
 */
#ifndef VMIG_MIGRATION_TLS_H
#define VMIG_MIGRATION_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The credentials directory, as QEMU lays it out. */
#define TLS_FILE_CA "ca-cert.pem"
#define TLS_FILE_SERVER_CERT "server-cert.pem"
#define TLS_FILE_SERVER_KEY "server-key.pem"
#define TLS_FILE_CLIENT_CERT "client-cert.pem"
#define TLS_FILE_CLIENT_KEY "client-key.pem"

/* The label both sides export the integrity key under (RFC 8446 7.5). */
#define TLS_INTEGRITY_LABEL "EXPORTER-vmig-integrity-v1"
#define TLS_MAX_PSK_IDENTITY 128
#define TLS_MAX_PSK_KEY 64          /* bytes, after hex decoding */
#define TLS_MIN_PSK_KEY 16

#define TLS_CONTENT_HANDSHAKE 0x16 /* first byte of a TLS ClientHello */

enum tls_role { TLS_CLIENT, TLS_SERVER };  /* source: client; destination: server */

struct tls_opts {
	const char *creds_dir;  /* X.509 directory, or NULL */
	const char *psk_file;   /* "IDENTITY:HEXKEY", or NULL; exclusive with creds_dir */
	/* X.509: the name (or IP) the peer's certificate must carry; required
	 * on the client (the destination's), optional on the server (the
	 * source's: only that one may migrate in) */
	const char *hostname;
};

/* Credentials loaded once, shared by every channel of a migration. */
struct tls_ctx;
struct tls_conn;

/* True if o asks for TLS at all. */
bool tls_opts_enabled(const struct tls_opts *o);
/* Loads and checks the credentials: a missing or unreadable file is named in err. */
int tls_ctx_new(const struct tls_opts *o, enum tls_role role, struct tls_ctx **out, char *err,
		size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

/* A session on the connected, non-blocking fd (not closed by tls_conn_free). */
int tls_conn_new(struct tls_ctx *ctx, int fd, struct tls_conn **out, char *err, size_t errlen);
void tls_conn_free(struct tls_conn *t);

/*
 * Advances the handshake. Returns 1 once done and the peer authenticated,
 * 0 while it must wait for *events (POLLIN/POLLOUT) on the fd, or a
 * negative errno with why naming the reason (wrong certificate, wrong
 * PSK, not a TLS peer...).
 */
int tls_conn_handshake(struct tls_conn *t, short *events, char *why, size_t whylen);

/*
 * Moves up to n bytes. Return > 0: bytes moved; 0: would block, wait for
 * *events; < 0: negative errno with err filled (-ECONNRESET: the peer
 * closed). Safe to call from two threads at once (one reading, one writing).
 */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t n, short *events, char *err,
		      size_t errlen);
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t n, short *events, char *err,
		       size_t errlen);
/* Decrypted or unprocessed bytes wait inside the session: do not poll, read. */
bool tls_conn_pending(struct tls_conn *t);

/* Keying material exported from the session under TLS_INTEGRITY_LABEL. */
int tls_conn_export_key(struct tls_conn *t, uint8_t *out, size_t len);
/* "TLS1.3 TLS_AES_256_GCM_SHA384 x509, send: kernel TLS|userspace". */
void tls_conn_describe(struct tls_conn *t, char *out, size_t outlen);

#endif

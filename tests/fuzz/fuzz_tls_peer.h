/* SPDX-License-Identifier: MIT */
/*
 * The far end of a connection in the TLS fuzz targets: a non-blocking
 * socket spoken to in raw bytes, or through a real TLS session of
 * src/migration/tls.c (the in-process source facing the destination under
 * test, or the destination facing the source under test).
 */
#ifndef VMIG_TESTS_FUZZ_TLS_PEER_H
#define VMIG_TESTS_FUZZ_TLS_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "migration/tls.h"
#include "migration/wire.h"

struct fuzz_peer {
	int fd;               /* non-blocking; not closed here */
	struct tls_conn *tls; /* NULL: raw bytes */
	bool secured;         /* handshake done: key holds the session's secret */
	bool failed;          /* the handshake failed */
	short events;         /* what the handshake waits for */
	struct wire_key key;
	size_t retry_len;     /* a write that would block goes again at this length */
};

/* Starts a TLS session on p->fd (p->fd set, the rest zero). */
void fuzz_peer_start_tls(struct fuzz_peer *p, struct tls_ctx *ctx);
/* Advances the handshake: 1 done (key exported), 0 wait for p->events,
 * < 0 failed (p->failed). */
int fuzz_peer_handshake(struct fuzz_peer *p);
/* Writes at most a TLS record's worth: > 0 written, 0 would block (call
 * again with the same bytes, or more after them), < 0 the other end is
 * gone. */
ssize_t fuzz_peer_write(struct fuzz_peer *p, const void *buf, size_t n);
/* Reads: > 0 bytes, 0 nothing now, < 0 closed or failed. */
ssize_t fuzz_peer_read(struct fuzz_peer *p, void *buf, size_t n);
void fuzz_peer_free(struct fuzz_peer *p);

#endif

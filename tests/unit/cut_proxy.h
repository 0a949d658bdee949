/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLE of a network: a TCP proxy between a migration source and
 * its destination that understands record boundaries (16-byte header with
 * the payload length) and can cut or stall every connection right before
 * a chosen record, in either direction. It shows what each side does when
 * the link breaks at exactly that point. It can also be a slow link
 * (rate_bytes_per_s), with a rule that never acts.
 */
#ifndef VMIG_TESTS_CUT_PROXY_H
#define VMIG_TESTS_CUT_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cut_dir { TO_DEST, TO_SOURCE };
enum cut_action {
	CUT_CLOSE, /* the record is not forwarded; every connection is shut down */
	CUT_STALL, /* the record is not forwarded; everything stays open, silent */
};

struct cut_rule {
	uint32_t type;         /* record type (wire.h REC_*) */
	enum cut_dir dir;
	unsigned nth;          /* act at its nth occurrence (1 = first; 0 counts as 1) */
	enum cut_action action;
	/* After the cut, connections are dropped at once for this long, then
	 * forwarded again (a link that comes back); 0: it stays down. */
	unsigned outage_ms;
	/* Nonzero: ignore type/nth and act once this many bytes went in dir,
	 * all connections together, forwarding raw bytes: for streams the
	 * proxy cannot read (TLS). */
	uint64_t after_bytes;
	/* Nonzero: towards the destination, all connections together, at
	 * most this many bytes per second (a slow link nobody announced). */
	uint64_t rate_bytes_per_s;
};

struct cut_proxy;

/* Listens on a free loopback port (its tcp: address in uri) and forwards
 * each connection to upstream_port on 127.0.0.1. */
int cut_proxy_start(int upstream_port, const struct cut_rule *rule, char *uri, size_t urilen,
		    struct cut_proxy **out);
/* Whether the rule has acted. */
bool cut_proxy_fired(struct cut_proxy *p);
/* Bytes forwarded towards the destination since the rule acted. */
uint64_t cut_proxy_bytes_after_cut(struct cut_proxy *p);
void cut_proxy_stop(struct cut_proxy *p);
/* The port of a tcp:HOST:PORT address. */
int uri_port(const char *uri);

#endif

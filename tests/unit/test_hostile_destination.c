/* SPDX-License-Identifier: MIT */
/*
 * The source hearing a destination that breaks the protocol (what
 * tests/fuzz/fuzz_source explores at random): the engine migrates a TEST
 * DOUBLE guest (fake_guest.h) over socketpairs to a handmade destination
 * that answers each connection's records as a receiver would, except
 * where a case says otherwise. Each case checks that the source fails
 * with the reason and keeps its guest running.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "fake_guest.h"
#include "migration/wire.h"
#include "unittest.h"

#define IO_TIMEOUT_MS 2000
#define BOGUS_PASS 99 /* far past any pass a small idle guest needs */

/* One connection of the handmade destination. */
struct handmade_conn {
	int fd;
	uint64_t ack_pass; /* what every SYNC_ACK claims; 0: the SYNC's own pass */
	pthread_t thread;
};

static int read_full(int fd, void *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (uint8_t *)p + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void answer(int fd, uint32_t type, const void *payload, size_t len)
{
	struct vbuf b;
	vbuf_init(&b);
	wire_put_record(&b, type, payload, len);
	/* MSG_NOSIGNAL: a source that left is EPIPE here, not a SIGPIPE
	 * that kills the test */
	if (send(fd, b.data, b.len, MSG_NOSIGNAL) != (ssize_t)b.len) {
		/* the source left: its own error says why */
	}
	vbuf_free(&b);
}

/* Answers HELLO and SYNC until COMPLETE or CHANNEL_END, then hangs up (no
 * READY: a source still going by then fails at once, not after a deadline). */
static void *handmade_conn_thread(void *arg)
{
	struct handmade_conn *c = arg;
	uint8_t raw[WIRE_HDR_SIZE];
	struct vbuf payload;
	vbuf_init(&payload);
	while (read_full(c->fd, raw, sizeof(raw)) == 0) {
		struct wire_hdr h;
		wire_decode_hdr(raw, &h);
		vbuf_reset(&payload);
		uint8_t *p = vbuf_grow(&payload, h.len);
		if ((h.len && !p) || read_full(c->fd, p, h.len))
			break;
		if (h.type == REC_HELLO) {
			struct wire_hello_ack a = {.version = WIRE_VERSION};
			struct vbuf b;
			vbuf_init(&b);
			wire_encode_hello_ack(&b, &a);
			answer(c->fd, REC_HELLO_ACK, b.data, b.len);
			vbuf_free(&b);
		} else if (h.type == REC_SYNC) {
			struct wire_sync s;
			uint8_t ack[WIRE_SYNC_ACK_SIZE];
			char err[128];
			if (wire_decode_sync(p, h.len, &s, err, sizeof(err)))
				break;
			struct wire_sync_ack a = {.pass = c->ack_pass ? c->ack_pass : s.pass};
			wire_encode_sync_ack(ack, &a);
			answer(c->fd, REC_SYNC_ACK, ack, sizeof(ack));
		} else if (h.type == REC_COMPLETE || h.type == REC_CHANNEL_END) {
			break;
		}
	}
	vbuf_free(&payload);
	close(c->fd);
	return NULL;
}

/* Migrates a small idle guest to the handmade destination (channels data
 * channels, every SYNC_ACK claiming ack_pass); *st: the final status. */
static void migrate_to_handmade(struct ut_state *ut_, struct fake_guest *g, unsigned channels,
				uint64_t ack_pass, struct vmig_migrate_stats *st)
{
	struct handmade_conn conn[2];
	int fds[2];
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	struct vmig_guest guest = {&fg_ops, g};
	struct vmig_migration *m;
	char err[512];
	fg_init_pages(g, 128, true);
	for (unsigned i = 0; i <= channels; i++) {
		int sv[2];
		CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		conn[i] = (struct handmade_conn){.fd = sv[1], .ack_pass = ack_pass};
		fds[i] = sv[0];
		CHECK_EQ_INT(pthread_create(&conn[i].thread, NULL, handmade_conn_thread, &conn[i]), 0);
	}
	p.fds = fds;
	p.nr_fds = 1 + channels;
	p.io_timeout_ms = IO_TIMEOUT_MS;
	CHECK_EQ_INT(vmig_migration_start(&guest, &p, &m, err, sizeof(err)), 0);
	wait_final(m, st);
	vmig_migration_free(m);
	for (unsigned i = 0; i <= channels; i++)
		pthread_join(conn[i].thread, NULL);
}

/* A destination acknowledging a pass the source never sent is broken or
 * lying: what it says it holds cannot be trusted (the source would stop
 * waiting for the real acknowledgement, and forget what it must resend
 * after a broken link). Main channel: the source's own record reader. */
TEST(sync_ack_for_a_pass_never_sent_fails_the_migration)
{
	struct fake_guest g;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	migrate_to_handmade(ut_, &g, 0, BOGUS_PASS, &st);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	CHECK(strstr(st.error, "acknowledged pass 99") != NULL);
	CHECK(!fg_is_paused(&g));
	fg_free(&g);
}

/* The same on a data channel, whose acknowledgements acks.c reads. */
TEST(sync_ack_for_a_pass_never_sent_fails_the_migration_on_a_data_channel)
{
	struct fake_guest g;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	migrate_to_handmade(ut_, &g, 1, BOGUS_PASS, &st);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	CHECK(strstr(st.error, "acknowledged pass 99") != NULL);
	CHECK(!fg_is_paused(&g));
	fg_free(&g);
}

/* The handmade destination itself, answering truthfully: the source gets
 * to the handover and fails only for want of READY. */
TEST(truthful_acknowledgements_reach_the_handover)
{
	struct fake_guest g;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	migrate_to_handmade(ut_, &g, 1, 0, &st);
	CHECK_EQ_INT(st.status, VMIG_MIG_FAILED);
	CHECK(strstr(st.error, "acknowledged") == NULL);
	CHECK(st.iterations >= 2); /* the final pass went */
	CHECK(!fg_is_paused(&g));
	fg_free(&g);
}

RUN_TESTS("hostile_destination", UT(sync_ack_for_a_pass_never_sent_fails_the_migration),
	  UT(sync_ack_for_a_pass_never_sent_fails_the_migration_on_a_data_channel),
	  UT(truthful_acknowledgements_reach_the_handover))

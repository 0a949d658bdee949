/* SPDX-License-Identifier: MIT */
/*
 * Test tool: migration streams that are bad on purpose, built for a given
 * RAM layout, and a small driver that plays one against a destination over
 * TCP the way a source would (main channel first, data channels once
 * HELLO_ACK accepted, GO only once READY came). Shared by
 * tests/tools/hostile_source.c (against a real `vmig run --incoming`) and
 * tests/unit/test_hostile.c (the real receiver into the fake guest).
 */
#ifndef VMIG_TESTS_HOSTILE_STREAMS_H
#define VMIG_TESTS_HOSTILE_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "migration/channel.h"
#include "migration/wire.h"

#define HOSTILE_MAX_CHANNELS 4
#define HOSTILE_SESSION 0x5e5510c0ffee0001ull /* what the channel cases put in HELLO */

/* The VM a stream claims to migrate. */
struct hostile_layout {
	unsigned nr_regions;
	struct wire_region regions[WIRE_MAX_REGIONS];
	const uint8_t *vmm_config; /* HELLO's opaque VMM configuration */
	uint32_t vmm_config_len;
	const uint8_t *state; /* a STATE the destination loads; NULL: 64 filler bytes */
	uint32_t state_len;
};

/* One connection's bytes: `now` goes out at once, `after_ready` once the
 * destination has sent READY on the main channel. */
struct hostile_bytes {
	struct vbuf now, after_ready;
};

struct hostile_stream {
	struct hostile_bytes main;
	unsigned nr_chan; /* data connections, opened in order once HELLO_ACK accepted */
	struct hostile_bytes chan[HOSTILE_MAX_CHANNELS];
	bool hangup; /* close the main connection once sent, read nothing */
};

/* The i-th case hostile_stream_build knows; NULL past the last. */
const char *hostile_case_name(unsigned i);

/* Builds case `name` for layout l into s (freed with hostile_stream_free,
 * also after a failure). Returns 0, or -EINVAL / -ENOMEM with err filled. */
int hostile_stream_build(const char *name, const struct hostile_layout *l, struct hostile_stream *s,
			 char *err, size_t errlen);
void hostile_stream_free(struct hostile_stream *s);

/* The source's side of one run. */
struct hostile_run {
	struct channel main;
	struct channel chan[HOSTILE_MAX_CHANNELS];
	unsigned nr_chan;		  /* data connections opened */
	uint32_t first_reply;		  /* type of the destination's first record; 0: none */
	char reply_msg[WIRE_MAX_STRING];  /* its ERROR reason or HELLO_ACK message */
	bool closed;			  /* instead of a first record: closed or reset */
	bool got_ready;			  /* READY came: after_ready bytes went out */
	char dest_error[WIRE_MAX_STRING]; /* the last ERROR the destination sent on main */
};

/*
 * Connects to uri (retrying for up to connect_wait_ms while nobody
 * listens), sends s->main.now, reads the destination's first answer (for
 * up to reply_wait_ms) and, if it is an accepting HELLO_ACK, opens the
 * data connections and sends their `now` bytes. Send errors are ignored:
 * the destination may hang up on purpose. Returns 0, or a negative errno
 * with err filled when the main connection could not be made.
 */
int hostile_send(struct hostile_run *r, const char *uri, const struct hostile_stream *s,
		 int connect_wait_ms, int reply_wait_ms, char *err, size_t errlen);
/* Reads the main channel until the destination closes it or timeout_ms
 * pass; sends the after_ready bytes when READY arrives. */
void hostile_finish(struct hostile_run *r, const struct hostile_stream *s, int timeout_ms);
/* The first record on data connection i (type, ERROR reason in msg); 0
 * when it was closed or stayed silent for timeout_ms. */
uint32_t hostile_chan_reply(struct hostile_run *r, unsigned i, int timeout_ms, char *msg,
			    size_t msglen);
void hostile_close(struct hostile_run *r);

#endif

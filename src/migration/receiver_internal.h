/* SPDX-License-Identifier: MIT */
/*
 * The destination's insides, shared by receiver.c (the migration's
 * course: HELLO, the main channel's records, the handover, resume),
 * receiver_channels.c (the page streams: data channels and their
 * threads) and receiver_pages.c (a PAGES record checked and applied).
 */
#ifndef VMIG_MIGRATION_RECEIVER_INTERNAL_H
#define VMIG_MIGRATION_RECEIVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "migration/channel.h"
#include "migration/ram.h"
#include "migration/wire.h"
#include "vmig/migration.h"

struct vmig_incoming;

/* A page stream being received: the main channel, or a data channel with
 * its own thread. */
struct dst_chan {
	struct vmig_incoming *in;
	unsigned idx;
	struct channel *ch;
	struct channel own;
	pthread_t thread;
	bool thread_on;
	struct ram_map *ram;
	struct vbuf payload;
	/* one PAGES record's metadata */
	uint64_t entries[WIRE_MAX_PAGES_PER_BATCH];
	uint64_t hashes[WIRE_MAX_PAGES_PER_BATCH];
	struct iovec iov[WIRE_MAX_PAGES_PER_BATCH];
	uint64_t pages_normal, pages_zero, pages_xbzrle, passes;
	uint64_t decompress_ns;   /* this thread's CPU time in decoders */
	uint64_t ack_ns, ack_dec_ns; /* at this stream's last SYNC_ACK: now_ns, all decoding */
	struct codec_ctx *codec_ctx;
	struct accel_queue *q;    /* this thread's jobs on in->accel, if any */
	/* Allocated on first need (stream_buf): 4 MiB each, and a stream that
	 * never sees a compressed or XBZRLE batch should not hold them. */
	uint8_t *scratch;         /* decompressed batch */
	uint8_t *comp;            /* compressed batch as received */
	size_t comp_cap;
	uint8_t *xbz;             /* XBZRLE section as received */
	uint64_t synced_pass;     /* under in->lock */
	bool ended;               /* under in->lock: CHANNEL_END or failure */
	bool got_end;             /* CHANNEL_END came: the handover has begun */
	/* The open pass: the page after the last one of the last PAGES record
	 * applied whole (pages go in increasing order within a pass). */
	uint64_t applied_upto;
	int result;               /* the thread's: 0, or why it stopped */
};

struct vmig_incoming {
	struct vmig_incoming_params p;
	struct channel ch;
	int lfd;                  /* kept open until the data channels connected */
	int cancel_fd;            /* eventfd: vmig_incoming_cancel */
	struct acceptor *acc;     /* strangers on lfd, until the data channels connected */
	struct tls_ctx *tls;      /* required of every connection; NULL: plaintext */
	struct wire_hello hello;
	uint8_t *vmm_config;
	struct vbuf payload;
	uint64_t t0_ns;
	unsigned nr_chans;
	struct dst_chan *chans;   /* [0] is the main channel when there are no data channels */
	/* This host's figures for HELLO_ACK and every SYNC_ACK, sampled from
	 * creation on, so the first answer has an idle share (NULL: unknown). */
	struct host_probe *probe;
	struct accel *accel;      /* decompression offload (rx_offload.h), or NULL */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool failed;              /* under lock: a channel failed; err holds why */
	char err[512];
	uint64_t old_link_bytes;  /* both ways, on connections a broken link closed */
	/* now_ns() of the last record header any data channel read (atomic):
	 * a channel the source leaves out of a pass is silent while the
	 * others work (wait_data_channel). */
	uint64_t data_heard_ns;
};

/*
 * One PAGES record (its header h already read) on stream c: every count,
 * page number, length and hash checked before a byte goes into guest RAM,
 * then the pages applied. 0, or -errno with why in err.
 */
int dst_chan_recv_pages(struct dst_chan *c, struct ram_map *ram, const struct wire_hdr *h,
			char *err, size_t errlen);

/* receiver.c. First failure wins; every socket is shut down so that
 * whoever is blocked on one (the main thread included) returns at once. */
void incoming_fail(struct vmig_incoming *in, const char *msg);
/* The source is all here: strangers on the port are refused with why
 * (with resume the port stays open for this source alone). */
void incoming_retire_listener(struct vmig_incoming *in, const char *why);

/* receiver_channels.c. SYNC on page stream c: acknowledged, with this
 * host's figures, and the main thread told. */
int dst_chan_synced(struct dst_chan *c, const struct vbuf *payload, char *err, size_t errlen);
/* Accepts the data channels HELLO announced and starts their threads;
 * strangers that connect meanwhile are refused one by one. */
int incoming_accept_channels(struct vmig_incoming *in, struct ram_map *ram, char *err,
			     size_t errlen);
/* Takes the data channels' connections again (a resume) and restarts
 * their threads. */
int incoming_connect_channels(struct vmig_incoming *in, char *err, size_t errlen);
/* Until every data channel has applied pass `pass`. */
int incoming_wait_channels(struct vmig_incoming *in, uint64_t pass, char *err, size_t errlen);
/* Until the main channel has a record: quiet while the data channels
 * carry pages, then the usual deadline once they have all ended. */
int incoming_wait_main_channel(struct vmig_incoming *in, char *err, size_t errlen);

#endif

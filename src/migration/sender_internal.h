/* SPDX-License-Identifier: MIT */
/* Source-side state shared by sender.c (orchestration), sender_start.c
 * (a migration made from its parameters) and pagesend.c (the per-channel
 * page pipeline). */
#ifndef VMIG_MIGRATION_SENDER_INTERNAL_H
#define VMIG_MIGRATION_SENDER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "codec/codec.h"
#include "codec/xbzrle.h"
#include "migration/channel.h"
#include "migration/ram.h"
#include "migration/sentlog.h"
#include "policy/dirtyrate.h"
#include "policy/planner.h"
#include "policy/switchover.h"
#include "policy/throttle.h"
#include "vmig/migration.h"

#define BATCH_PAGES 256
#define CLEAR_CHUNK_PAGES 4096 /* 16 MiB re-armed per KVM_CLEAR_DIRTY_LOG */
#define NR_SLOTS 4 /* batches per stream: one filling, the rest compressing or sending */

enum slot_state { SLOT_FREE, SLOT_SEALED, SLOT_COMPRESSING };

/* One batch of pages on its way out. */
struct batch_slot {
	uint64_t entries[BATCH_PAGES];
	uint64_t hashes[BATCH_PAGES];   /* of the non-zero pages, in entry order */
	unsigned nr_entries, nr_data, nr_hashes;
	uint8_t *data;                  /* normal pages' copies */
	uint8_t *xbz;                   /* u16 length + delta, per XBZRLE page */
	size_t xbz_len;
	uint8_t *comp;                  /* compressed data */
	size_t comp_cap;
	uint64_t pass;
	enum slot_state state;
	bool job_done;
	struct accel_job job;
};

struct vmig_migration;
struct host_probe;

/* One page stream: a data channel with its thread, or the main channel
 * when the migration has no data channels. */
struct src_chan {
	struct vmig_migration *m;
	unsigned idx;
	struct channel *ch;       /* &own (data channel) or &m->ch (main) */
	struct channel own;
	pthread_t thread;
	bool thread_on;

	struct batch_slot slots[NR_SLOTS];
	unsigned nr_slots, cur, head, nr_sealed;
	unsigned max_data_pages;      /* page data per batch: within the accel's largest job */
	struct accel_queue *q;        /* this stream's completions */
	struct xbzrle_cache *xbz;     /* what the destination holds of this stream's pages */
	uint64_t xbz_bytes;           /* its size */
	struct xbzrle_stats xbz_stats; /* snapshot, under m->lock */
	/* counters not yet folded into m->st */
	uint64_t zero, normal, xbzrle, compressed, raw_bytes, comp_bytes;
	uint64_t pages_done;          /* pages walked this pass, not yet folded */
	uint64_t acked_pass;          /* last SYNC_ACK seen on this stream */

	int result;                   /* of the last pass */
	char err[512];
};

struct vmig_migration {
	struct vmig_guest g;
	struct vmig_migrate_params p;
	char uri[256];
	uint8_t *vmm_config;
	pthread_t thread;
	int cancel_fd;
	bool cancelled;                 /* atomic */

	pthread_mutex_t lock;
	struct vmig_migrate_stats st;   /* under lock */

	struct ram_map ram;
	uint64_t *bits[VMIG_MAX_RAM_REGIONS];
	/* Pages pass 1 left out (hotpages.h): the engine carries them into
	 * the next harvest itself rather than trust the guest's log to keep them. */
	uint64_t *carry[VMIG_MAX_RAM_REGIONS];
	/* The pages pass 1 left out as hot, kept apart while pass 1 is a link
	 * probe: the pass after it leaves them out too (linkprobe.h). */
	uint64_t *hot_later[VMIG_MAX_RAM_REGIONS];
	unsigned hot_watch_steps; /* steps the hot-page watch took (hotpages.h) */
	struct channel ch;              /* main channel */
	struct tls_ctx *tls;            /* credentials for every channel; NULL: plaintext */
	int byo_fds[VMIG_MAX_DATA_CHANNELS + 1]; /* connections the caller brought, until taken */
	unsigned nr_byo_fds;
	bool connected, dirty_on, paused, go_sent;
	/* The destination accepted our HELLO and holds a session for us: a
	 * failure must reach it (chan_close_after_error), or it waits its
	 * resume window for a source that gave up. */
	bool session_on;
	bool unconfirmed;               /* GO sent, RESUMED never came: guest kept paused */
	uint64_t session;
	/* Both hosts' figures, for the planner. This host's: a probe sampling
	 * on its own thread from vmig_migration_start until the migration
	 * thread ends (host_probe_get; NULL if it could not start: unknown).
	 * The destination's: its latest report, from HELLO_ACK, then every
	 * SYNC_ACK the source reads. */
	struct host_probe *probe;
	/* now_ns() when the guest's pages were sampled, and when the probe
	 * started: the sampling comes first (autopolicy.h) */
	uint64_t guest_sampled_ns, probe_started_ns;
	struct wire_host_info dest_host; /* under lock; all 0 until HELLO_ACK */
	uint64_t dest_host_ns;           /* under lock: now_ns() when it came; 0: not yet */

	/* page streams: nr_streams = max(1, data channels) */
	unsigned nr_channels;
	unsigned nr_streams;
	struct src_chan *streams;
	/* Streams 0..active_streams-1 carry pages (chunk c on stream c mod
	 * active_streams); the others only close each pass with a SYNC.
	 * Changed between passes only (active_channels.h). */
	unsigned active_streams;

	/* work hand-off to stream threads, under work_lock */
	pthread_mutex_t work_lock;
	pthread_cond_t work_cond;
	uint64_t work_gen;              /* bumped per pass */
	bool work_check_stop;
	bool work_exit;
	unsigned work_done;

	enum codec_id codec;            /* CODEC_NONE: no compression */
	struct accel *accel;            /* offload engine when compressing */
	uint64_t pass;
	struct switchover_state switchover;
	struct throttle_cfg thr_cfg;    /* auto-converge's steps (converge.c) */
	struct throttle_state thr;
	struct dirtyrate_cfg dr_cfg;    /* the dirty-rate controller and dirty limit */
	struct dirtyrate_state dr;
	unsigned throttle_pct;          /* in force on the guest now, either way */

	/* policy auto (autopolicy.c), on the migration thread */
	bool may_compress;              /* buffers and engine ready for any codec */
	struct plan plan;               /* in force */
	struct plan_inputs plan_in;
	uint64_t plan_compress_ns, plan_hits, plan_misses; /* at the last re-plan */
	uint64_t plan_xbz_judge_from;   /* first pass whose XBZRLE hits say something */
	uint64_t t0_ns;

	/* Resume after a broken link (reconnect.c): what each pass not yet
	 * acknowledged sent, and the open pass's bitmaps (NULL: not logged,
	 * as in the final pass, which cannot be resumed). */
	struct sentlog sent;
	uint64_t *sent_now[VMIG_MAX_RAM_REGIONS];
};

/* pagesend.c */
int stream_init(struct src_chan *s, struct vmig_migration *m, unsigned idx);
void stream_free(struct src_chan *s);
/* Stops XBZRLE on this stream (between passes only). */
void stream_drop_xbzrle(struct src_chan *s);
/* Drops batches in flight and empties the XBZRLE cache (the link broke;
 * between passes only): 0 or -ENOMEM. */
int stream_reset_after_break(struct src_chan *s);
/* Starts XBZRLE on this stream with an empty cache (between passes only):
 * 0, or -ENOMEM (it stays off). */
int stream_start_xbzrle(struct src_chan *s, uint64_t cache_bytes);
/* Sends this stream's share of the dirty pages (chunks c with c %
 * active_streams == idx; none for a stream not in use), then SYNC. */
int stream_send_pass(struct src_chan *s, bool check_stop, char *err, size_t errlen);
void *stream_thread(void *arg);
/* Folds a stream's counters into m->st (takes m->lock). */
void stream_fold_counters(struct src_chan *s);

/* sender.c */
bool migration_should_stop(struct vmig_migration *m, char *err, size_t errlen);
void migration_update_counters(struct vmig_migration *m);
/* Wakes every stream out of blocking I/O (a stream failed). */
void migration_abort(struct vmig_migration *m);
/* The destination's figures, for the planner: the latest report wins. */
void migration_note_dest_host(struct vmig_migration *m, const struct wire_host_info *hi);
/* Opens the main channel and exchanges HELLO (resuming the session if
 * resume: *ack then says what the destination holds). */
int migration_open_main(struct vmig_migration *m, bool resume, struct wire_hello_ack *ack,
			char *err, size_t errlen);
/* Opens data channel i (stream i's own) with its CHANNEL_HELLO. */
int migration_open_data_channel(struct vmig_migration *m, unsigned i, char *err, size_t errlen);
/* The migration's thread: setup, pre-copy, switchover, handover. */
void *migration_thread(void *arg);

/* sender_start.c */
/* Closes the connections the caller brought that no channel took. */
void migration_close_byo_fds(struct vmig_migration *m);

/* reconnect.c */
/* Whether a pre-copy failure r may be resumed from (a link, not a peer's
 * refusal or a cancel), given the parameters. */
bool reconnect_possible(struct vmig_migration *m, int r);
/* The link broke during pre-copy: reconnects every channel within
 * p.resume_timeout_ms and sets things up to go on with pass m->pass + 1
 * (dirty bits include all the destination may lack). 0, or -errno with
 * err set (the migration then fails as it would have). */
int reconnect_after_break(struct vmig_migration *m, char *err, size_t errlen);

#endif

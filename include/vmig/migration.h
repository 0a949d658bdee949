/* SPDX-License-Identifier: MIT */
/*
 * libvmig: live migration of a guest (include/vmig/guest.h) over TCP, or
 * over connections the caller brings (any connected stream sockets: its
 * own TLS tunnel, vsock, UNIX sockets).
 *
 * Source: vmig_migration_start() runs pre-copy passes on its own thread,
 * switches over when the expected downtime fits the limit, and hands over
 * only after the destination has checked everything (READY -> GO). Until
 * GO, any failure leaves the source guest running with nothing lost.
 *
 * Destination: vmig_incoming_accept() takes a connection and its HELLO
 * (which describes the VM to create), the caller builds the VM, then
 * vmig_incoming_run() receives RAM and state, verifies the digest, and
 * resumes the guest only after GO.
 */
#ifndef VMIG_MIGRATION_H
#define VMIG_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmig/guest.h"

enum vmig_mig_status {
	VMIG_MIG_NONE,
	VMIG_MIG_SETUP,
	VMIG_MIG_ACTIVE,     /* pre-copy passes */
	VMIG_MIG_DEVICE,     /* guest paused: stop-and-copy and handover */
	VMIG_MIG_COMPLETED,
	VMIG_MIG_FAILED,
	VMIG_MIG_CANCELLED,
	/*
	 * GO went out but the destination never confirmed that the guest runs
	 * there (the link broke at handover). The guest stays paused here and
	 * the engine lets go of it: the caller must keep it until an operator
	 * knows which side runs it (resume it here, or end it here).
	 */
	VMIG_MIG_UNCONFIRMED,
	/*
	 * A channel broke or stalled during pre-copy: the guest runs on, dirty
	 * tracking goes on, and the source reconnects (resume_timeout_ms).
	 */
	VMIG_MIG_RECONNECTING,
};

VMIG_API const char *vmig_mig_status_name(enum vmig_mig_status s);

/*
 * Versioned structs: the caller sets .size = sizeof(the struct) (the
 * VMIG_*_INIT macros do), and the library reads or fills only that many
 * bytes, so a program built against an older, shorter struct keeps
 * working; new fields only ever go at the end.
 */
struct vmig_migrate_stats {
	uint32_t size;              /* sizeof(struct vmig_migrate_stats), set by the caller */
	enum vmig_mig_status status;
	char error[VMIG_MAX_ERROR];
	uint64_t total_ms;          /* start to handover (or failure) */
	uint64_t setup_ms;          /* connect + HELLO exchange */
	uint64_t downtime_ms;       /* guest paused here -> resumed there */
	int64_t guest_downtime_ms;  /* largest guest heartbeat gap across the move, -1 unknown */
	uint64_t iterations;        /* pre-copy passes, the final one included */
	uint64_t ram_bytes;         /* guest RAM size */
	uint64_t wire_bytes;        /* bytes on the wire, all channels, both ways */
	uint64_t pages_normal, pages_zero;   /* normal: sent whole (raw or compressed) */
	uint64_t pages_xbzrle;               /* sent as XBZRLE deltas */
	uint64_t pages_compressed;           /* normal pages that went compressed */
	uint64_t bytes_before_compression, bytes_after_compression;
	uint64_t xbzrle_hits, xbzrle_misses, xbzrle_overflows, xbzrle_bytes_saved;
	double compress_cpu_s;               /* offload engine CPU time, this side */
	double dest_decompress_cpu_s;        /* reported by the destination */
	char accel[160];                     /* accelerator in use, or "" */
	unsigned nr_channels;                /* data channels (0: pages on the main one) */
	uint64_t channel_bytes[VMIG_MAX_DATA_CHANNELS]; /* bytes sent on each data channel */
	char codec[16];
	uint64_t pages_this_pass, pages_sent_this_pass;
	uint64_t remaining_bytes;   /* this pass's dirty RAM not yet sent */
	double throughput_mibs;     /* average payload rate */
	double bandwidth_mibs;      /* last pass */
	double dirty_rate_mibs;     /* last pass */
	uint64_t expected_downtime_ms;
	bool verified;              /* destination checked the RAM digest */
	unsigned throttle_pct;      /* vCPU throttle in force now (0: none) */
	unsigned throttle_steps;    /* times the throttle changed (auto-converge: raised) */
	/* Policy (VMIG_POLICY_AUTO): what it chose and changed, and why. */
	char policy[8];             /* "auto" or "fixed" */
	unsigned nr_decisions;      /* in decisions[], the first VMIG_MAX_DECISIONS */
	struct vmig_decision {
		uint64_t t_ms, pass;
		char change[64];
		char reason[160];
	} decisions[VMIG_MAX_DECISIONS];
	char throttle_mode[16];     /* "auto-converge", "dirty-rate", "dirty-limit"; "": none */
	/* TLS on the main channel: "" without; else protocol, cipher,
	 * "x509" or "psk", and which path sends: "kernel TLS" or "userspace". */
	char tls[96];
	/* Resume after a broken link (resume_timeout_ms): tries to reconnect
	 * so far, all outages together, and the time they cost. */
	uint64_t reconnect_attempts;
	uint64_t reconnect_ms;
	uint64_t resumes;           /* outages the migration came back from */
	/* Data channels carrying pages now, of nr_channels connected: the
	 * auto policy's re-plan turns it (nr_channels when fixed or pinned;
	 * 1 without data channels: the main one). */
	unsigned active_channels;
	/* The codec's level in force now, in the codec's own numbering (zstd
	 * 1..19): the auto policy raises zstd's when the link is the limit. */
	int level;
};
#define VMIG_MIGRATE_STATS_INIT {.size = sizeof(struct vmig_migrate_stats)}

/* Defaults of vmig_migrate_params and vmig_incoming_params left 0. */
#define VMIG_DOWNTIME_LIMIT_DEFAULT_MS 300
#define VMIG_IO_TIMEOUT_DEFAULT_MS 5000

struct vmig_migrate_params {
	uint32_t size;              /* sizeof(struct vmig_migrate_params), set by the caller */
	const char *uri;            /* tcp:HOST:PORT; or NULL with fds */
	/*
	 * Connections the caller opened instead of uri: fds[0] the main one,
	 * fds[1..nr_fds-1] the data channels (nr_fds - 1 of them; .channels
	 * must then be 0 or equal). Connected stream sockets; the library
	 * makes them non-blocking and closes them when the migration ends.
	 */
	const int *fds;
	unsigned nr_fds;
	uint64_t downtime_limit_ms; /* default VMIG_DOWNTIME_LIMIT_DEFAULT_MS */
	uint64_t max_bandwidth;     /* bytes/s, 0 = unlimited */
	uint64_t timeout_ms;        /* 0 = none; then the migration is cancelled */
	int io_timeout_ms;          /* no progress for this long fails it; default VMIG_IO_TIMEOUT_DEFAULT_MS */
	unsigned channels;          /* data connections besides the main one, 0..VMIG_MAX_DATA_CHANNELS */
	const char *codec;          /* NULL/"none", "lz4", "zstd", "deflate", "qat" (deflate on QAT) */
	int level;                  /* codec level; 0: the codec's default */
	const char *accel;          /* "cpu" (default), "qat", "auto" */
	unsigned compress_threads;  /* CPU backend workers, 0: one per CPU */
	uint64_t xbzrle_cache_bytes;/* 0: XBZRLE off */
	const char *qatzip_library; /* libqatzip.so.3 to load; NULL: the system's */
	const uint8_t *vmm_config;  /* sent in HELLO for the destination VMM */
	size_t vmm_config_len;
	/*
	 * Called once, on the migration thread, when the migration ends (any
	 * status), with its final figures. It may call vmig_migration_query
	 * and vmig_migration_cancel, not vmig_migration_free (which joins that
	 * very thread). Optional.
	 */
	void (*done)(void *opaque, const struct vmig_migrate_stats *final);
	void *opaque;
	/*
	 * Auto-converge, QEMU's meaning and defaults: after a pass in which
	 * the guest dirtied more than throttle_trigger_pct of what was sent
	 * (the second time since the last step), throttle its vCPUs to
	 * throttle_initial_pct, then throttle_increment_pct more each time
	 * (tail-slow: only what the measured excess needs), up to
	 * throttle_max_pct. Needs the guest's throttle op. 0: the default.
	 */
	bool auto_converge;
	unsigned throttle_trigger_pct;   /* default 50 */
	unsigned throttle_initial_pct;   /* default 20 */
	unsigned throttle_increment_pct; /* default 10 */
	unsigned throttle_max_pct;       /* default 99 */
	bool throttle_tailslow;
	/*
	 * VMIG_POLICY_AUTO: the engine picks codec and level, compression
	 * threads, data channels, XBZRLE and auto-converge from both hosts'
	 * spare CPU and memory, a sample of the guest's pages and, after each
	 * pass, the measured link; the knobs in `pinned` (VMIG_PIN_*) keep the
	 * values given here. VMIG_POLICY_FIXED (0): the parameters as given.
	 */
	enum vmig_policy { VMIG_POLICY_FIXED = 0, VMIG_POLICY_AUTO = 1 } policy;
	unsigned pinned;
	/*
	 * QAT on a host where it has no device: "none" fails the migration,
	 * "qatzip" lets QATzip compress in software (sw_backup=1; slow), "cpu"
	 * (NULL, the default) uses vmig's own CPU deflate. The stats'
	 * accelerator says which ran.
	 */
	const char *qat_fallback;
	/* QATzip's own stderr log: "none" (NULL, default), "error", "warning", "info", "debug" */
	const char *qatzip_log;
	/*
	 * How auto-converge throttles: VMIG_THROTTLE_STEPS (0), the steps
	 * above; VMIG_THROTTLE_DIRTY_RATE, the share computed from each pass's
	 * measured dirty rate and link rate that makes the next pass shrink,
	 * corrected every pass, up to throttle_max_pct. VMIG_POLICY_AUTO picks
	 * dirty-rate unless VMIG_PIN_CONVERGE.
	 */
	enum vmig_throttle_mode { VMIG_THROTTLE_STEPS = 0, VMIG_THROTTLE_DIRTY_RATE = 1 } throttle_mode;
	/* Bytes/s: hold the guest's dirty rate to this from the first pass on,
	 * by the dirty-rate controller, whatever the link (needs the guest's
	 * throttle op). 0: no limit. */
	uint64_t dirty_limit;
	/* Where this host's figures for the planner are read: a prefix for
	 * /proc and /sys/fs/cgroup (as in vmig_incoming_params); NULL: the
	 * real ones. Read when the migration starts (or plans) only. */
	const char *host_probe_root;
	/*
	 * TLS 1.3 on every connection (docs/libvmig.md), one of:
	 * tls_creds_dir, X.509 in QEMU's layout (ca-cert.pem, client-cert.pem,
	 * client-key.pem used here), the destination's certificate checked
	 * against tls_hostname (default: the host of uri; required with fds);
	 * tls_psk_file, a TLS 1.3 external pre-shared key, one line
	 * "IDENTITY:HEXKEY". Files are read in vmig_migration_start. With TLS,
	 * record checks and the RAM digest are keyed by the session.
	 */
	const char *tls_creds_dir;
	const char *tls_psk_file;
	const char *tls_hostname;
	/*
	 * A channel that breaks or stalls before the guest is paused for the
	 * handover does not fail the migration: the guest keeps running, and
	 * all channels reconnect to uri (backoff 100 ms doubling to 2 s) for
	 * up to this long, resume the session and send what the destination
	 * may not hold. 0: no resume, a broken link fails at once. Needs uri
	 * (connections the caller brought cannot be reopened).
	 */
	uint64_t resume_timeout_ms;
};
#define VMIG_PIN_CODEC (1u << 0)     /* codec and accel */
#define VMIG_PIN_LEVEL (1u << 1)
#define VMIG_PIN_THREADS (1u << 2)   /* compress_threads */
#define VMIG_PIN_CHANNELS (1u << 3)
#define VMIG_PIN_XBZRLE (1u << 4)    /* xbzrle_cache_bytes */
#define VMIG_PIN_CONVERGE (1u << 5)  /* auto_converge and its settings */
#define VMIG_MIGRATE_PARAMS_INIT {.size = sizeof(struct vmig_migrate_params)}

struct vmig_migration;

/*
 * Starts migrating guest on a thread of its own; returns at once. The
 * guest ops are called from the library's threads (the migration thread
 * and one per data channel), never two of pause/resume/save/load at once.
 * On failure *out is untouched and err says why.
 */
VMIG_API int vmig_migration_start(const struct vmig_guest *guest,
				  const struct vmig_migrate_params *p, struct vmig_migration **out,
				  char *err, size_t errlen);
/* What --policy auto would start with, and why (vmig_migration_plan). */
struct vmig_migrate_plan {
	uint32_t size;              /* sizeof(struct vmig_migrate_plan), set by the caller */
	char codec[16];
	int level;                  /* 0: the codec's default */
	unsigned threads, channels;
	uint64_t xbzrle_cache_bytes;
	bool auto_converge;
	double ram_mibs;            /* RAM it expects to move per second */
	uint64_t first_pass_ms;     /* expected time of the first pass (all of RAM) */
	char reason[VMIG_MAX_ERROR];
	/* appended: how a guest that outruns the link is slowed down,
	 * as vmig_migrate_stats.throttle_mode ("": never) */
	char throttle_mode[16];
	uint64_t dirty_limit;       /* bytes/s the guest may dirty from the first pass; 0: none */
};
#define VMIG_MIGRATE_PLAN_INIT {.size = sizeof(struct vmig_migrate_plan)}

/*
 * Samples this host and the guest's memory and plans a migration with p
 * as vmig_migration_start would under VMIG_POLICY_AUTO, without connecting
 * anywhere or touching the guest's run state; takes about 100 ms.
 */
VMIG_API int vmig_migration_plan(const struct vmig_guest *guest,
				 const struct vmig_migrate_params *p, struct vmig_migrate_plan *out,
				 char *err, size_t errlen);
/* Any thread, any time; takes effect within milliseconds. */
VMIG_API void vmig_migration_cancel(struct vmig_migration *m);
/* Any thread; s->size must be set (VMIG_MIGRATE_STATS_INIT). */
VMIG_API void vmig_migration_query(struct vmig_migration *m, struct vmig_migrate_stats *s);
/* Joins the migration thread and frees it. Not from the done callback. */
VMIG_API void vmig_migration_free(struct vmig_migration *m);

/*
 * Destination.
 *
 *   vmig_incoming_create()  takes a listening socket (vmig_incoming_listen)
 *   vmig_incoming_accept()  waits for a source: connections whose first
 *                           record is not a valid HELLO within the limits
 *                           are refused one by one and the wait goes on
 *   [vmig_incoming_refuse() the caller cannot host the VM it describes]
 *   vmig_incoming_run()     receives, verifies, resumes after GO
 *   vmig_incoming_free()
 *
 * vmig_incoming_cancel() may be called from any thread (or a signal
 * handler) at any point: the wait or migration in progress then fails with
 * -ECANCELED and the guest is never resumed here.
 */
struct vmig_incoming;

struct vmig_incoming_config {
	unsigned nr_regions;
	struct vmig_ram_region regions[VMIG_MAX_RAM_REGIONS]; /* gpa, size (host NULL) */
	const uint8_t *vmm_config;  /* valid until vmig_incoming_free */
	size_t vmm_config_len;
	char peer[128];
};

struct vmig_incoming_params {
	uint32_t size;              /* sizeof(struct vmig_incoming_params), set by the caller */
	int listen_fd;              /* listening socket, owned (closed) from here on; -1: none */
	/*
	 * Or connections the caller accepted itself (any connected stream
	 * sockets), owned from here on: each is heard like one that came to
	 * listen_fd (its first record must be the HELLO or a data channel's
	 * CHANNEL_HELLO). With no listen_fd, all the source's connections
	 * must be here.
	 */
	const int *fds;
	unsigned nr_fds;
	int accept_timeout_ms;      /* no valid source within this: -ETIMEDOUT; < 0: no limit */
	int io_timeout_ms;          /* no progress on a connection for this long fails it;
				       default VMIG_IO_TIMEOUT_DEFAULT_MS */
	uint64_t max_ram_bytes;     /* a source asking for more guest RAM is refused; 0: no limit */
	/*
	 * Optional: vets the VMM configuration carried in a HELLO before the
	 * source is accepted (nothing is allocated for it before then). Returns
	 * 0 to accept, or a negative errno with a reason in why: that source
	 * is refused with the reason and the wait goes on.
	 */
	int (*check_config)(void *opaque, const uint8_t *cfg, size_t len, char *why, size_t whylen);
	void *opaque;
	/*
	 * Decompression offload: NULL or "" decodes compressed batches on the
	 * channel threads; "cpu", "qat" or "auto" through the offload engine
	 * (a QAT source's deflate then inflates on QAT here too). The other
	 * three are as in struct vmig_migrate_params.
	 */
	const char *accel;
	const char *qatzip_library;
	const char *qat_fallback;
	const char *qatzip_log;
	/*
	 * Where this host's figures (sent to the source's planner with every
	 * pass acknowledgement) are read: a prefix for /proc and
	 * /sys/fs/cgroup, for a VMM that sees its host's under another root
	 * (a container with them mounted elsewhere). NULL: the real ones.
	 * Read during vmig_incoming_create only.
	 */
	const char *host_probe_root;
	/*
	 * TLS 1.3 required of every connection, one of: tls_creds_dir (X.509,
	 * QEMU's layout: ca-cert.pem, server-cert.pem, server-key.pem used
	 * here; the source must present a certificate of the same CA), or
	 * tls_psk_file ("IDENTITY:HEXKEY"). Read in vmig_incoming_create. A
	 * plaintext source, a wrong certificate or a wrong key is refused
	 * during the handshake, before anything is allocated for it.
	 * tls_hostname (X.509, optional): the source's certificate must carry
	 * this name, so that only that source may migrate in.
	 */
	const char *tls_creds_dir;
	const char *tls_psk_file;
	const char *tls_hostname;
	/*
	 * A link that breaks during pre-copy: keep guest RAM and wait this
	 * long on listen_fd for the same source to resume its session (others
	 * are refused meanwhile). Keeps listen_fd open until the handover.
	 * 0: no resume, the migration fails.
	 */
	uint64_t resume_timeout_ms;
};
#define VMIG_INCOMING_PARAMS_INIT {.size = sizeof(struct vmig_incoming_params), .listen_fd = -1}

struct vmig_incoming_stats {
	uint64_t pages_normal, pages_zero, pages_xbzrle, passes, wire_bytes;
	uint64_t decompress_ns;
	uint64_t total_ms;
	bool verified;
	char accel[160];            /* the offload engine that decompressed, or "" */
};

/* Listens on uri (tcp:HOST:PORT); *listen_fd is then ready for accept. */
VMIG_API int vmig_incoming_listen(const char *uri, int *listen_fd, char *err, size_t errlen);
/* Takes ownership of p->listen_fd, even on failure. */
VMIG_API int vmig_incoming_create(const struct vmig_incoming_params *p, struct vmig_incoming **out,
			 char *err, size_t errlen);
/* Waits for one source and its HELLO (which describes the VM to create). */
VMIG_API int vmig_incoming_accept(struct vmig_incoming *in, struct vmig_incoming_config *cfg, char *err,
			 size_t errlen);
/* Refuses the accepted source with a reason (e.g. the VM could not be created). */
VMIG_API void vmig_incoming_refuse(struct vmig_incoming *in, const char *why);
/*
 * Receives into guest, which must have the regions of cfg. Returns 0 once
 * the guest runs here (after GO); on failure the guest has not run and the
 * caller discards it.
 */
VMIG_API int vmig_incoming_run(struct vmig_incoming *in, const struct vmig_guest *guest,
		      struct vmig_incoming_stats *stats, char *err, size_t errlen);
/* Async-signal-safe; any thread. */
VMIG_API void vmig_incoming_cancel(struct vmig_incoming *in);
VMIG_API void vmig_incoming_free(struct vmig_incoming *in);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * vmig's migration wire format, version 2 (docs/protocol.md).
 *
 * A stream is a sequence of records: a 16-byte header {u32 type, u32 len,
 * u64 check} then len payload bytes; check is XXH3-64 of the payload.
 * Everything is little-endian, whatever the host's byte order. Readers
 * trust nothing: every length, count and page number is checked before use.
 *
 * Every payload is built and parsed here, one encode/decode pair per
 * record type; nothing else in the engine lays out record bytes. Decoders
 * refuse a payload that is not exactly as long as its contents (short or
 * with trailing bytes). PAGES is streamed straight into guest RAM, so its
 * pairs work on its pieces (fixed part, entries, hashes, lengths), each
 * read into the receiver's own buffers.
 */
#ifndef VMIG_MIGRATION_WIRE_H
#define VMIG_MIGRATION_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "vmig/vmig.h"

#define WIRE_MAGIC 0x3147494d47494d56ull /* "VMIGMIG1" */
/* 2: host info grew usable CPUs and flags, SYNC_ACK carries it too.
 * 3: HELLO may resume a session (WIRE_FEATURE_RESUME), HELLO_ACK ends
 * with the last pass the destination holds completely. */
#define WIRE_VERSION 3
/* HELLO features: this HELLO resumes session `session` after a broken
 * link (same VM, same channels); no other bit is defined. */
#define WIRE_FEATURE_RESUME (1ull << 0)
#define WIRE_FEATURES_KNOWN WIRE_FEATURE_RESUME
/* HELLO_ACK features (a source ignores bits it does not know): this
 * destination lets a data channel stay silent for whole passes and calls
 * it stalled only when no data channel hears anything within the I/O
 * timeout, so the source may leave channels out of passes. */
#define WIRE_ACK_FEATURE_QUIET_CHANNELS (1ull << 0)
#define WIRE_HDR_SIZE 16               /* u32 type, u32 len, u64 check */
#define WIRE_PAGE_SIZE 4096            /* the only page size HELLO may name */

/* Limits: the one place they are defined. */
#define WIRE_MAX_PAYLOAD (16u << 20)   /* any record's len */
#define WIRE_MAX_PAGES_PER_BATCH 1024  /* PAGES count */
#define WIRE_MAX_STRING 1024           /* HELLO_ACK and ERROR text, with its NUL */
#define WIRE_MAX_REGIONS 4             /* HELLO nr_regions */
#define WIRE_MAX_CHANNELS VMIG_MAX_DATA_CHANNELS /* HELLO nr_channels */

/* Payload sizes of the fixed-size records (their decoders want exactly these). */
#define WIRE_CHANNEL_HELLO_SIZE 12     /* u64 session, u32 index */
#define WIRE_SYNC_SIZE 16              /* u64 pass, u64 reserved */
#define WIRE_HOST_INFO_SIZE 32         /* struct wire_host_info */
#define WIRE_SYNC_ACK_SIZE (8 + WIRE_HOST_INFO_SIZE) /* u64 pass, host info */
#define WIRE_DIGEST_SIZE 24            /* u64 digest, u64 total pages, u64 final pass */
#define WIRE_ALIVE_SIZE 16             /* u64 first heartbeat ns, u64 decompress CPU ns */
#define WIRE_ERROR_FIXED_SIZE 8        /* u32 code, u32 n; then n bytes */

/* Pieces of a PAGES payload. */
#define WIRE_PAGES_FIXED_SIZE 16       /* u64 pass, u32 count, u32 codec */
#define WIRE_PAGES_ITEM_SIZE 8         /* one entry or one hash: u64 */
#define WIRE_PAGES_LEN_SIZE 4          /* xbz_len, comp_len: u32 */
#define WIRE_XBZ_DELTA_HDR_SIZE 2      /* u16 n before each XBZRLE delta */
/* The smallest PAGES payload: fixed part and xbz_len. */
#define WIRE_PAGES_MIN_SIZE (WIRE_PAGES_FIXED_SIZE + WIRE_PAGES_LEN_SIZE)
/* The largest XBZRLE section: a whole-page delta for every page. */
#define WIRE_MAX_XBZ_SECTION \
	((size_t)WIRE_MAX_PAGES_PER_BATCH * (WIRE_XBZ_DELTA_HDR_SIZE + WIRE_PAGE_SIZE))

enum wire_type {
	REC_HELLO = 0x01,     /* S->D: versions, features, host info, VM config */
	REC_HELLO_ACK = 0x02, /* D->S: accepted (or refused with a reason), host info */
	REC_CHANNEL_HELLO = 0x03, /* S->D, first on a data channel: u64 session, u32 index */
	REC_PAGES = 0x10,     /* S->D: a batch of pages */
	REC_SYNC = 0x11,      /* S->D: end of a pass */
	REC_SYNC_ACK = 0x12,  /* D->S: everything up to that SYNC is in guest RAM */
	REC_CHANNEL_END = 0x13, /* S->D: nothing more on this data channel */
	REC_STATE = 0x20,     /* S->D: CPU and device state (opaque VMM blob) */
	REC_DIGEST = 0x21,    /* S->D: digest of all guest RAM */
	REC_COMPLETE = 0x22,  /* S->D: nothing more before READY */
	REC_READY = 0x30,     /* D->S: state loaded, digest matches, not running */
	REC_GO = 0x31,        /* S->D: resume now; the source will never run again */
	REC_RESUMED = 0x32,   /* D->S: vCPUs started */
	REC_ALIVE = 0x33,     /* D->S: first sign of guest life after resume */
	REC_ERROR = 0x3f,     /* either way: abort, with a reason */
};

/* Page entry in REC_PAGES: page number (global, over all regions) << 2 | kind. */
#define WIRE_KIND_NORMAL 0u
#define WIRE_KIND_ZERO 1u
#define WIRE_KIND_XBZRLE 2u
#define WIRE_KIND_MASK 3u

static inline uint64_t wire_page_entry(uint64_t index, unsigned kind)
{
	return index << 2 | kind;
}

static inline uint64_t wire_entry_index(uint64_t entry)
{
	return entry >> 2;
}

static inline unsigned wire_entry_kind(uint64_t entry)
{
	return (unsigned)(entry & WIRE_KIND_MASK);
}

struct wire_hdr {
	uint32_t type;
	uint32_t len;
	uint64_t check;
};

/*
 * A host's spare CPU and memory, as its own probe measured them for this
 * process (src/host/probe.h): policy input, in HELLO, HELLO_ACK and
 * every SYNC_ACK. 0 means unknown. Spare CPUs = usable_cpus_milli *
 * cpu_idle_permille / 1e6. Decoders check the ranges noted.
 */
#define WIRE_HOST_IDLE (1u << 0)      /* cpu_idle_permille was measured (else it is 0) */
#define WIRE_HOST_CPU_QUOTA (1u << 1) /* a cgroup CPU quota caps usable_cpus_milli */
#define WIRE_HOST_MEM_LIMIT (1u << 2) /* a cgroup memory limit caps the memory figures */
#define WIRE_HOST_FLAGS (WIRE_HOST_IDLE | WIRE_HOST_CPU_QUOTA | WIRE_HOST_MEM_LIMIT)
#define WIRE_MAX_HOST_CPUS 65536

struct wire_host_info {
	uint32_t ncpus;             /* CPUs it may run on (affinity), <= WIRE_MAX_HOST_CPUS */
	uint32_t usable_cpus_milli; /* ncpus capped by a CPU quota, in thousandths; <= ncpus * 1000 */
	uint32_t cpu_idle_permille; /* share of the usable CPUs left idle lately; <= 1000 */
	uint32_t flags;             /* WIRE_HOST_*, no other bit */
	uint64_t mem_free_bytes;    /* it could still get: MemAvailable capped by cgroup headroom */
	uint64_t mem_total_bytes;   /* MemTotal capped by a cgroup limit; >= mem_free_bytes if known */
};

struct wire_region {
	uint64_t gpa;
	uint64_t size;
};

struct wire_hello {
	uint64_t magic;
	uint32_t version;
	uint32_t nr_channels; /* data channels besides this one */
	uint64_t features;
	uint64_t session;     /* data channels quote it in CHANNEL_HELLO */
	struct wire_host_info host;
	uint32_t page_size;
	uint32_t nr_regions;
	struct wire_region regions[WIRE_MAX_REGIONS];
	const uint8_t *vmm_config; /* opaque, points into the record */
	uint32_t vmm_config_len;
};

struct wire_hello_ack {
	uint32_t version;
	uint32_t status; /* 0: accepted */
	uint64_t features;
	struct wire_host_info host;
	char message[WIRE_MAX_STRING];
	/* Resumed session: the last pass every page stream closed (SYNC)
	 * here; the source goes on from the pass after it. 0 otherwise. */
	uint64_t resume_pass;
	/* And per page stream, how far pass resume_pass + 1 arrived whole:
	 * the page index after the last entry of its last PAGES record
	 * applied (UINT64_MAX: the stream closed that pass). Each stream
	 * sends its pages in increasing order within a pass. */
	uint32_t nr_progress;       /* 0, or the number of page streams */
	uint64_t progress[WIRE_MAX_CHANNELS];
};

struct wire_channel_hello {
	uint64_t session; /* HELLO's */
	uint32_t index;   /* 0..nr_channels-1 */
};

struct wire_sync {
	uint64_t pass;
	uint64_t reserved; /* sent as 0, ignored */
};

struct wire_sync_ack {
	uint64_t pass;
	struct wire_host_info host; /* the destination's latest figures */
};

struct wire_digest {
	uint64_t digest;      /* XXH3-64 of the per-page hash table */
	uint64_t total_pages;
	uint64_t final_pass;  /* the destination waits until every stream has applied it */
};

struct wire_alive {
	uint64_t first_alive_ns; /* CLOCK_REALTIME of the first heartbeat after resume; 0: none */
	uint64_t decompress_ns;  /* CPU time the destination spent decompressing */
};

/* PAGES fixed part. */
struct wire_pages_fixed {
	uint64_t pass;
	uint32_t count; /* entries */
	uint32_t codec; /* enum codec_id */
};

const char *wire_type_name(uint32_t type);
/* A record type this version knows. */
bool wire_type_known(uint32_t type);
uint64_t wire_checksum(const void *p, size_t n);

/*
 * With TLS, record checks and the RAM digest are keyed: XXH3 with a secret
 * exported from the channel's TLS session (docs/protocol.md, "Keyed
 * integrity"), so records and digests bind to that one session. NULL
 * key: plain XXH3, as without TLS.
 */
#define WIRE_KEY_SIZE 192 /* an XXH3 secret: at least XXH3_SECRET_SIZE_MIN (136) */
struct wire_key {
	uint8_t secret[WIRE_KEY_SIZE];
};
uint64_t wire_checksum_keyed(const struct wire_key *k, const void *p, size_t n);
/* Starts a streamed record check (XXH3 state), keyed by k if set. */
struct XXH3_state_s;
void wire_check_reset(struct XXH3_state_s *st, const struct wire_key *k);

/* Writes a record header. */
void wire_encode_hdr(uint8_t hdr[WIRE_HDR_SIZE], uint32_t type, size_t payload_len, uint64_t check);
/* Reads a header's fields, checking nothing (tools that walk streams);
 * receivers use wire_parse_hdr. */
void wire_decode_hdr(const uint8_t raw[WIRE_HDR_SIZE], struct wire_hdr *h);

/* Appends a whole record (header + payload) to out. */
void wire_put_record(struct vbuf *out, uint32_t type, const void *payload, size_t len);

/* Header of a record whose payload is already in buf[WIRE_HDR_SIZE..]. */
void wire_finish_record(uint8_t *buf, uint32_t type, size_t payload_len);

/* Reads a header and checks the type is known and len <= WIRE_MAX_PAYLOAD. */
int wire_parse_hdr(const uint8_t raw[WIRE_HDR_SIZE], struct wire_hdr *h, char *err, size_t errlen);
int wire_check_payload(const struct wire_hdr *h, const uint8_t *payload, char *err, size_t errlen);
/* The same with the check keyed by k (NULL: plain). */
int wire_check_payload_keyed(const struct wire_hdr *h, const uint8_t *payload,
			     const struct wire_key *k, char *err, size_t errlen);

/* Host info: the fixed 32 bytes HELLO, HELLO_ACK and SYNC_ACK carry. The
 * decoder wants exactly WIRE_HOST_INFO_SIZE bytes and checks the ranges
 * (wire_check_host_info); its message names the fault, not the record. */
void wire_encode_host_info(uint8_t out[WIRE_HOST_INFO_SIZE], const struct wire_host_info *hi);
int wire_decode_host_info(const uint8_t *p, size_t n, struct wire_host_info *hi, char *err,
			  size_t errlen);
int wire_check_host_info(const struct wire_host_info *hi, char *err, size_t errlen);

void wire_encode_hello(struct vbuf *payload, const struct wire_hello *h);
int wire_decode_hello(const uint8_t *p, size_t n, struct wire_hello *h, char *err, size_t errlen);
void wire_encode_hello_ack(struct vbuf *payload, const struct wire_hello_ack *a);
int wire_decode_hello_ack(const uint8_t *p, size_t n, struct wire_hello_ack *a, char *err,
			  size_t errlen);
/* REC_ERROR payload: u32 code, u32 len, text (at most WIRE_MAX_STRING - 1 bytes). */
void wire_encode_error(struct vbuf *payload, int code, const char *msg);
/* Always leaves a printable message in msg (non-printable bytes become '?',
 * a malformed record "(malformed error record)", then -EPROTO); the code
 * in *code unless code is NULL. */
int wire_decode_error(const uint8_t *p, size_t n, int *code, char *msg, size_t msglen);

/* Fixed-size records. Decoders refuse any other length, with a message. */
void wire_encode_channel_hello(uint8_t out[WIRE_CHANNEL_HELLO_SIZE],
			       const struct wire_channel_hello *c);
int wire_decode_channel_hello(const uint8_t *p, size_t n, struct wire_channel_hello *c, char *err,
			      size_t errlen);
void wire_encode_sync(uint8_t out[WIRE_SYNC_SIZE], const struct wire_sync *s);
int wire_decode_sync(const uint8_t *p, size_t n, struct wire_sync *s, char *err, size_t errlen);
void wire_encode_sync_ack(uint8_t out[WIRE_SYNC_ACK_SIZE], const struct wire_sync_ack *a);
int wire_decode_sync_ack(const uint8_t *p, size_t n, struct wire_sync_ack *a, char *err,
			 size_t errlen);
void wire_encode_digest(uint8_t out[WIRE_DIGEST_SIZE], const struct wire_digest *d);
int wire_decode_digest(const uint8_t *p, size_t n, struct wire_digest *d, char *err, size_t errlen);
void wire_encode_alive(uint8_t out[WIRE_ALIVE_SIZE], const struct wire_alive *a);
int wire_decode_alive(const uint8_t *p, size_t n, struct wire_alive *a, char *err, size_t errlen);

/* REC_STATE is the VMM's opaque blob, sent as it is: only its length is
 * the protocol's (at most WIRE_MAX_PAYLOAD). For both sides. */
int wire_check_state_len(size_t len, char *err, size_t errlen);

/*
 * REC_PAGES, piece by piece (layout in docs/protocol.md):
 *   fixed part | count entries | a hash per non-zero page | xbz_len, XBZRLE
 *   section (u16 n + delta, per XBZRLE entry) | page data, raw or comp_len +
 *   compressed bytes.
 * Entries and hashes are arrays of u64 converted in place: encode turns
 * count host values into wire bytes (out may be v itself), decode turns n
 * wire bytes into count host values (p may be v itself) and refuses n !=
 * count * 8. The record check (XXH3-64 over fixed part, entries and hashes
 * as sent) is taken over the wire bytes.
 */
void wire_encode_pages_fixed(uint8_t out[WIRE_PAGES_FIXED_SIZE], const struct wire_pages_fixed *f);
int wire_decode_pages_fixed(const uint8_t *p, size_t n, struct wire_pages_fixed *f, char *err,
			    size_t errlen);
void wire_encode_pages_entries(void *out, const uint64_t *v, size_t count);
int wire_decode_pages_entries(const void *p, size_t n, uint64_t *v, size_t count, char *err,
			      size_t errlen);
void wire_encode_pages_hashes(void *out, const uint64_t *v, size_t count);
int wire_decode_pages_hashes(const void *p, size_t n, uint64_t *v, size_t count, char *err,
			     size_t errlen);
/* xbz_len and comp_len. */
void wire_encode_pages_len(uint8_t out[WIRE_PAGES_LEN_SIZE], uint32_t len);
int wire_decode_pages_len(const uint8_t *p, size_t n, uint32_t *len, char *err, size_t errlen);
/* The u16 length before each XBZRLE delta. */
void wire_encode_xbz_delta_len(uint8_t out[WIRE_XBZ_DELTA_HDR_SIZE], uint16_t len);
int wire_decode_xbz_delta_len(const uint8_t *p, size_t n, uint16_t *len, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * vmig's migration wire format, version 1 (docs/protocol.md).
 *
 * A stream is a sequence of records: a 16-byte header {u32 type, u32 len,
 * u64 check} then len payload bytes; check is XXH3-64 of the payload.
 * Everything is little-endian. Readers trust nothing: every length, count
 * and page number is checked before use.
 */
#ifndef VMIG_MIGRATION_WIRE_H
#define VMIG_MIGRATION_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define WIRE_MAGIC 0x3147494d47494d56ull /* "VMIGMIG1" */
#define WIRE_VERSION 1
#define WIRE_HDR_SIZE 16
#define WIRE_MAX_PAYLOAD (16u << 20)
#define WIRE_MAX_PAGES_PER_BATCH 1024
#define WIRE_MAX_STRING 1024
#define WIRE_MAX_REGIONS 4
#define WIRE_MAX_CHANNELS 16

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

struct wire_hdr {
	uint32_t type;
	uint32_t len;
	uint64_t check;
};

struct wire_host_info {
	uint32_t ncpus;
	uint32_t cpu_idle_permille; /* over the last second, 0..1000 */
	uint64_t mem_free_bytes;
	uint64_t mem_total_bytes;
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
};

const char *wire_type_name(uint32_t type);
uint64_t wire_checksum(const void *p, size_t n);

/* Writes a record header. */
void wire_encode_hdr(uint8_t hdr[WIRE_HDR_SIZE], uint32_t type, size_t payload_len, uint64_t check);

/* Appends a whole record (header + payload) to out. */
void wire_put_record(struct vbuf *out, uint32_t type, const void *payload, size_t len);

/* Header of a record whose payload is already in buf[WIRE_HDR_SIZE..]. */
void wire_finish_record(uint8_t *buf, uint32_t type, size_t payload_len);

int wire_parse_hdr(const uint8_t raw[WIRE_HDR_SIZE], struct wire_hdr *h, char *err, size_t errlen);
int wire_check_payload(const struct wire_hdr *h, const uint8_t *payload, char *err, size_t errlen);

void wire_encode_hello(struct vbuf *payload, const struct wire_hello *h);
int wire_decode_hello(const uint8_t *p, size_t n, struct wire_hello *h, char *err, size_t errlen);
void wire_encode_hello_ack(struct vbuf *payload, const struct wire_hello_ack *a);
int wire_decode_hello_ack(const uint8_t *p, size_t n, struct wire_hello_ack *a, char *err,
			  size_t errlen);
/* REC_ERROR payload: u32 code, u32 len, text. */
void wire_encode_error(struct vbuf *payload, int code, const char *msg);
void wire_decode_error(const uint8_t *p, size_t n, char *msg, size_t msglen);

#endif

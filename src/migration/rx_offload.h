/* SPDX-License-Identifier: MIT */
/*
 * Decompression offload on the destination: the receiver's channel threads
 * hand compressed batches to the offload engine (QAT or CPU workers)
 * instead of decoding them themselves, when the destination asked for it
 * (vmig_incoming_params.accel, `vmig run --incoming ... --accel`).
 */
#ifndef VMIG_RX_OFFLOAD_H
#define VMIG_RX_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "vmig/migration.h"

/* The engine p asks for, or *out NULL when it asks for none. 0, or -errno and err. */
int rx_offload_open(const struct vmig_incoming_params *p, struct accel **out, char *err,
		    size_t errlen);

/*
 * Decodes one batch through the engine, on the caller's queue, and waits
 * for it: 0 with exactly expected_len bytes in dst, or a negative errno
 * (-EBADMSG: the data does not decode to that size).
 */
int rx_offload_decompress(struct accel *a, struct accel_queue *q, enum codec_id codec,
			  const void *src, size_t src_len, void *dst, size_t dst_cap,
			  size_t expected_len);

/* accel_describe, and how many QAT jobs went to the CPU codec instead, if any. */
void rx_offload_describe(struct accel *a, char *buf, size_t len);

/* CPU time the engine's workers spent decompressing (0 without one). */
uint64_t rx_offload_decompress_ns(struct accel *a);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * How many of the connected data channels carry pages, changed between
 * passes (the auto policy's channel knob, policy/channels.h). Every
 * channel stays connected and closes every pass with a SYNC, so the
 * destination, the acceptor and resume see the same channels as ever and
 * the wire format does not change; only which chunks go where does
 * (chunk c on channel c mod active).
 */
#ifndef VMIG_MIGRATION_ACTIVE_CHANNELS_H
#define VMIG_MIGRATION_ACTIVE_CHANNELS_H

#include <stddef.h>
#include <stdint.h>

struct vmig_migration;

/* After HELLO_ACK, before the data channels connect: a destination that
 * does not let channels stay silent (no WIRE_ACK_FEATURE_QUIET_CHANNELS)
 * gets pages on all of them, for good. */
void active_channels_after_hello(struct vmig_migration *m, uint64_t ack_features);

/* Bytes/s each data channel may send: the cap shared by those in use. */
uint64_t active_channels_bandwidth(const struct vmig_migration *m);

/*
 * Between passes: pages go on n channels (1..nr_streams) from the next
 * pass on. A page moving to another channel must not overtake its last
 * version on the old one, so this first waits until the destination
 * acknowledged the last pass on every channel (everything before it is in
 * its RAM). XBZRLE caches start over (their keys follow the chunk
 * layout), and the bandwidth cap is shared out again. 0, or the error of
 * that wait (nothing changed then).
 */
int active_channels_set(struct vmig_migration *m, unsigned n, char *err, size_t errlen);

#endif
